"""The SQL side of position history: replay windows, proof-of-visit candidates, pruning.

Positions carry a coarse grid ``cell`` (0.01 degree, about 1.1 km x 0.7 km in central Europe)
indexed with the time, so "who was near this point between T1 and T2" reads a few short index
ranges instead of every fix of the period. The cell is only a prefilter: the history room
checks the exact distance (or polygon) on the candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, and_, bindparam, delete, func, literal_column, or_, select
from sqlalchemy.orm import Session

from dispatcher.errors import DatabaseError
from dispatcher.model.stops import StopView
from dispatcher.persistence.fleet_repo import stop_view
from dispatcher.persistence.grid import LON_CELLS, MAX_CELLS
from dispatcher.persistence.orm import (
    Customer,
    OutboxRow,
    PositionRow,
    Route,
    Stop,
    Vehicle,
    VehicleEventRow,
)


@dataclass(frozen=True, slots=True)
class Box:
    """A latitude/longitude rectangle; ``west > east`` means it crosses the antimeridian."""

    south: float
    west: float
    north: float
    east: float


def cells_in_box(box: Box) -> list[int] | None:
    """Every cell the box touches, or ``None`` when there are too many to list."""
    lat_lo = int((max(box.south, -90.0) + 90.0) * 100.0)
    lat_hi = int((min(box.north, 90.0) + 90.0) * 100.0)
    lon_ranges = (
        [(box.west, box.east)] if box.west <= box.east else [(box.west, 180.0), (-180.0, box.east)]
    )
    lon_idx: list[int] = []
    for west, east in lon_ranges:
        lon_idx.extend(range(int((west + 180.0) * 100.0), int((east + 180.0) * 100.0) + 1))
    n = (lat_hi - lat_lo + 1) * len(lon_idx)
    if n > MAX_CELLS:
        return None
    return [la * LON_CELLS + lo for la in range(lat_lo, lat_hi + 1) for lo in lon_idx]


PositionTuple = tuple[str, datetime, float, float, float | None, float | None]

_POSITION_COLUMNS = (
    PositionRow.vehicle_id,
    PositionRow.ts,
    PositionRow.lat,
    PositionRow.lon,
    PositionRow.speed_kmh,
    PositionRow.heading_deg,
)


def positions_between(
    session: Session, t0: datetime, t1: datetime, vehicle_ids: Sequence[str] | None = None
) -> list[PositionTuple]:
    """Every stored fix with ``t0 <= ts <= t1``, in time order (ties in insertion order)."""
    stmt = select(*_POSITION_COLUMNS).where(PositionRow.ts >= t0, PositionRow.ts <= t1)
    if vehicle_ids is not None:
        stmt = stmt.where(PositionRow.vehicle_id.in_(list(vehicle_ids)))
    stmt = stmt.order_by(PositionRow.ts, PositionRow.id)
    return [tuple(row) for row in session.execute(stmt)]  # type: ignore[misc]  # untyped select


#: A fix for replay: (vehicle, epoch seconds, lat, lon, speed, heading).
ReplayTuple = tuple[str, float, float, float, float | None, float | None]

#: ``positions.ts`` as exact epoch seconds, computed by the database: a replay window is
#: 100,000s of rows, and building a datetime per row (then a timestamp) would cost more than
#: the query. Both formulas round like ``datetime.timestamp()`` (integer microseconds / 1e6).
_EPOCH_SQL = {
    "sqlite": "(CAST(strftime('%s', positions.ts) AS INTEGER) * 1000000"
    " + CAST(substr(positions.ts, 21, 6) AS INTEGER)) / 1000000.0",
    "postgresql": "CAST(EXTRACT(EPOCH FROM positions.ts) AS DOUBLE PRECISION)",
}


def _replay_columns(session: Session) -> tuple[Any, ...]:
    epoch = literal_column(_EPOCH_SQL[session.get_bind().dialect.name], Float)
    p = PositionRow
    return (p.vehicle_id, epoch, p.lat, p.lon, p.speed_kmh, p.heading_deg)


_PG_REPLAY_SQL = (
    "SELECT vehicle_id, CAST(EXTRACT(EPOCH FROM ts) AS DOUBLE PRECISION), lat, lon,"
    " speed_kmh, heading_deg FROM positions WHERE ts >= %s AND ts <= %s ORDER BY ts, id"
)


def replay_positions(session: Session, t0: datetime, t1: datetime) -> list[ReplayTuple]:
    """Like :func:`positions_between` (same rows, same order) with epoch-second times."""
    if session.get_bind().dialect.name == "postgresql":
        return _pg_binary_rows(session, _PG_REPLAY_SQL, (t0, t1))
    stmt = (
        select(*_replay_columns(session))
        .where(PositionRow.ts >= t0, PositionRow.ts <= t1)
        .order_by(PositionRow.ts, PositionRow.id)
    )
    return [tuple(row) for row in session.execute(stmt)]


def _pg_binary_rows(session: Session, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """Run ``sql`` on the session's connection with psycopg's binary protocol.

    A one-hour replay of 500 vehicles is ~180,000 rows; parsing their floats from text
    takes longer than the query (0.58 s against 0.25 s in bench/history.py), so this one
    read asks PostgreSQL for binary values, in the session's own transaction.
    """
    dialect = session.get_bind().dialect
    driver = session.connection().connection.driver_connection
    try:
        with driver.cursor(binary=True) as cursor:  # type: ignore[union-attr]  # psycopg's, on PG
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    except dialect.loaded_dbapi.Error as exc:
        raise DatabaseError(f"Database error while reading history: {exc}") from None


def replay_seeds(session: Session, t: datetime, lookback_from: datetime) -> list[ReplayTuple]:
    """Each vehicle's last fix in ``[lookback_from, t)``, epoch-second times."""
    latest = (
        select(PositionRow.vehicle_id, func.max(PositionRow.ts).label("ts"))
        .where(PositionRow.ts >= lookback_from, PositionRow.ts < t)
        .group_by(PositionRow.vehicle_id)
        .subquery()
    )
    stmt = (
        select(*_replay_columns(session))
        .join(
            latest,
            and_(PositionRow.vehicle_id == latest.c.vehicle_id, PositionRow.ts == latest.c.ts),
        )
        .order_by(PositionRow.vehicle_id, PositionRow.id)
    )
    seen: dict[str, ReplayTuple] = {}
    for row in session.execute(stmt):
        seen[row[0]] = tuple(row)
    return list(seen.values())


