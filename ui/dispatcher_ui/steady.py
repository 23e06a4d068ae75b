"""Labels whose text changes every tick without re-running the window's layout.

A ``QLabel`` whose text changes asks its parent's layout again (``updateGeometry``) unless its
width is fixed; in the status bar that layout sets the bar's minimum size, which runs the
main window's own layout over every dock. The clock and the broker's message rate change
five times a second, and their width with them ("10:31:11" is wider than "10:31:08" in a
proportional font): the main window's layout ran five times a second (bench/console.py).
:func:`set_steady_text` keeps such a label at a fixed width that only grows (or shrinks when
the text has become much shorter), so a tick's new text repaints the label and nothing else.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

#: A label shrinks back only when its text needs less than this share of its width.
SHRINK_BELOW = 0.6


def set_steady_text(label: QLabel, text: str) -> bool:
    """Show ``text``; False when it was already shown (nothing is repainted then)."""
    if label.text() == text:
        return False
    label.setText(text)
    # Measured from the font: a label of fixed width says that width as its size hint.
    margins = label.contentsMargins()
    need = (
        label.fontMetrics().horizontalAdvance(text)
        + 2 * label.margin()
        + margins.left()
        + margins.right()
        + 2  # the text's own side bearings
    )
    fixed = label.minimumWidth() == label.maximumWidth()
    width = label.maximumWidth()
    if not fixed or need > width or need < width * SHRINK_BELOW:
        label.setFixedWidth(need)
    return True
