"""Urgent order insertion: the best vehicles and positions for one stop, one click to accept.

Suggestions come from :func:`dispatcher.planning.suggest_insertions` (ranked by "keeps the day
on time", then added lateness, then added time); accepting one is a core
:class:`~dispatcher.planning.MoveToVehicle` command, undoable like any drag. A place that
would break a constraint says so in its row, and accepting it asks "Move anyway?" over the
same check as a drop (:meth:`~dispatcher.planning.desk.RouteDesk.drop_violations`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QTableWidget, QVBoxLayout

from dispatcher import display
from dispatcher.errors import ValidationError
from dispatcher.planning import InsertionSuggestion, MoveToVehicle
from dispatcher.planning.evaluate import signed
from dispatcher.planning.insertion import why_no_place
from dispatcher_ui.routes.confirm import confirm_move

if TYPE_CHECKING:
    from dispatcher_ui.routes.host import BoardsHost


class InsertDialog(QDialog):
    """A table of suggestions with an Accept button on each row."""

    def __init__(self, panel: BoardsHost, stop_id: str) -> None:
        super().__init__(panel)
        self.panel = panel
        self.stop_id = stop_id
        self.accepted_suggestion: InsertionSuggestion | None = None
        day = panel.controller.day
        ref = day.stops[stop_id].order_ref if day is not None else stop_id
        self.setWindowTitle(f"Best place for {ref}")
        self.setMinimumWidth(720)  # the Accept buttons in view beside "breaks a rule"
        try:
            self.suggestions = panel.controller.suggestions(stop_id)
        except ValidationError as exc:
            self.suggestions = []
            self.note = QLabel(str(exc))
        else:
            self.note = QLabel(
                f"{len(self.suggestions)} best places for {ref}, best first"
                if self.suggestions
                else panel.controller.readable(why_no_place(day.plan, stop_id))
                if day is not None
                else "No vehicle can take this stop now."
            )
        self.note.setWordWrap(True)  # the whole reason, never cut off
        self.table = QTableWidget(len(self.suggestions), 6)
        added = f"Added {display.current().distance_unit}"  # km or mi: the fleet's
        self.table.setHorizontalHeaderLabels(
            ["Vehicle", "Position", "Added time", added, "Lateness", ""]
        )
        self.table.verticalHeader().hide()
        for row, s in enumerate(self.suggestions):
            self._fill_row(row, s)
        self.table.resizeColumnsToContents()
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table)

    def _fill_row(self, row: int, s: InsertionSuggestion) -> None:
        from PySide6.QtWidgets import QTableWidgetItem

        late = (
            "keeps the day on time"
            if s.keeps_feasibility and s.added_lateness <= 0
            else f"{signed(s.added_lateness / 60)} min late, {s.added_late_stops:+d} late stops"
        )
        broken = [self.panel.controller.readable(v) for v in s.violations]
        if broken:  # short in the cell (the Accept button stays in view), whole in the tooltip
            late += " · breaks a rule" if len(broken) == 1 else f" · breaks {len(broken)} rules"
        shown = display.current()
        cells = [
            self.panel._vehicle_label(s.vehicle_id),
            str(s.index + 1),
            f"{signed(s.added_duration / 60)} min",
            shown.signed(shown.distance_value(s.added_distance), 1),
            late,
        ]
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if broken:
                item.setToolTip("Breaks:\n" + "\n".join(f"• {b}" for b in broken))
            self.table.setItem(row, col, item)
        button = QPushButton("Accept")
        button.clicked.connect(lambda _=False, sug=s: self.accept_suggestion(sug))
        self.table.setCellWidget(row, 5, button)

    def accept_suggestion(self, suggestion: InsertionSuggestion) -> bool:
        """Put the stop there (undoable, saved, sent to the vehicle) and close; asked first
        when that breaks a constraint (a no keeps the plan and the dialog open)."""
        c, vid = self.panel.controller, suggestion.vehicle_id
        route = c.route(vid)
        rest = [s for s in route if s != self.stop_id]  # the suggestion's index is in these
        row = route.index(rest[suggestion.index]) if suggestion.index < len(rest) else len(route)
        problems = c.drop_violations([self.stop_id], vid, row)
        if problems and not confirm_move(self, problems):
            self.note.setText("Not inserted: it would break " + "; ".join(problems))
            return False
        command = MoveToVehicle([self.stop_id], vid, suggestion.index)
        if c.execute(command, f"Inserted on {vid}"):
            self.accepted_suggestion = suggestion
            self.accept()
            return True
        return False


def show_suggestions(panel: BoardsHost, stop_id: str) -> InsertDialog:
    dialog = InsertDialog(panel, stop_id)
    panel.last_insert_dialog = dialog
    dialog.show()
    return dialog