EventTuple = tuple[datetime, str, str, str | None, str, float | None, float | None]


def events_between(session: Session, t0: datetime, t1: datetime) -> list[EventTuple]:
    """Delivery events in ``[t0, t1]``: (ts, vehicle, kind, stop ref, reason, lat, lon)."""
    e = VehicleEventRow
    stmt = (
        select(e.ts, e.vehicle_id, e.kind, e.stop_ref, e.reason, e.lat, e.lon)
        .where(e.ts >= t0, e.ts <= t1)
        .order_by(e.ts, e.id)
    )
    return [tuple(row) for row in session.execute(stmt)]  # type: ignore[misc]  # untyped select


def positions_in_box(session: Session, box: Box, t0: datetime, t1: datetime) -> list[PositionTuple]:
    """Fixes inside ``box`` between ``t0`` and ``t1`` (the proof-of-visit prefilter)."""
    lon_filter = (
        PositionRow.lon.between(box.west, box.east)
        if box.west <= box.east
        else or_(PositionRow.lon >= box.west, PositionRow.lon <= box.east)
    )
    stmt = select(*_POSITION_COLUMNS).where(
        PositionRow.ts >= t0,
        PositionRow.ts <= t1,
        PositionRow.lat.between(box.south, box.north),
        lon_filter,
    )
    cells = cells_in_box(box)
    if cells is not None:
        stmt = stmt.where(PositionRow.cell.in_(bindparam("cells", expanding=True)))
    stmt = stmt.order_by(PositionRow.ts, PositionRow.id)
    params: dict[str, Any] = {"cells": cells} if cells is not None else {}
    return [tuple(row) for row in session.execute(stmt, params)]  # type: ignore[misc]  # untyped select


def prune_positions(session: Session, before: datetime, limit: int) -> int:
    """Delete at most ``limit`` of the oldest fixes older than ``before``; returns how many."""
    oldest = (
        select(PositionRow.id)
        .where(PositionRow.ts < before)
        .order_by(PositionRow.ts)
        .limit(limit)
        .scalar_subquery()
    )
    result = session.execute(delete(PositionRow).where(PositionRow.id.in_(oldest)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult: has it


def count_positions(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(PositionRow)) or 0)


# -- the day report ---------------------------------------------------------------------


def stops_of_day(session: Session, day: date) -> list[StopView]:
    """Every stop with ``service_date == day``, by vehicle then sequence (unassigned last)."""
    stmt = (
        select(Stop, Route.vehicle_id, Vehicle.name, Customer.name)
        .outerjoin(Route, Stop.route_id == Route.id)
        .outerjoin(Vehicle, Route.vehicle_id == Vehicle.id)
        .outerjoin(Customer, Stop.customer_id == Customer.id)
        .where(Stop.service_date == day)
        .order_by(Route.vehicle_id.is_(None), Route.vehicle_id, Stop.sequence, Stop.order_ref)
    )
    return [
        stop_view(s, customer_name=cname or "", vehicle_id=vid, vehicle_name=vname or "")
        for s, vid, vname, cname in session.execute(stmt)
    ]


def messages_for_stops(
    session: Session, order_refs: Iterable[str], statuses: Sequence[str]
) -> dict[str, list[tuple[str, str, datetime | None]]]:
    """Outbox rows per stop in one of ``statuses``: (situation, channel, sent_at)."""
    refs = list(order_refs)
    out: dict[str, list[tuple[str, str, datetime | None]]] = {}
    if not refs:
        return out
    o = OutboxRow
    stmt = (
        select(o.stop_ref, o.situation, o.channel, o.sent_at)
        .where(o.stop_ref.in_(bindparam("refs", expanding=True)), o.status.in_(list(statuses)))
        .order_by(o.stop_ref, o.created_at, o.id)
    )
    for ref, situation, channel, sent_at in session.execute(stmt, {"refs": refs}):
        out.setdefault(ref or "", []).append((situation, channel, sent_at))
    return out
