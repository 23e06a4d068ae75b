"""The replay bar: pick a time range, then play or scrub the whole fleet's history on the map.

A thin adapter over :class:`dispatcher.history.replay.ReplayPlayer`: the bar loads a window
off the GUI thread, runs a wall-clock timer while playing, and emits each frame in
:attr:`ReplayBar.frame_ready`; whoever shows frames (the map) connects to it. "Leave replay"
emits :attr:`ReplayBar.left`, and the map goes back to live.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from dispatcher import display
from dispatcher.clock import system_monotonic
from dispatcher.core import Core
from dispatcher.errors import DispatcherError
from dispatcher.history.replay import (
    SPEEDS,
    ReplayEvent,
    ReplayFrame,
    ReplayPlayer,
    ReplayWindow,
    load_replay,
)
from dispatcher_ui.workers import run_in_background

SLIDER_STEPS = 1000
FRAME_MS = 100


def to_qdatetime(value: datetime, tz: ZoneInfo) -> QDateTime:
    local = value.astimezone(tz)
    day = QDate(local.year, local.month, local.day)
    return QDateTime(day, QTime(local.hour, local.minute, local.second))


def from_qdatetime(value: QDateTime, tz: ZoneInfo) -> datetime:
    naive = cast(datetime, value.toPython())  # PySide6 stub: toPython() -> object
    return naive.replace(tzinfo=tz)


class ReplayBar(QWidget):
    """Time range, play/pause, speed, slider, the window's events and "Leave replay"."""

    #: A :class:`ReplayFrame` to draw.
    frame_ready = Signal(object)
    #: Replay is over: show live positions again.
    left = Signal()
    #: A one-line status for the status bar ("Loaded 12,345 positions…").
    status = Signal(str)

    def __init__(self, core: Core, tz: ZoneInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replayBar")
        self._core = core
        self._tz = tz
        self.player: ReplayPlayer | None = None
        #: Vehicle names for the event list, read with the history (off the GUI thread).
        self._names: dict[str, str] = {}
        self._event_times: list[datetime] = []
        self._past_events = 0
        self._moving_slider = False
        self._last_wall = system_monotonic()
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._on_timer)
        self._build()
        self.set_range_ending(core.clock.now(), timedelta(hours=1))
        self._set_loaded(False)

    # -- construction ---------------------------------------------------------------------
    def _build(self) -> None:
        self.start_edit = QDateTimeEdit(calendarPopup=True, displayFormat="yyyy-MM-dd HH:mm")
        self.end_edit = QDateTimeEdit(calendarPopup=True, displayFormat="yyyy-MM-dd HH:mm")
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Read the fleet's history of this time range")
        self.load_button.clicked.connect(self.load)
        self.play_button = QPushButton("▶ Play")
        play_key = QShortcut(QKeySequence("Space"), self)  # only while focus is in the bar
        play_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        play_key.activated.connect(self.toggle_play)
        self.play_button.clicked.connect(self.toggle_play)
        self.speed_box = QComboBox()
        for speed in SPEEDS:
            self.speed_box.addItem(f"{speed:g}×", speed)
        self.speed_box.setCurrentIndex(SPEEDS.index(10.0))
        self.speed_box.setToolTip("Replay speed")
        self.speed_box.currentIndexChanged.connect(self._on_speed)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.valueChanged.connect(self._on_scrub)  # drags, clicks and keys alike
        self.time_label = QLabel("--:--:--")
        self.time_label.setMinimumWidth(70)
        self.leave_button = QPushButton("Leave replay")
        self.leave_button.setToolTip("Back to the live fleet")
        self.leave_button.clicked.connect(self.leave)
        self.events = QListWidget()
        self.events.setObjectName("replayEvents")
        self.events.itemActivated.connect(self._on_event)
        self.events.itemClicked.connect(self._on_event)

        top = QHBoxLayout()
        for widget in (QLabel("From"), self.start_edit, QLabel("to"), self.end_edit):
            top.addWidget(widget)
        top.addWidget(self.load_button)
        top.addStretch(1)
        top.addWidget(self.leave_button)
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.speed_box)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(controls)
        layout.addWidget(self.events, 1)

    def set_range_ending(self, end: datetime, length: timedelta) -> None:
        self.set_range(end - length, end)

    def set_range(self, start: datetime, end: datetime) -> None:
        self.start_edit.setDateTime(to_qdatetime(start, self._tz))
        self.end_edit.setDateTime(to_qdatetime(end, self._tz))

    def _set_loaded(self, loaded: bool) -> None:
        for widget in (self.play_button, self.speed_box, self.slider, self.events):
            widget.setEnabled(loaded)

    # -- loading --------------------------------------------------------------------------
    def load(self) -> None:
        """Read the chosen range off the GUI thread; the first frame follows when it is in."""
        start = from_qdatetime(self.start_edit.dateTime(), self._tz)
        end = from_qdatetime(self.end_edit.dateTime(), self._tz)
        self.load_button.setEnabled(False)
        self.status.emit("Loading history…")
        core, speed = self._core, float(self.speed_box.currentData())

        def work() -> tuple[ReplayPlayer, dict[str, str]]:
            player = ReplayPlayer(load_replay(core.db, start, end), speed=speed)
            return player, core.vehicle_names()

        run_in_background(work, lambda loaded: self.show_player(*loaded), self._failed)

    def show_window(self, window: ReplayWindow) -> None:
        """Start replaying an already loaded ``window``."""
        self.show_player(ReplayPlayer(window, speed=float(self.speed_box.currentData())))

    def show_player(self, player: ReplayPlayer, names: dict[str, str] | None = None) -> None:
        """Start replaying (paused at the window's start); the player and the vehicles' names
        were read off the GUI thread (without names, the last ones read are used)."""
        self.load_button.setEnabled(True)
        self._timer.stop()
        if names is not None:
            self._names = names
        self.player = player
        player.speed = float(self.speed_box.currentData())
        window = player.window
        self.events.clear()
        grey = self.palette().placeholderText()
        for event in window.events:
            item = self._event_item(event)
            item.setForeground(grey)
            self.events.addItem(item)
        self._event_times = [e.ts for e in window.events]
        self._past_events = 0
        self._set_loaded(True)
        self.status.emit(
            f"Replay: {len(window.positions):,} positions of {len(window.vehicle_ids())} "
            f"vehicles, {len(window.events)} events"
        )
        self._show(self.player.frame())

    def _failed(self, exc: Exception) -> None:
        self.load_button.setEnabled(True)
        text = str(exc) if isinstance(exc, DispatcherError) else f"unexpected error: {exc}"
        self.status.emit(f"Could not load history: {text}")

    def _event_item(self, event: ReplayEvent) -> QListWidgetItem:
        who = self._names.get(event.vehicle_id, event.vehicle_id)
        text = (
            f"{display.current().clock(event.ts.astimezone(self._tz), True)}  {who}  {event.kind}"
        )
        if event.stop_ref:
            text += f"  {event.stop_ref}"
        if event.reason:
            text += f"  ({event.reason})"
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, event.ts)
        return item

    # -- playing --------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self.player is None:
            return
        if self.player.playing:
            self.player.pause()
            self._timer.stop()
        else:
            self.player.play()
            self._last_wall = system_monotonic()
            self._timer.start()
        self._update_controls()

    def _on_timer(self) -> None:
        now = system_monotonic()
        self.step(now - self._last_wall)
        self._last_wall = now

    def step(self, wall_s: float) -> None:
        """Advance by ``wall_s`` wall seconds (the timer calls this; tests call it directly)."""
        if self.player is None:
            return
        self._show(self.player.advance(wall_s))
        if not self.player.playing:
            self._timer.stop()
            self._update_controls()

    def seek(self, at: datetime) -> None:
        """Show the frame at ``at`` (paused or not): another view (the flight recorder) leads."""
        if self.player is not None:
            self._show(self.player.seek(at))

    def _on_speed(self, _index: int) -> None:
        if self.player is not None:
            self.player.speed = float(self.speed_box.currentData())

    def _on_scrub(self, value: int) -> None:
        if self.player is not None and not self._moving_slider:
            self._show(self.player.seek_fraction(value / SLIDER_STEPS))

    def _on_event(self, item: QListWidgetItem) -> None:
        ts = item.data(Qt.ItemDataRole.UserRole)
        if self.player is not None and isinstance(ts, datetime):
            self._show(self.player.seek(ts))

    def _show(self, frame: ReplayFrame) -> None:
        assert self.player is not None
        self.time_label.setText(display.current().clock(frame.at.astimezone(self._tz), True))
        if not self.slider.isSliderDown():
            self._moving_slider = True  # follow the player without seeking again
            self.slider.setValue(round(self.player.fraction * SLIDER_STEPS))
            self._moving_slider = False
        self._highlight_events(frame.at)
        self.frame_ready.emit(frame)

    def _highlight_events(self, at: datetime) -> None:
        """Grey out the events still to come, so the list reads as "what happened so far".

        Events are in time order, so only the rows between the old and the new boundary
        change (a window can hold thousands of events; frames come ten times a second).
        """
        boundary = bisect.bisect_right(self._event_times, at)
        low, high = sorted((boundary, self._past_events))
        palette = self.palette()
        for row in range(low, high):
            past = row < boundary
            self.events.item(row).setForeground(
                palette.text() if past else palette.placeholderText()
            )
        self._past_events = boundary

    def _update_controls(self) -> None:
        playing = self.player is not None and self.player.playing
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")

    def leave(self) -> None:
        """Stop replaying and hand the map back to live."""
        self._timer.stop()
        if self.player is not None:
            self.player.pause()
        self._update_controls()
        self.left.emit()
