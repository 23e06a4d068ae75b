"""Priority order, supervisor figures with their CSV export, and the CLI listing."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from alerts_builders import ALICE, BOB, SUE, T0, cond, minutes

from dispatcher.alerts.listing import format_alerts, parse_status_filter
from dispatcher.alerts.priority import priority_key, urgency_minutes
from dispatcher.alerts.stats import compute_stats, write_stats_csv
from dispatcher.alerts.store import InMemoryAlertStore
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import FakeClock
from dispatcher.errors import ValidationError
from dispatcher.model.alerts import (
    OPEN_STATUSES,
    Alert,
    AlertKind,
    AlertStatus,
    ResolutionCode,
    Severity,
)

ALL = frozenset(AlertKind)


def alert(severity: Severity, due_min: float | None, **kw: Any) -> Alert:
    return Alert(
        kind=AlertKind.LATE,
        subject=f"stop:{severity.name}{due_min}",
        severity=severity,
        title="t",
        first_seen=T0,
        opened_at=T0,
        last_seen=T0,
        sla_deadline=None if due_min is None else T0 + minutes(due_min),
        **kw,
    )


def order(*alerts: Alert) -> list[Alert]:
    return sorted(alerts, key=lambda a: priority_key(a, T0))


def test_severity_buys_lead_time_over_the_deadline() -> None:
    critical_in_2h = alert(Severity.CRITICAL, 120)
    high_in_5 = alert(Severity.HIGH, 5)
    low_in_70 = alert(Severity.LOW, 70)
    assert order(critical_in_2h, low_in_70, high_in_5) == [high_in_5, critical_in_2h, low_in_70]
    assert urgency_minutes(critical_in_2h, T0) == 60  # 120 - 60
    assert urgency_minutes(high_in_5, T0) == -25  # 5 - 30


def test_no_deadline_ranks_like_four_hours_and_overdue_is_floored() -> None:
    assert urgency_minutes(alert(Severity.LOW, None), T0) == 240
    assert urgency_minutes(alert(Severity.LOW, -600), T0) == -60
    assert urgency_minutes(alert(Severity.LOW, 900), T0) == 240


def test_equal_urgency_breaks_on_severity_then_age() -> None:
    medium = alert(Severity.MEDIUM, 15)  # 15 - 15 = 0
    low = alert(Severity.LOW, 0)  # 0 - 0 = 0
    assert order(low, medium) == [medium, low]


def test_snoozed_then_closed_sink_to_the_bottom() -> None:
    closed = alert(Severity.CRITICAL, -10, status=AlertStatus.RESOLVED)
    snoozed = alert(Severity.CRITICAL, -10, status=AlertStatus.SNOOZED)
    working = alert(Severity.LOW, None, status=AlertStatus.ASSIGNED)
    assert order(closed, snoozed, working) == [working, snoozed, closed]


# -- stats -----------------------------------------------------------------------------------


@pytest.fixture
def day(service: AlertService, store: InMemoryAlertStore, clock: FakeClock) -> InMemoryAlertStore:
    """A small day: Alice takes one in 2 min, resolves in 10; Bob acks a late in 4 min and
    Sue resolves it at 20; one alert clears by itself."""
    raised = service.reconcile(
        [cond(), cond(AlertKind.LATE, "stop:S1"), cond(AlertKind.VEHICLE_IDLE, "vehicle:V9")],
        ALL,
    ).raised
    offline, late, idle = raised
    clock.advance(minutes=2)
    a = service.assign(offline.id or 0, ALICE, ALICE, offline.version)
    clock.advance(minutes=2)
    b = service.acknowledge(late.id or 0, BOB, late.version)
    clock.advance(minutes=6)
    service.resolve(a.id or 0, ALICE, a.version, ResolutionCode.DRIVER_CONTACTED)
    service.reconcile([cond(), cond(AlertKind.LATE, "stop:S1")], ALL)  # idle clears
    clock.advance(minutes=10)
    service.resolve(b.id or 0, SUE, b.version, ResolutionCode.CUSTOMER_CONTACTED)
    assert idle.id is not None
    return store


def test_time_to_acknowledge_and_resolve_per_person_and_kind(
    day: InMemoryAlertStore, clock: FakeClock
) -> None:
    stats = compute_stats(day.list_alerts(), day.list_audit(), clock.now())
    assert stats.tta_by_user["alice"].mean_s == 120
    assert stats.tta_by_user["bob"].mean_s == 240
    assert "sue" not in stats.tta_by_user  # Bob had acknowledged it already
    assert stats.ttr_by_user["alice"].mean_s == 600
    assert stats.ttr_by_user["sue"].mean_s == 1200
    assert stats.tta_by_kind["vehicle_offline"].count == 1
    assert stats.ttr_by_kind["late"].max_s == 1200
    assert dict(stats.resolved_today_by) == {"alice": 1, "sue": 1}
    assert stats.auto_resolved_today == 1


def test_resolved_today_starts_at_local_midnight(day: InMemoryAlertStore, clock: FakeClock) -> None:
    clock.advance(minutes=24 * 60)
    stats = compute_stats(day.list_alerts(), day.list_audit(), clock.now())
    assert dict(stats.resolved_today_by) == {}
    assert stats.ttr_by_user["alice"].count == 1  # durations cover the whole log given


def test_stats_export_as_csv(day: InMemoryAlertStore, clock: FakeClock) -> None:
    out = io.StringIO()
    write_stats_csv(compute_stats(day.list_alerts(), day.list_audit(), clock.now()), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    alice_ttr = next(r for r in rows if r["key"] == "alice" and r["metric"] == "time_to_resolve")
    assert alice_ttr == {
        "section": "by_user",
        "key": "alice",
        "metric": "time_to_resolve",
        "count": "1",
        "mean_min": "10.0",
        "median_min": "10.0",
        "max_min": "10.0",
    }
    assert {
        "section": "today",
        "key": "sue",
        "metric": "resolved",
        "count": "1",
        "mean_min": "",
        "median_min": "",
        "max_min": "",
    } in rows


def test_empty_log_gives_empty_figures(clock: FakeClock) -> None:
    stats = compute_stats([], [], clock.now())
    assert not stats.tta_by_user and not stats.resolved_today_by
    out = io.StringIO()
    write_stats_csv(stats, out)
    assert out.getvalue().startswith("section,key,metric")


# -- listing ---------------------------------------------------------------------------------


def test_status_filter_words() -> None:
    assert parse_status_filter("open") == OPEN_STATUSES
    assert parse_status_filter("new, escalated") == {AlertStatus.NEW, AlertStatus.ESCALATED}
    assert parse_status_filter("all") == set(AlertStatus)
    with pytest.raises(ValidationError, match="unknown status 'opne'"):
        parse_status_filter("opne")


def test_listing_as_a_table(service: AlertService, clock: FakeClock) -> None:
    service.reconcile([cond(AlertKind.LATE, "stop:S1", sla_deadline=T0 + minutes(12))], ALL)
    out = io.StringIO()
    format_alerts(service.list_alerts(SUE), False, out, now=clock.now())
    header, row = out.getvalue().splitlines()
    assert header.split() == [
        "ID",
        "STATUS",
        "SEV",
        "KIND",
        "SUBJECT",
        "N",
        "SLA",
        "ASSIGNEE",
        "TITLE",
    ]
    assert row.split()[:8] == ["1", "new", "high", "late", "stop:S1", "1", "+12m", "-"]
    out = io.StringIO()
    format_alerts(service.list_alerts(SUE), False, out)
    assert "09:12" in out.getvalue()


def test_listing_nothing(clock: FakeClock) -> None:
    out = io.StringIO()
    format_alerts([], False, out)
    assert out.getvalue() == "No exceptions.\n"


def test_listing_as_json_round_trips_through_json(service: AlertService) -> None:
    service.reconcile([cond(details={"late_min": 4.5})], ALL)
    out = io.StringIO()
    format_alerts(service.list_alerts(SUE), True, out)
    (item,) = json.loads(out.getvalue())
    assert item["kind"] == "vehicle_offline"
    assert item["severity"] == "high"
    assert item["status"] == "new"
    assert item["first_seen"] == T0.isoformat()
    assert item["details"] == {"late_min": 4.5}
    assert item["version"] == 1
