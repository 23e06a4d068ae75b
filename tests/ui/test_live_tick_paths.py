"""The live tick's models tell their views only what changed (issue 17: no work proportional
to the fleet on the GUI thread). Each test counts the signals a view would act on."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from fleet_zone import TZ, utc
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from dispatcher.fleet.state import FleetChanged, FleetState
from dispatcher.model.alerts import AlertKind, AlertStatus, Severity
from dispatcher.model.core import PositionReport
from dispatcher_ui.exceptions.model import AlertsModel
from dispatcher_ui.fleet_model import FleetColumn, FleetModel
from dispatcher_ui.steady import set_steady_text

T0 = utc(10, 0)


class Signals:
    """Counts a model's dataChanged / reset / insert / remove signals."""

    def __init__(self, model: Any) -> None:
        self.changed: list[tuple[int, int, int, int]] = []
        self.resets = self.inserted = self.removed = 0
        model.dataChanged.connect(
            lambda a, b, *_: self.changed.append((a.row(), b.row(), a.column(), b.column()))
        )
        model.modelReset.connect(lambda: setattr(self, "resets", self.resets + 1))
        model.rowsInserted.connect(lambda *_: setattr(self, "inserted", self.inserted + 1))
        model.rowsRemoved.connect(lambda *_: setattr(self, "removed", self.removed + 1))


def drive(fleet: FleetState, model: FleetModel, vid: str, lat: float, at_s: int) -> None:
    when = T0 + timedelta(seconds=at_s)
    fix = PositionReport(vid, when, lat, 13.4, speed_kmh=30.0, heading_deg=0.0)
    changed, _ = fleet.apply_positions([(fix, False)], when)
    model.on_fleet_changed(FleetChanged(frozenset(changed)))


def test_the_fleet_table_repaints_changed_rows_at_most_once_a_second(qtbot: Any) -> None:
    fleet = FleetState()
    model = FleetModel(fleet, None, TZ.key)
    for i, vid in enumerate(("V01", "V02", "V03")):
        drive(fleet, model, vid, 52.5 + i / 100, 0)
    assert model.rowCount() == 3
    seen = Signals(model)
    drive(fleet, model, "V02", 52.6, 1)  # the first change in a while: told at once
    assert seen.changed == [(1, 1, FleetColumn.STATE, FleetColumn.SOURCE)]
    for tick in range(5):  # five ticks within the second: the rows take them at once ...
        drive(fleet, model, "V01", 52.7 + tick / 1000, 2 + tick)
        drive(fleet, model, "V03", 52.8 + tick / 1000, 2 + tick)
    assert model.index(0, FleetColumn.POSITION).data() == "52.70400, 13.40000"
    assert len(seen.changed) == 1  # ... and the view hears of them once, when the second is up
    qtbot.waitUntil(lambda: len(seen.changed) == 2, timeout=3000)
    assert seen.changed[1] == (0, 2, FleetColumn.STATE, FleetColumn.SOURCE)
    assert seen.resets == seen.inserted == 0


def alert(i: int, **kw: Any) -> Any:
    from dispatcher.model.alerts import Alert

    return Alert(
        kind=AlertKind.LATE,
        subject=f"stop:{i}",
        severity=Severity.HIGH,
        title=f"late {i}",
        first_seen=T0,
        opened_at=T0 - timedelta(minutes=i),
        last_seen=T0,
        stop_id=str(i),
        vehicle_id="V01",
        id=i,
        version=1,
        **kw,
    )


def test_a_reload_of_the_queue_is_a_diff_not_a_reset(qapp: Any) -> None:
    model = AlertsModel(lambda: T0)
    model.set_alerts([alert(i) for i in range(1, 6)])
    seen = Signals(model)
    same = [alert(i) for i in range(1, 6)]
    model.set_alerts(same)  # nothing changed: no signal at all
    assert (seen.changed, seen.resets, seen.inserted, seen.removed) == ([], 0, 0, 0)
    assigned = dataclasses.replace(same[2], assignee="alice", status=AlertStatus.ASSIGNED)
    model.set_alerts([*same[:2], assigned, *same[3:]])
    assert seen.changed == [(2, 2, 0, 8)] and seen.resets == 0  # the one changed row
    # alert 2 resolved, alert 9 raised between 3 and 4: one removal, one insertion
    model.set_alerts([same[0], assigned, alert(9), same[3], same[4]])
    assert (seen.resets, seen.inserted, seen.removed) == (0, 1, 1)
    assert [a.id for a in model.alerts()] == [1, 3, 9, 4, 5]
    # a reorder beyond the edits a diff is worth (neighbours swapped): one reset
    ids = list(range(100, 300))
    model.set_alerts([alert(i) for i in ids])
    swapped = [i + 1 if i % 2 == 0 else i - 1 for i in ids]
    model.set_alerts([alert(i) for i in swapped])
    assert seen.resets == 1 and [a.id for a in model.alerts()] == swapped


def test_a_status_bar_label_keeps_its_width_as_its_text_ticks(qtbot: Any) -> None:
    bar = QWidget()
    row = QHBoxLayout(bar)
    label = QLabel("")
    row.addWidget(label)
    qtbot.addWidget(bar)
    assert set_steady_text(label, "10:31:08")
    width = label.maximumWidth()
    assert label.minimumWidth() == width  # fixed: a new text does not ask for a new layout
    assert not set_steady_text(label, "10:31:08")  # the same text: nothing to do
    set_steady_text(label, "10:31:1")  # a little narrower: the width stays
    assert label.maximumWidth() == width
    set_steady_text(label, "Broker: connected · 1234 msg/s · 500 vehicles")  # wider: grows
    assert label.maximumWidth() > width
    set_steady_text(label, "1")  # much narrower: shrinks back
    assert label.maximumWidth() < width


def test_the_new_critical_flash_is_an_overlay_not_a_style_sheet(qtbot: Any) -> None:
    """The queue's red frame blinks over the view; the view's own style is never touched
    (setting it re-polished the view, its headers and scroll bars at every blink)."""
    from types import SimpleNamespace

    from PySide6.QtWidgets import QFrame, QTableView

    from dispatcher_ui.exceptions.dock import flash

    view = QTableView()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    flash(SimpleNamespace(view=view), times=4, period_ms=20)  # type: ignore[arg-type]  # .view only
    frame = view.findChild(QFrame, "exceptionsFlash")
    assert frame is not None and frame.isVisible() and frame.geometry() == view.rect()
    shown: list[bool] = []

    def blinked_off() -> bool:
        shown.append(frame.isVisible())
        return False in shown

    qtbot.waitUntil(blinked_off, timeout=2000)
    qtbot.waitUntil(lambda: view.findChild(QFrame, "exceptionsFlash") is None, timeout=2000)
    assert view.styleSheet() == ""
