"""Urgent order insertion: the best vehicles and positions for one stop, one click to accept.

Suggestions come from :func:`dispatcher.planning.suggest_insertions` (ranked by "keeps the day
on time", then added lateness, then added time); accepting one is a core
:class:`~dispatcher.planning.MoveToVehicle` command, undoable like any drag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QTableWidget, QVBoxLayout

from dispatcher import display
from dispatcher.errors import ValidationError
from dispatcher.planning import InsertionSuggestion, MoveToVehicle
from dispatcher.planning.evaluate import signed
from dispatcher.planning.insertion import why_no_place

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
        self.setMinimumWidth(620)
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
        shown = display.current()
        cells = [
            self.panel._vehicle_label(s.vehicle_id),
            str(s.index + 1),
            f"{signed(s.added_duration / 60)} min",
            shown.signed(shown.distance_value(s.added_distance), 1),
            late,
        ]
        for col, text in enumerate(cells):
            self.table.setItem(row, col, QTableWidgetItem(text))
        button = QPushButton("Accept")
        button.clicked.connect(lambda _=False, sug=s: self.accept_suggestion(sug))
        self.table.setCellWidget(row, 5, button)

    def accept_suggestion(self, suggestion: InsertionSuggestion) -> bool:
        """Put the stop there (undoable, saved, sent to the vehicle) and close."""
        command = MoveToVehicle([self.stop_id], suggestion.vehicle_id, suggestion.index)
        if self.panel.controller.execute(command, f"Inserted on {suggestion.vehicle_id}"):
            self.accepted_suggestion = suggestion
            self.accept()
            return True
        return False


def show_suggestions(panel: BoardsHost, stop_id: str) -> InsertDialog:
    dialog = InsertDialog(panel, stop_id)
    panel.last_insert_dialog = dialog
    dialog.show()
    return dialog
