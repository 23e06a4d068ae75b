"""The question a route change that breaks a constraint asks before it is made.

A drag on the route board asks "Drop anyway?" (:meth:`VehicleBoard.confirm_drop`); a keyboard
move (Alt+Up / Alt+Down), *Move stops to vehicle* and *Unassign* ask "Move anyway?" here, over
the same check (:meth:`dispatcher.planning.desk.RouteDesk.drop_violations`). Every rule is a
question, none a refusal, as for the drop: the dispatcher may know what the plan does not
(the cold box is in that van today). The default answer keeps the plan, so Enter or Escape
on the question moves nothing; Alt+M (or a click) moves anyway.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

#: The question's object name (tests and the walkthrough find it by it).
OBJECT_NAME = "confirmMove"


def confirm_move(parent: QWidget, problems: list[str]) -> bool:
    """Ask before a move that would break ``problems``; True only for "Move anyway"."""
    box = QMessageBox(parent)
    box.setObjectName(OBJECT_NAME)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Move anyway?")
    box.setText("This move would break:")
    box.setInformativeText("\n".join(f"• {p}" for p in problems))
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    box.button(QMessageBox.StandardButton.Yes).setText("&Move anyway")
    return box.exec() == QMessageBox.StandardButton.Yes
