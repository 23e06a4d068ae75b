"""Loading one service day for the KPIs and the route timeline (plain records, no ORM out).

Three reads: the day's stops with their route, vehicle, driver and customer; the first
``arrived`` and first completing event of each stop (a re-delivered stop keeps its first
arrival, which is what on-time is judged on); the exceptions open now or closed during the
day with their audit entries of the day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatcher.model.alerts import OPEN_STATUSES, Alert, AlertFilter, AuditEntry
from dispatcher.model.kpi import DayRecords, StopRecord, VehicleRecord
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.alert_repo import AUDIT_ENTITY, SqlAlertStore
from dispatcher.persistence.orm import AuditEntry as AuditRow
from dispatcher.persistence.orm import Customer, Route, Stop, VehicleEventRow

_COMPLETING = ("delivered", "picked_up", "failed")
_CHUNK = 500


def load_day(session: Session, tz: tzinfo, day: date | None = None) -> DayRecords:
    """The records of ``day`` (default: the latest day with stops; empty if there is none)."""
    day = day or fleet_repo.latest_service_date(session)
    if day is None:
        return DayRecords(date.today(), tz)
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    vehicles = _vehicles(session)
    stops = _stops(session, day, {v.id: v.driver_id for v in vehicles})
    alerts = _alerts(session, midnight)
    audit = _audit(session, [a.id for a in alerts if a.id is not None], midnight)
    return DayRecords(day, tz, tuple(stops), tuple(vehicles), tuple(alerts), tuple(audit))


def _vehicles(session: Session) -> list[VehicleRecord]:
    """Every vehicle, retired ones included: a past day's report still names them."""
    return [
        VehicleRecord(
            id=v.id,
            name=v.name,
            driver_id=v.driver_id,
            driver_name=v.driver_name,
            capacity=v.capacity,
            shift_start=v.shift_start,
            shift_end=v.shift_end,
            depot_lat=v.depot_lat,
            depot_lon=v.depot_lon,
            break_after_min=v.break_after_min,
            break_min=v.break_min,
            break_latest_min=v.break_latest_min,
            vehicle_type=v.vehicle_type,
        )
        for v in fleet_repo.load_vehicles(session, active_only=False)
    ]


def _stops(session: Session, day: date, drivers: dict[str, str | None]) -> list[StopRecord]:
    arrived = _first_event(session, day, ("arrived",))
    completed = _first_event(session, day, _COMPLETING)
    # Columns, not ORM entities: hydrating 10,000 stops and their customers was most of a
    # KPI refresh at 500 vehicles (bench/console.py), and the records are plain anyway.
    rows = session.execute(
        select(
            Stop.id,
            Stop.order_ref,
            Stop.kind,
            Stop.status,
            Route.vehicle_id,
            Stop.sequence,
            Stop.window_start,
            Stop.window_end,
            Stop.planned_arrival,
            Stop.actual_arrival,
            Stop.completed_at,
            Stop.attempts,
            Customer.name,
            Stop.lat,
            Stop.lon,
            Stop.service_s,
            Stop.demand,
        )
        .outerjoin(Route, Stop.route_id == Route.id)
        .outerjoin(Customer, Stop.customer_id == Customer.id)
        .where(Stop.service_date == day)
        .order_by(Route.vehicle_id, Stop.sequence, Stop.id)
    )
    found = []
    for stop in rows:
        vehicle_id = stop.vehicle_id
        arrival = arrived.get(stop.order_ref) or stop.actual_arrival
        if arrival is None and stop.status in ("done", "failed"):
            arrival = completed.get(stop.order_ref) or stop.completed_at
        found.append(
            StopRecord(
                id=stop.id,
                order_ref=stop.order_ref,
                kind=stop.kind,
                status=stop.status,
                vehicle_id=vehicle_id,
                driver_id=drivers.get(vehicle_id) if vehicle_id else None,
                sequence=stop.sequence,
                window_start=stop.window_start,
                window_end=stop.window_end,
                planned_arrival=stop.planned_arrival,
                arrival=arrival,
                completed_at=stop.completed_at,
                attempts=stop.attempts,
                customer=stop.name or "",
                lat=stop.lat,
                lon=stop.lon,
                service_s=stop.service_s,
                demand=stop.demand,
            )
        )
    return found


def _first_event(session: Session, day: date, kinds: Sequence[str]) -> dict[str, datetime]:
    """Earliest event of ``kinds`` per order ref of the day's stops."""
    rows = session.execute(
        select(VehicleEventRow.stop_ref, func.min(VehicleEventRow.ts))
        .join(Stop, Stop.order_ref == VehicleEventRow.stop_ref)
        .where(Stop.service_date == day, VehicleEventRow.kind.in_(kinds))
        .group_by(VehicleEventRow.stop_ref)
    )
    return {ref: _aware(ts) for ref, ts in rows if ref is not None and ts is not None}


def _aware(ts: Any) -> datetime:
    """``min()`` bypasses the column type on SQLite (text back): parse and mark UTC."""
    value = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _alerts(session: Session, midnight: datetime) -> list[Alert]:
    """Open exceptions, and those closed since ``midnight``, once each by id."""
    store = SqlAlertStore(session)
    found = {a.id: a for a in store.list_alerts(AlertFilter(statuses=OPEN_STATUSES))}
    for alert in store.list_alerts(AlertFilter(resolved_since=midnight)):
        found.setdefault(alert.id, alert)
    return [found[k] for k in sorted(k for k in found if k is not None)]


def _audit(session: Session, alert_ids: Iterable[int], midnight: datetime) -> list[AuditEntry]:
    ids = [str(i) for i in alert_ids]
    entries: list[AuditEntry] = []
    for start in range(0, len(ids), _CHUNK):
        rows = session.scalars(
            select(AuditRow)
            .where(
                AuditRow.entity == AUDIT_ENTITY,
                AuditRow.entity_id.in_(ids[start : start + _CHUNK]),
                AuditRow.ts >= midnight,
            )
            .order_by(AuditRow.id)
        )
        entries += [
            AuditEntry(
                alert_id=int(row.entity_id),
                ts=row.ts,
                actor=row.actor,
                action=row.action,
                before=row.before,
                after=row.after or {},
                id=row.id,
            )
            for row in rows
        ]
    return entries
