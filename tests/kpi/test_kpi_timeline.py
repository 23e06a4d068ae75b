"""The route timeline as data: rows, marks, lateness, predictions and hit testing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

from fleet_zone import DAY, TZ, local

from dispatcher.kpi.schedule import planned_arrivals, predicted_arrivals
from dispatcher.kpi.timeline import build_timeline
from dispatcher.model.kpi import DayRecords, StopRecord, VehicleRecord
from dispatcher.planning.model import to_plan_seconds

DEPOT = (52.52, 13.40)


def at(hh: int, mm: int = 0) -> datetime:
    return local(hh, mm).astimezone(UTC)


def secs(hh: int, mm: int = 0) -> float:
    """Plan seconds of a wall-clock time (the fleet's clock, also on a DST day)."""
    return to_plan_seconds(local(hh, mm), local(0))


def day() -> DayRecords:
    """Van 1: done on time, arrived late, one ahead. Van 2: one stop, no window."""
    v1 = (
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
            lat=52.53,
            lon=13.41,
        ),
        StopRecord(
            2,
            "B",
            vehicle_id="V1",
            sequence=2,
            window_start=at(9),
            window_end=at(10),
            arrival=at(10, 20),
            status="done",
            attempts=1,
            lat=52.54,
            lon=13.42,
        ),
        StopRecord(
            3,
            "C",
            vehicle_id="V1",
            sequence=3,
            window_start=at(11),
            window_end=at(12),
            lat=52.55,
            lon=13.43,
        ),
    )
    v2 = (StopRecord(4, "D", vehicle_id="V2", sequence=1, lat=52.50, lon=13.38),)
    vehicles = (
        VehicleRecord("V1", "Van 1", shift_start=time(8), depot_lat=DEPOT[0], depot_lon=DEPOT[1]),
        VehicleRecord("V2", "Van 2", shift_start=time(9), depot_lat=DEPOT[0], depot_lon=DEPOT[1]),
    )
    return DayRecords(DAY, TZ, (*v1, *v2), vehicles)


def test_planned_arrivals_follow_the_route_from_shift_start() -> None:
    planned = planned_arrivals(day())
    assert set(planned) == {1, 2, 3, 4}
    assert at(8) < planned[1] < planned[2] < planned[3]
    assert planned[4] > at(9)  # van 2 leaves at 9:00


def test_a_stored_planned_arrival_wins() -> None:
    records = day()
    stops = list(records.stops)
    stops[0] = replace(stops[0], planned_arrival=at(7, 45))
    planned = planned_arrivals(DayRecords(DAY, TZ, tuple(stops), records.vehicles))
    assert planned[1] == at(7, 45)


def test_predictions_start_from_the_live_position_at_now() -> None:
    records = day()
    predicted = predicted_arrivals(records, {"V1": (52.549, 13.429)}, at(11, 50))
    assert set(predicted) == {3}  # only stops not reached; van 2 has no live position
    assert at(11, 50) < predicted[3] < at(11, 55)


def test_timeline_rows_marks_and_lateness() -> None:
    records = day().with_planned(planned_arrivals(day()))
    now = at(11, 50)
    late_prediction = {3: at(12, 10)}
    timeline = build_timeline(records, now, late_prediction)
    assert [(r.vehicle_id, r.label, r.row) for r in timeline.rows] == [
        ("V1", "Van 1", 0),
        ("V2", "Van 2", 1),
    ]
    assert timeline.now == secs(11, 50)
    a, b, c = timeline.rows[0].stops
    assert (a.actual, a.window_start, a.window_end, a.late) == (secs(9), secs(8), secs(10), False)
    assert a.predicted is None  # reached stops have no prediction
    assert b.late and b.lateness_s == 20 * 60
    assert c.late and c.predicted == secs(12, 10) and c.actual is None
    (d,) = timeline.rows[1].stops
    assert d.window_start is None and not d.late
    assert d.predicted == d.planned  # no live position: the plan is the prediction


def test_a_prediction_close_to_the_window_end_is_at_risk() -> None:
    timeline = build_timeline(day(), at(11), {3: at(11, 55)})
    c = timeline.find(3)
    assert c is not None and c.at_risk and not c.late


def test_hit_prefers_the_nearest_mark_then_the_narrowest_band() -> None:
    timeline = build_timeline(day(), at(11, 50), {3: at(12, 10)})
    hit = timeline.hit
    assert hit(secs(9, 1), 0.1, tolerance_s=300) is timeline.find(1)  # near A's arrival
    assert hit(secs(10, 18), -0.2, tolerance_s=300) is timeline.find(2)  # near B's arrival
    assert hit(secs(11, 30), 0.0, tolerance_s=60) is timeline.find(3)  # inside C's band only
    assert hit(secs(9, 30), 0.0, tolerance_s=60) is timeline.find(2)  # A and B bands: B narrower
    assert hit(secs(9, 1), 1.0, tolerance_s=300) is None  # van 2's row has nothing there
    assert hit(secs(9, 1), 5.0, tolerance_s=300) is None  # no such row
    assert timeline.row_of("V2") == 1 and timeline.row_of("V9") is None


def test_span_covers_windows_marks_and_now() -> None:
    timeline = build_timeline(day(), at(13), {3: at(12, 10)})
    lo, hi = timeline.span()
    assert lo == secs(8) and hi == secs(13)
