"""Dark and light themes fit for a control room: Fusion style, a palette, a little QSS.

The dark theme is the default: control rooms are dim, and a bright screen at 3 a.m. hurts.
Status colours (late, at risk, offline) keep the same hue in both themes.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("dark", "light")

STATUS_COLOURS = {
    "late": "#e5484d",
    "at_risk": "#f5a524",
    "on_time": "#30a46c",
    "offline": "#8b8d98",
    "idle": "#6e56cf",
    "done": "#5b8def",
}

_DARK = {
    QPalette.ColorRole.Window: "#1b1e24",
    QPalette.ColorRole.WindowText: "#e6e8eb",
    QPalette.ColorRole.Base: "#15171c",
    QPalette.ColorRole.AlternateBase: "#20242b",
    QPalette.ColorRole.ToolTipBase: "#2a2f38",
    QPalette.ColorRole.ToolTipText: "#e6e8eb",
    QPalette.ColorRole.PlaceholderText: "#8b8d98",
    QPalette.ColorRole.Text: "#e6e8eb",
    QPalette.ColorRole.Button: "#242830",
    QPalette.ColorRole.ButtonText: "#e6e8eb",
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: "#2f6fde",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6aa0ff",
}

_LIGHT = {
    QPalette.ColorRole.Window: "#f3f4f6",
    QPalette.ColorRole.WindowText: "#1b1e24",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f0f2f5",
    QPalette.ColorRole.ToolTipBase: "#ffffff",
    QPalette.ColorRole.ToolTipText: "#1b1e24",
    QPalette.ColorRole.PlaceholderText: "#6b6f7a",
    QPalette.ColorRole.Text: "#1b1e24",
    QPalette.ColorRole.Button: "#e8eaee",
    QPalette.ColorRole.ButtonText: "#1b1e24",
    QPalette.ColorRole.BrightText: "#000000",
    QPalette.ColorRole.Highlight: "#2f6fde",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#1d4fb8",
}

_QSS = """
QDockWidget::title { padding: 4px 8px; font-weight: 600; }
QStatusBar QLabel { padding: 0 8px; }
QLabel#placeholder { color: palette(placeholder-text); font-size: 13px; padding: 24px; }
QTreeView { selection-background-color: palette(highlight); }
"""


def apply_theme(app: QApplication, name: str) -> str:
    """Apply theme ``name`` (unknown names fall back to dark); returns the applied name."""
    name = name if name in THEMES else "dark"
    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in (_DARK if name == "dark" else _LIGHT).items():
        palette.setColor(role, QColor(colour))
    disabled = QColor("#6b6f7a")
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    app.setPalette(palette)
    app.setStyleSheet(_QSS)
    app.setProperty("dispatcherTheme", name)
    return name
