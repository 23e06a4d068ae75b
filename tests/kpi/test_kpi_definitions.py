"""The KPI definitions on small hand-made days, one scenario per documented edge case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fleet_zone import DAY, TZ, local

from dispatcher.kpi.definitions import KpiRules, Verdict, first_attempt, on_time, otif, verdict
from dispatcher.kpi.report import compute_report, open_by_age
from dispatcher.model.alerts import Alert, AlertKind, AlertStatus, AuditEntry, Severity
from dispatcher.model.kpi import DayRecords, Scope, ScopeKind, StopRecord, VehicleRecord, scopes_of


def at(hh: int, mm: int = 0) -> datetime:
    """A Berlin wall-clock time on the test day, as aware UTC (what the database holds)."""
    return local(hh, mm).astimezone(UTC)


NOW = at(14, 0)


def stop(i: int, **kw: Any) -> StopRecord:
    values: dict[str, Any] = {"vehicle_id": "V1", "sequence": i}
    values.update(kw)
    return StopRecord(id=i, order_ref=f"O{i}", **values)


def windowed(i: int, start: int, end: int, **kw: object) -> StopRecord:
    return stop(i, window_start=at(start), window_end=at(end), **kw)


# --- on time ---------------------------------------------------------------------------------


def test_arrival_inside_the_window_is_on_time_and_after_it_late() -> None:
    inside = windowed(1, 9, 11, arrival=at(10, 30), status="done", attempts=1)
    at_the_end = windowed(2, 9, 11, arrival=at(11), status="done", attempts=1)
    late = windowed(3, 9, 11, arrival=at(11, 1), status="done", attempts=1)
    assert [verdict(s, NOW) for s in (inside, at_the_end, late)] == [
        Verdict.ON_TIME,
        Verdict.ON_TIME,
        Verdict.LATE,
    ]
    assert on_time([inside, at_the_end, late], NOW).hits == 2
    assert on_time([inside, at_the_end, late], NOW).total == 3


def test_arriving_before_the_window_counts_on_time_because_the_driver_waits() -> None:
    early = windowed(1, 12, 13, arrival=at(11, 40), status="done", attempts=1)
    assert verdict(early, NOW) is Verdict.ON_TIME


def test_a_stop_with_no_window_is_not_judged_and_left_out_of_on_time() -> None:
    """Edge case: no window. Nothing was promised, so it is neither on time nor late."""
    no_window = stop(1, arrival=at(16), status="done", attempts=1)
    only_start = stop(2, window_start=at(9), arrival=at(16), status="done", attempts=1)
    judged = windowed(3, 9, 11, arrival=at(10), status="done", attempts=1)
    assert verdict(no_window, NOW) is Verdict.NOT_JUDGED
    assert verdict(only_start, NOW) is Verdict.NOT_JUDGED
    ratio = on_time([no_window, only_start, judged], NOW)
    assert (ratio.hits, ratio.total, ratio.percent) == (1, 1, 100.0)
    # ... but a done, first-attempt stop with no window is OTIF (it kept every promise).
    assert otif([no_window], NOW).hits == 1


def test_not_arrived_is_pending_until_the_window_ends_then_overdue() -> None:
    waiting = windowed(1, 13, 15)
    missed = windowed(2, 10, 12)
    assert verdict(waiting, NOW) is Verdict.PENDING
    assert verdict(missed, NOW) is Verdict.OVERDUE
    assert on_time([waiting, missed], NOW).total == 0  # only arrivals are judged


def test_grace_moves_the_deadline() -> None:
    slightly_late = windowed(1, 9, 11, arrival=at(11, 4))
    assert verdict(slightly_late, NOW) is Verdict.LATE
    assert verdict(slightly_late, NOW, KpiRules(grace_s=300)) is Verdict.ON_TIME


def test_percent_is_none_with_nothing_to_count() -> None:
    assert on_time([], NOW).percent is None


# --- attempts --------------------------------------------------------------------------------


def test_two_attempts_are_a_first_attempt_failure_judged_on_the_first_arrival() -> None:
    """Edge case: two attempts. The first visit (on time) failed; the second (late) worked.

    First-attempt success: no. On time: yes (the first arrival is what is judged). OTIF: no.
    """
    twice = windowed(1, 9, 11, arrival=at(10), status="done", attempts=2, completed_at=at(15))
    assert first_attempt([twice]).hits == 0
    assert first_attempt([twice]).total == 1
    assert verdict(twice, NOW) is Verdict.ON_TIME
    assert otif([twice], NOW).hits == 0


def test_a_stop_waiting_for_its_second_visit_already_failed_its_first() -> None:
    requeued = windowed(1, 9, 17, arrival=at(10), status="pending", attempts=1)
    assert first_attempt([requeued]).total == 1
    assert first_attempt([requeued]).hits == 0
    assert otif([requeued], NOW).total == 0  # not finished yet


def test_skipped_without_attempt_is_not_a_first_attempt_but_fails_otif() -> None:
    skipped = windowed(1, 9, 11, status="skipped")
    assert first_attempt([skipped]).total == 0
    ratio = otif([skipped], NOW)
    assert (ratio.hits, ratio.total) == (0, 1)


def test_done_with_no_attempt_counted_still_counts_one() -> None:
    by_hand = windowed(1, 9, 11, arrival=at(10), status="done", attempts=0)
    assert first_attempt([by_hand]).hits == 1


def test_a_pickup_counts_like_a_delivery() -> None:
    """Edge case: a pickup. Collected on the first visit inside its window: OTIF."""
    pickup = windowed(1, 9, 11, kind="pickup", arrival=at(9, 30), status="done", attempts=1)
    failed_pickup = windowed(2, 9, 11, kind="pickup", arrival=at(12), status="failed", attempts=1)
    assert first_attempt([pickup, failed_pickup]).hits == 1
    ratio = otif([pickup, failed_pickup], NOW)
    assert (ratio.hits, ratio.total) == (1, 2)
    assert verdict(failed_pickup, NOW) is Verdict.LATE


# --- a whole day ------------------------------------------------------------------------------


def small_day() -> DayRecords:
    """Two vans, one driver each, five stops, two exceptions (one acknowledged and resolved)."""
    stops = (
        windowed(1, 8, 10, arrival=at(9), completed_at=at(9, 5), status="done", attempts=1),
        windowed(2, 8, 10, arrival=at(10, 30), completed_at=at(10, 35), status="done", attempts=1),
        windowed(3, 13, 16, planned_arrival=at(12, 15)),
        stop(
            4,
            vehicle_id="V2",
            planned_arrival=at(9),
            arrival=at(9, 10),
            status="failed",
            attempts=1,
            completed_at=at(9, 12),
        ),
        windowed(5, 10, 11, vehicle_id="V2", planned_arrival=at(10, 30)),
    )
    vehicles = (
        VehicleRecord("V1", "Van 1", driver_id="D1", driver_name="Ada"),
        VehicleRecord("V2", "Van 2", driver_id="D2", driver_name="Bo"),
    )
    raised = Alert(
        kind=AlertKind.LATE,
        subject="stop:O2",
        severity=Severity.MEDIUM,
        title="late",
        first_seen=at(10),
        opened_at=at(10),
        last_seen=at(10),
        status=AlertStatus.RESOLVED,
        vehicle_id="V1",
        id=1,
    )
    still_open = Alert(
        kind=AlertKind.VEHICLE_OFFLINE,
        subject="vehicle:V2",
        severity=Severity.HIGH,
        title="offline",
        first_seen=at(13, 20),
        opened_at=at(13, 20),
        last_seen=at(13, 50),
        vehicle_id="V2",
        id=2,
    )
    audit = (
        AuditEntry(1, at(10), "system", "raise", None, {}, id=1),
        AuditEntry(1, at(10, 4), "ann", "acknowledge", {}, {}, id=2),
        AuditEntry(1, at(10, 20), "ann", "resolve", {}, {}, id=3),
        AuditEntry(2, at(13, 20), "system", "raise", None, {}, id=4),
    )
    return DayRecords(DAY, TZ, stops, vehicles, (raised, still_open), audit)


def test_fleet_report_of_a_small_day() -> None:
    report = compute_report(small_day(), NOW)
    h = report.headline
    assert (h.on_time.hits, h.on_time.total) == (1, 2)  # stop 4 has no window
    assert (h.first_attempt.hits, h.first_attempt.total) == (2, 3)
    assert (h.otif.hits, h.otif.total) == (1, 3)
    assert (h.done, h.planned) == (2, 5)
    assert h.late == 2  # stop 2 arrived late, stop 5 missed its window
    assert h.open_exceptions == 1
    assert h.time_to_acknowledge.count == 1 and h.time_to_acknowledge.mean_s == 240.0
    assert h.time_to_resolve.mean_s == 1200.0
    assert report.late_by_hour == {10: 1, 11: 1}  # by the hour the window ended
    assert dict(report.open_by_age)["30–60 min"] == 1


def test_done_vs_planned_curves() -> None:
    report = compute_report(small_day(), NOW)
    planned, done = report.planned_curve, report.done_curve
    points = dict(zip(planned.x, planned.y, strict=True))
    assert points[9.0] == 1 and points[12.25] == 3  # planned arrivals at 9:00, 10:30, 12:15
    assert done.x[-1] == 14.0  # local hours; the done curve stops at now
    done_points = dict(zip(done.x, done.y, strict=True))
    assert done_points[9.0] == 0 and done_points[9.25] == 1 and done_points[14.0] == 2


def test_route_and_driver_scopes_see_only_their_part() -> None:
    day = small_day()
    scopes = scopes_of(day)
    assert [s.label for s in scopes] == [
        "Whole fleet",
        "Route Van 1 (V1)",
        "Route Van 2 (V2)",
        "Driver Ada",
        "Driver Bo",
    ]
    v2 = compute_report(day, NOW, Scope(ScopeKind.ROUTE, "V2")).headline
    assert (v2.planned, v2.done, v2.open_exceptions, v2.time_to_acknowledge.count) == (2, 0, 1, 0)
    ada = compute_report(day, NOW, Scope(ScopeKind.DRIVER, "D1")).headline
    assert (ada.planned, ada.on_time.total, ada.open_exceptions) == (3, 2, 0)
    assert ada.time_to_resolve.count == 1


def test_open_exceptions_by_age_bucket_edges() -> None:
    ages = [timedelta(minutes=m) for m in (0, 14.9, 15, 59, 60, 119, 120, 600)]
    assert open_by_age(ages) == (
        ("<15 min", 2),
        ("15–30 min", 1),
        ("30–60 min", 1),
        ("1–2 h", 2),
        (">2 h", 2),
    )
