"""The flight recorder: what the desk knew at any instant of a period (Support > Flight
recorder…, Ctrl+Shift+B).

Pick a period of the shown day and load it (one read in a worker, dispatcher/support/
recorder.py); the slider then moves through it a minute at a time (arrow keys; Page Up/Down
a quarter of an hour) and "Previous / Next change" jump between the instants when something
changed. The three tables are the exception queue, the ETAs and the messages as they stood
at the slider's instant — rebuilt in memory, so scrubbing never waits on the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import shiboken6
from PySide6.QtCore import Qt, QTime
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from dispatcher import display
from dispatcher.support.recorder import DeskState, Recording, load_recording
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher.core import Core

#: The newest messages shown at an instant (a table of thousands redrawn per step is slow).
MAX_MESSAGES = 300


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.verticalHeader().setDefaultSectionSize(22)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            table.setItem(i, j, QTableWidgetItem(text))
    table.resizeColumnsToContents()


class FlightRecorderDialog(QDialog):
    """The recorder; with ``map_replay`` (load a period, show an instant) the map's position
    replay follows the slider when "Vans on the map" is ticked."""

    def __init__(
        self,
        core: Core,
        day: date,
        parent: QWidget | None = None,
        map_replay: tuple[Callable[[datetime, datetime], None], Callable[[datetime], None]]
        | None = None,
    ) -> None:
        super().__init__(parent)
        self.map_replay = map_replay
        self.follow_map = QCheckBox("&Vans on the map (position replay)")
        self.follow_map.setVisible(map_replay is not None)
        self.follow_map.toggled.connect(self._follow_toggled)
        self.setWindowTitle(f"Flight recorder — {display.current().day(day)}")
        self.setObjectName("FlightRecorderDialog")
        self.resize(1400, 640)
        self.core, self.day = core, day
        self.zone = ZoneInfo(core.fleet.timezone)
        self.recording: Recording | None = None
        self.state: DeskState | None = None
        self._asked = 0
        self.start_edit = QTimeEdit(QTime(6, 0))
        self.end_edit = QTimeEdit(QTime(20, 0))
        self.load_button = QPushButton("&Load")
        self.load_button.clicked.connect(self.load)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(15)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._moved)
        self.at_label = QLabel("Load a period.")
        self.at_label.setMinimumWidth(260)
        self.previous_button = QPushButton("◀ &Previous change")
        self.next_button = QPushButton("&Next change ▶")
        self.previous_button.clicked.connect(lambda: self._jump(forward=False))
        self.next_button.clicked.connect(lambda: self._jump(forward=True))
        self.note = QLabel("")
        self.note.setWordWrap(True)
        top = QHBoxLayout()
        for w in (QLabel("From"), self.start_edit, QLabel("to"), self.end_edit, self.load_button):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.follow_map)
        bar = QHBoxLayout()
        bar.addWidget(self.previous_button)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.next_button)
        bar.addWidget(self.at_label)
        self.exceptions = _table(["#", "Kind", "Status", "Sev.", "Since", "Assignee", "Title"])
        self.etas = _table(["Order", "ETA", "Late (min)", "Kind", "Recorded"])
        self.messages = _table(
            ["Created", "Order", "Dir.", "Channel", "Situation", "Status", "Text"]
        )
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(bar)
        layout.addWidget(self.note)
        layout.addWidget(self._tables(), 1)

    def _tables(self) -> QSplitter:
        split = QSplitter()
        for title, table in (
            ("Exception queue", self.exceptions),
            ("ETAs", self.etas),
            ("Messages", self.messages),
        ):
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(QLabel(f"<b>{title}</b>"))
            lay.addWidget(table)
            split.addWidget(box)
        split.setSizes([560, 330, 510])
        return split

    def period(self) -> tuple[datetime, datetime]:
        def at(edit: QTimeEdit) -> datetime:
            t = edit.time()
            return datetime.combine(self.day, time(t.hour(), t.minute()), self.zone)

        return at(self.start_edit), at(self.end_edit)

    def load(self) -> None:
        """Read the period in a worker; the slider comes alive when it arrives."""
        self._asked += 1
        asked = self._asked
        start, end = self.period()
        db = self.core.db
        self.at_label.setText("Loading…")
        run_in_background(
            lambda: load_recording(db, start, end),
            lambda rec: self._loaded(asked, rec),
            lambda exc: self._failed(asked, exc),
        )

    @property
    def loading(self) -> bool:
        return self.at_label.text() == "Loading…"

    def _failed(self, asked: int, exc: Exception) -> None:
        if shiboken6.isValid(self) and asked == self._asked:
            self.at_label.setText("Not loaded.")
            self.note.setText(f"Could not load the period: {exc}")

    def _loaded(self, asked: int, rec: Recording) -> None:
        if not shiboken6.isValid(self) or asked != self._asked:
            return
        self.recording = rec
        minutes = int((rec.end - rec.start).total_seconds() // 60)
        self.note.setText(
            f"{len(rec.moments)} change(s) in the period."
            + (
                ""
                if rec.etas_recorded
                else " ETAs were not recorded yet in this period (recording began later)."
            )
            + "".join(f" {p}." for p in rec.problems)
        )
        self.slider.setEnabled(True)
        self.slider.blockSignals(True)
        self.slider.setRange(0, minutes)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self._follow_toggled(self.follow_map.isChecked())
        self.show_at(rec.start)

    def _follow_toggled(self, on: bool) -> None:
        """Load the same period into the map's replay (it seeks as the slider moves)."""
        if on and self.map_replay is not None and self.recording is not None:
            self.map_replay[0](self.recording.start, self.recording.end)

    def show_at(self, at: datetime) -> None:
        """Show the desk at ``at`` (moves the slider to its minute)."""
        rec = self.recording
        if rec is None:
            return
        at = min(max(at, rec.start), rec.end)
        self.slider.blockSignals(True)
        self.slider.setValue(int((at - rec.start).total_seconds() // 60))
        self.slider.blockSignals(False)
        self._render(at)

    def _moved(self, minute: int) -> None:
        if self.recording is not None:
            self._render(self.recording.start + timedelta(minutes=minute))

    def _jump(self, *, forward: bool) -> None:
        rec, state = self.recording, self.state
        if rec is None or state is None:
            return
        found = rec.next_moment(state.at) if forward else rec.previous_moment(state.at)
        if found is not None:
            self.show_at(found)

    def _render(self, at: datetime) -> None:
        assert self.recording is not None
        d = display.current()
        state = self.state = self.recording.state_at(at, max_messages=MAX_MESSAGES)
        if self.map_replay is not None and self.follow_map.isChecked():
            self.map_replay[1](at)
        self.at_label.setText(
            f"At {d.instant(at, seconds=True)}: {len(state.exceptions)} open exception(s)"
        )
        _fill(
            self.exceptions,
            [
                [
                    str(r.alert_id),
                    r.kind,
                    r.status,
                    str(r.severity),
                    d.instant(r.since),
                    r.assignee or "",
                    r.title,
                ]
                for r in state.exceptions
            ],
        )
        _fill(
            self.etas,
            [
                [
                    e.order_ref,
                    d.instant(e.eta) if e.eta else "—",
                    str(round(e.late_s / 60)) if e.late_s else "",
                    "reported" if e.actual else "predicted",
                    d.instant(e.recorded_at),
                ]
                for e in state.etas
            ],
        )
        _fill(
            self.messages,
            [
                [
                    d.instant(m.created_at),
                    m.order_ref,
                    m.direction,
                    m.channel,
                    m.situation,
                    m.status,
                    m.body,
                ]
                for m in state.messages
            ],
        )
