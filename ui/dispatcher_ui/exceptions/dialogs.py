"""Small questions the queue asks: a note, a resolution code."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLineEdit,
    QWidget,
)

from dispatcher.model.alerts import Alert, ResolutionCode


def ask_note(parent: QWidget, title: str, prompt: str) -> str | None:
    """A one-line note; None when cancelled."""
    text, ok = QInputDialog.getText(parent, title, prompt)
    return text if ok else None


def ask_resolution(parent: QWidget, alert: Alert) -> tuple[ResolutionCode, str] | None:
    """How the alert was handled (a person's codes only) and a note; None when cancelled."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(f"Resolve exception #{alert.id}")
    form = QFormLayout(dialog)
    codes = QComboBox()
    for code in ResolutionCode:
        if not code.system_only:
            codes.addItem(code.value.replace("_", " ").capitalize(), code)
    note = QLineEdit()
    note.setPlaceholderText("What was done (needed for 'Other')")
    form.addRow("Resolution", codes)
    form.addRow("Note", note)
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    # A StrEnum is a str: PySide6 6.12 hands the item data back as a plain string.
    return ResolutionCode(codes.currentData()), note.text()
