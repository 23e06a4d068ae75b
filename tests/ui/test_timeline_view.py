"""The route timeline widget: a click on a stop selects it, a selection elsewhere highlights it."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from fleet_zone import DAY, TZ, local
from PySide6.QtCore import QPoint, Qt

from dispatcher.kpi.schedule import planned_arrivals, planned_breaks
from dispatcher.kpi.timeline import Timeline, build_timeline
from dispatcher.model.kpi import DayRecords, StopRecord, VehicleRecord
from dispatcher.planning.model import to_plan_seconds
from dispatcher_ui.kpi.charts import LATE
from dispatcher_ui.kpi.timeline import TimelineView
from dispatcher_ui.selection import SelectionModel


def at(hh: int, mm: int = 0) -> datetime:
    return local(hh, mm).astimezone(UTC)


def secs(hh: int, mm: int = 0) -> float:
    """Plan seconds of a wall-clock time (the fleet's clock, also on a DST day)."""
    return to_plan_seconds(local(hh, mm), local(0))


def small_timeline() -> Timeline:
    """Two vans; stop 2 arrived late, stop 3 is predicted late, stop 4 has no window."""
    stops = (
        StopRecord(
            1,
            "A",
            vehicle_id="V1",
            sequence=1,
            window_start=at(8),
            window_end=at(10),
            arrival=at(9),
            status="done",
            attempts=1,
            planned_arrival=at(8, 50),
        ),
        StopRecord(
            2,
            "B",
            vehicle_id="V1",
            sequence=2,
            window_start=at(9),
            window_end=at(10),
            arrival=at(10, 40),
            status="done",
            attempts=1,
            planned_arrival=at(9, 40),
        ),
        StopRecord(
            3,
            "C",
            vehicle_id="V2",
            sequence=1,
            window_start=at(11),
            window_end=at(12),
            planned_arrival=at(11, 30),
        ),
        StopRecord(4, "D", vehicle_id="V2", sequence=2, planned_arrival=at(13)),
    )
    vehicles = (VehicleRecord("V1", "Van 1", shift_start=time(8)), VehicleRecord("V2", "Van 2"))
    records = DayRecords(DAY, TZ, stops, vehicles)
    return build_timeline(records, at(11, 45), {3: at(12, 20)})


@pytest.fixture
def view(qtbot) -> TimelineView:
    widget = TimelineView(SelectionModel())
    qtbot.addWidget(widget)
    widget.resize(900, 300)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_timeline(small_timeline())
    return widget


def click(qtbot, view: TimelineView, x: float, row: float) -> None:
    scene = view.scene_pos_of(x, row)
    point = view.plot.mapFromScene(scene)
    qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(point))


def test_rows_and_marks_are_drawn(view: TimelineView) -> None:
    assert view.plot.getAxis("left")._tickLevels == [[(0, "Van 1"), (1, "Van 2")]]
    assert view.mark_count("actual") == 2  # stops 1 and 2 arrived
    assert view.mark_count("predicted") == 2  # stops 3 and 4 not reached yet
    assert view.mark_count("planned") == 4
    assert len(view.marks["actual", LATE].data) == 1  # B arrived late: a red dot
    assert len(view.late_bands.opts["x0"]) == 2  # B arrived late, C predicted late
    assert list(view.late_lines.xData) == [secs(10), secs(10, 40), secs(12), secs(12, 20)]
    assert view.now_line.value() == secs(11, 45)


def test_clicking_a_stop_selects_it_everywhere(qtbot, view: TimelineView) -> None:
    with qtbot.waitSignal(view.selection.changed) as blocker:
        click(qtbot, view, secs(10, 40), 0)  # B's actual arrival on Van 1's row
    chosen = blocker.args[0]
    assert (chosen.stop_id, chosen.vehicle_id, chosen.source) == (2, "V1", "timeline")
    assert view.selected_stop_id() == 2


def test_clicking_empty_space_keeps_the_selection(qtbot, view: TimelineView) -> None:
    view.selection.select_stop(1, "V1", source="routes")
    click(qtbot, view, secs(15), 0)  # nothing on Van 1 at 15:00
    assert view.selection.current.stop_id == 1


def test_a_selection_made_elsewhere_highlights_the_stop_and_its_row(view: TimelineView) -> None:
    view.selection.select_stop(3, "V2", source="map")
    xs, ys = view.ring.getData()
    assert sorted(xs) == [secs(11, 30), secs(12, 20)]  # planned and predicted
    assert set(ys) == {1}
    assert view.row_band.isVisible() and view.row_band.getRegion() == (0.5, 1.5)
    assert view.selected_band.isVisible()
    view.selection.select_vehicle("V1", source="fleet")
    assert view.ring.getData()[0].size == 0
    assert view.row_band.getRegion() == (-0.5, 0.5)
    view.selection.clear()
    assert not view.row_band.isVisible()


def test_a_stop_selected_off_screen_is_panned_into_view(view: TimelineView) -> None:
    view.view_box.setXRange(secs(6), secs(7), padding=0)
    view.selection.select_stop(4, "V2", source="routes")
    x0, x1 = view.view_box.viewRange()[0]
    assert x0 <= secs(13) <= x1
    assert x1 - x0 == pytest.approx(3600)  # panned, not zoomed


def test_a_new_timeline_keeps_the_users_zoom(view: TimelineView) -> None:
    view.view_box.setXRange(secs(9), secs(10), padding=0)
    changed = small_timeline()
    view.set_timeline(Timeline(changed.rows[:2], changed.origin, changed.now + 60))
    assert view.view_box.viewRange()[0] == pytest.approx([secs(9), secs(10)])
    assert view.now_line.value() == changed.now + 60


def test_a_driver_s_break_is_planned_and_drawn_on_its_row(qtbot, tmp_path) -> None:
    """Van 1's driver has a 30-min break due 1 h into an 08:00 shift (by 10:00): the van
    waits at B for its 10:00 window, so the plan puts the break in that wait, and the
    timeline draws it on Van 1's row."""
    stops = (
        StopRecord(1, "A", vehicle_id="V1", sequence=1, lat=52.50, lon=13.40, window_end=at(11)),
        StopRecord(2, "B", vehicle_id="V1", sequence=2, lat=52.52, lon=13.42, window_start=at(10)),
    )
    van = VehicleRecord(
        "V1",
        "Van 1",
        shift_start=time(8),
        depot_lat=52.51,
        depot_lon=13.41,
        break_after_min=60,
        break_min=30,
    )
    records = DayRecords(DAY, TZ, stops, (van,))
    breaks = planned_breaks(records)
    begin, end = breaks["V1"]
    assert begin == local(9) and end == local(9, 30)
    planned = planned_arrivals(records)
    assert planned[2] < begin, "the van is waiting at B when the break begins"
    timeline = build_timeline(records.with_planned(planned), at(9), breaks=breaks)
    assert timeline.rows[0].breaks == ((secs(9), secs(9, 30)),)
    widget = TimelineView(SelectionModel())
    qtbot.addWidget(widget)
    widget.resize(900, 200)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_timeline(timeline)
    assert list(widget.breaks.opts["x0"]) == [secs(9)]
    widget.grab().save(str(tmp_path / "timeline_break.png"))
