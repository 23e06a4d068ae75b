"""The day the console shows: a toolbar date picker with Previous / Next / Today.

Every room that shows a day follows it: the route boards and the route list, the map's
routes, the KPIs, the timeline, the day report. Live telemetry and the exception rules keep
running on the fleet's today whatever day is shown, so tomorrow can be planned while today's
vans are on the road. The day is kept across restarts (QSettings ``ui/day``); without one the
console opens on :meth:`~dispatcher.core.Core.default_day` (today when it has stops), which the
first read of the routes finds in a worker thread.

Which day to open on is the core's rule; this module only turns gestures into a day.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, QLocale, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDateEdit, QToolBar

from dispatcher import display

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

DAY_KEY = "ui/day"
SHORTCUTS = (
    ("Alt+Left", "Previous day"),
    ("Alt+Right", "Next day"),
    ("Alt+Home", "Today"),
)


class DayBar(QToolBar):
    """The picker; :attr:`changed` carries the new :class:`datetime.date`."""

    changed = Signal(object)

    def __init__(self, window: Shell) -> None:
        super().__init__("Day", window)
        self.setObjectName("toolbar_day")
        self._window = window
        self.date_edit = QDateEdit()
        self.date_edit.setObjectName("day_picker")
        self.date_edit.setCalendarPopup(True)
        self._follow_fleet_locale()
        self.date_edit.setToolTip("The day every room shows (live tracking stays on today)")
        self.previous_action = self._add("◀", "Previous day", SHORTCUTS[0][0], -1)
        self.addWidget(self.date_edit)
        self.next_action = self._add("▶", "Next day", SHORTCUTS[1][0], 1)
        self.today_action = self._add("Today", "Back to today", SHORTCUTS[2][0], 0)
        self.date_edit.dateChanged.connect(self._on_date_changed)

    def _follow_fleet_locale(self) -> None:
        """``Fri 2026-11-20``; with ``[fleet] locale``, its date order (``Fri 11/20/2026``),
        through Qt's locale since the picker parses what it shows. Four-digit years always:
        a two-digit one typed into the picker could land in the wrong century."""
        name = display.current().locale
        if name is None:
            self.date_edit.setDisplayFormat("ddd yyyy-MM-dd")
            return
        locale = QLocale(name)
        pattern = locale.dateFormat(QLocale.FormatType.ShortFormat)
        if "yyyy" not in pattern:
            pattern = pattern.replace("yy", "yyyy")
        self.date_edit.setLocale(locale)
        self.date_edit.setDisplayFormat(f"ddd {pattern}")

    def _add(self, text: str, tip: str, keys: str, step: int) -> QAction:
        """A toolbar button with a window-wide key, registered (ui/dispatcher_ui/shortcuts.py)."""
        action = QAction(text, self)
        action.setToolTip(f"{tip} ({keys})")
        action.triggered.connect(lambda: self.step(step))
        self._window.shortcuts.add(action, name=tip.lower(), keys=keys, help=tip)
        self.addAction(action)
        return action

    @property
    def day(self) -> date:
        return date.fromisoformat(self.date_edit.date().toString("yyyy-MM-dd"))

    def show_day(self, day: date) -> None:
        """Put ``day`` in the picker without announcing it (start-up)."""
        with QSignalBlocker(self.date_edit):
            self.date_edit.setDate(QDate(day.year, day.month, day.day))

    def set_day(self, day: date) -> None:
        """Show ``day`` everywhere (what every gesture ends in)."""
        if day != self.day:
            self.date_edit.setDate(QDate(day.year, day.month, day.day))  # -> _on_date_changed

    def step(self, days: int) -> None:
        """``days`` from the shown day; 0 means the fleet's today."""
        self.set_day(self._window.core.today() if days == 0 else self.day + timedelta(days))

    def _on_date_changed(self, _qdate: QDate) -> None:
        day = self.day
        self._window.qsettings.setValue(DAY_KEY, day.isoformat())
        self._window.set_service_day(day)
        self.changed.emit(day)


def saved_day(window: Shell) -> date | None:
    """The day shown when the console was last closed, if one was kept."""
    text = window.qsettings.value(DAY_KEY)
    try:
        return date.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def install(window: Shell) -> DayBar:
    """Add the picker's toolbar and choose the day to open on (before the first load)."""
    bar = DayBar(window)
    # In the menu bar's corner, not a toolbar row of its own: on a 768-pixel screen every
    # row of height goes to the route boards (tests/ui/test_board_layout.py).
    window.menuBar().setCornerWidget(bar, Qt.Corner.TopRightCorner)
    # Without a kept day, the first read of the routes (a worker) chooses it by the core's
    # rule and shows it here (MainWindow._routes_read): the window is built without the
    # database. Until then the picker shows the fleet's today, from the clock.
    window.service_day = saved_day(window)
    bar.show_day(window.service_day or window.core.today())
    return bar
