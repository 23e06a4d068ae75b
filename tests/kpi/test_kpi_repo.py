"""Loading a day for the KPIs from a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fleet_zone import DAY, TZ, demo_day, local
from sqlalchemy import update

from dispatcher.kpi.report import compute_report
from dispatcher.kpi.snapshot import load_snapshot
from dispatcher.model.alerts import Alert, AlertKind, AlertStatus, AuditEntry, Severity
from dispatcher.model.core import DeliveryEventKind, EventReport
from dispatcher.model.stops import RouteView
from dispatcher.persistence import fleet_repo, kpi_repo
from dispatcher.persistence.alert_repo import SqlAlertStore
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Stop
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink


def at(hh: int, mm: int = 0) -> datetime:
    return local(hh, mm).astimezone(UTC)


def event(kind: DeliveryEventKind, ref: str, ts: datetime, n: int) -> EventReport:
    return EventReport("V01", ts, kind, f"e{n}", stop_id=ref, reason="not home")


def seeded(url: str) -> tuple[Database, str]:
    db = Database(url)
    with db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    routes = fleet_repo_routes(db)
    return db, routes[0].stops[0].order_ref


def fleet_repo_routes(db: Database) -> list[RouteView]:
    with db.session() as session:
        return fleet_repo.load_routes(session, DAY)


def test_load_day_keeps_the_first_arrival_and_counts_attempts(db_url: str) -> None:
    db, ref = seeded(db_url)
    try:
        SqlTelemetrySink(db).write_events(
            [
                event(DeliveryEventKind.ARRIVED, ref, at(9, 0), 1),
                event(DeliveryEventKind.FAILED, ref, at(9, 5), 2),
                event(DeliveryEventKind.ARRIVED, ref, at(15, 0), 3),
                event(DeliveryEventKind.DELIVERED, ref, at(15, 2), 4),
            ]
        )
        with db.session() as session:
            day = kpi_repo.load_day(session, TZ)
        assert day.day == DAY and len(day.stops) == 250 and len(day.vehicles) == 12
        first = next(s for s in day.stops if s.order_ref == ref)
        assert first.arrival == at(9, 0)  # not the second visit's 15:00
        assert (first.status, first.attempts, first.completed_at) == ("done", 2, at(15, 2))
        assert first.vehicle_id == "V01" and first.driver_id == "DR01"
        assert first.customer
    finally:
        db.dispose()


def test_a_stop_completed_without_an_arrival_event_arrived_when_completed(db_url: str) -> None:
    db, ref = seeded(db_url)
    try:
        with db.session() as session:
            session.execute(
                update(Stop)
                .where(Stop.order_ref == ref)
                .values(status="done", attempts=1, completed_at=at(10, 0))
            )
        with db.session() as session:
            day = kpi_repo.load_day(session, TZ)
        assert next(s for s in day.stops if s.order_ref == ref).arrival == at(10, 0)
    finally:
        db.dispose()


def test_alerts_open_or_closed_today_come_with_todays_audit(db_url: str) -> None:
    db, _ = seeded(db_url)
    try:
        with db.session() as session:
            store = SqlAlertStore(session)
            base: dict[str, Any] = {"severity": Severity.MEDIUM, "title": "t", "vehicle_id": "V02"}
            open_now = store.insert(
                Alert(
                    AlertKind.LATE,
                    "stop:1",
                    first_seen=at(8),
                    opened_at=at(8),
                    last_seen=at(8),
                    **base,
                )
            )
            closed_today = store.insert(
                Alert(
                    AlertKind.AT_RISK,
                    "stop:2",
                    first_seen=at(9),
                    opened_at=at(9),
                    last_seen=at(9),
                    status=AlertStatus.RESOLVED,
                    resolved_at=at(9, 30),
                    **base,
                )
            )
            store.insert(
                Alert(
                    AlertKind.AT_RISK,
                    "stop:3",
                    first_seen=at(9) - timedelta(days=1),
                    opened_at=at(9) - timedelta(days=1),
                    last_seen=at(9),
                    status=AlertStatus.RESOLVED,
                    resolved_at=at(9) - timedelta(days=1),
                    **base,
                )
            )
            for alert_id, action, ts, actor in (
                (open_now.id, "raise", at(8), "system"),
                (closed_today.id, "raise", at(9), "system"),
                (closed_today.id, "acknowledge", at(9, 10), "ann"),
                (closed_today.id, "resolve", at(9, 30), "ann"),
            ):
                assert alert_id is not None
                store.append_audit(AuditEntry(alert_id, ts, actor, action, None, {}))
        snap = load_snapshot(db, TZ, at(10), {}, day=DAY)
        assert [a.id for a in snap.records.alerts] == [open_now.id, closed_today.id]
        assert len(snap.records.audit) == 4
        report = compute_report(snap.records, at(10))
        assert report.headline.open_exceptions == 1
        assert report.headline.time_to_acknowledge.mean_s == 600.0
        assert report.headline.time_to_resolve.mean_s == 1800.0
        # planned arrivals were filled in from the plan: every routed stop has one
        assert all(s.planned_arrival is not None for s in snap.records.stops)
    finally:
        db.dispose()


def test_an_empty_database_gives_an_empty_day(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        snap = load_snapshot(db, TZ, at(10), {"V1": (52.5, 13.4)})
        assert snap.records.stops == () and snap.predicted == {}
        assert compute_report(snap.records, at(10)).headline.planned == 0
    finally:
        db.dispose()
