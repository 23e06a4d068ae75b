"""The support desk's SQL: order search, an order's facts, the flight recorder's record and the
shift handover's audit entries (dispatcher/support/ turns these rows into what people read).

Every function takes an open session; none commits (the caller's ``db.session()`` does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, insert, or_, select
from sqlalchemy.orm import Session

from dispatcher.persistence.orm import (
    AlertRow,
    AuditEntry,
    Customer,
    EtaLogRow,
    OutboxRow,
    Route,
    Stop,
    VehicleEventRow,
)

ALERT_ENTITY = "alert"
HANDOVER_ENTITY = "handover"
#: How far before a recording's start the last ETA of a stop is looked for.
ETA_LOOKBACK = timedelta(hours=24)


def like_escape(text: str) -> str:
    """``text`` with LIKE's wildcards made literal (escape character ``\\``): a typed ``%``
    must not match every order."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One search hit: the order with its customer, as stored."""

    stop_id: int
    order_ref: str
    service_date: date
    status: str
    address: str
    customer_name: str
    customer_phone: str
    vehicle_id: str | None
    customer_ref: str = ""


def search_orders(
    session: Session,
    text: str,
    digit_pattern: str | None,
    *,
    include_phone: bool,
    limit: int,
) -> list[OrderRow]:
    """Orders whose reference, customer name or customer reference contains ``text`` (any
    case), or — when ``include_phone`` — whose customer's phone has ``digit_pattern`` (a LIKE
    pattern of digits with ``%`` between them, so spaces and dashes in a stored number do not
    hide it). Newest service day first, at most ``limit``."""
    found = []
    if text:
        pattern = f"%{like_escape(text.lower())}%"
        found += [
            func.lower(Stop.order_ref).like(pattern, escape="\\"),
            func.lower(Customer.name).like(pattern, escape="\\"),
            func.lower(Customer.ref).like(pattern, escape="\\"),
        ]
    if include_phone and digit_pattern:
        found.append(Customer.phone.like(digit_pattern))
    if not found:
        return []
    query = (
        _order_select()
        .where(or_(*found))
        .order_by(Stop.service_date.desc(), Stop.order_ref)
        .limit(limit)
    )
    return [_order_row(r) for r in session.execute(query)]


def _order_select() -> Select[Any]:
    return (
        select(  # type: ignore[return-value]  # SQLAlchemy types it Select[tuple[9 columns]]
            Stop.id,
            Stop.order_ref,
            Stop.service_date,
            Stop.status,
            Stop.address,
            Customer.name,
            Customer.phone,
            Route.vehicle_id,
            Customer.ref,
        )
        .outerjoin(Customer, Customer.id == Stop.customer_id)
        .outerjoin(Route, Route.id == Stop.route_id)
    )


def _order_row(r: Any) -> OrderRow:
    return OrderRow(
        int(r[0]), r[1], r[2], r[3], r[4] or "", r[5] or "", r[6] or "", r[7] or None, r[8] or ""
    )


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What the order card shows of the order itself and where it stands on its route."""

    row: OrderRow
    kind: str
    window_start: datetime | None
    window_end: datetime | None
    planned_arrival: datetime | None
    actual_arrival: datetime | None
    completed_at: datetime | None
    attempts: int
    failure_reason: str
    pod_ref: str
    sequence: int | None
    route_stops: int
    open_before: int
    customer_email: str
    last_eta: tuple[datetime, datetime | None, bool] | None


def order_facts(session: Session, stop_id: int) -> OrderFacts | None:
    """The order with its customer, route position and last recorded ETA; None if gone."""
    stop = session.get(Stop, stop_id)
    if stop is None:
        return None
    row = _order_row(session.execute(_order_select().where(Stop.id == stop_id)).one())
    route_stops = open_before = 0
    if stop.route_id is not None:
        seqs = session.execute(
            select(Stop.sequence, Stop.status).where(Stop.route_id == stop.route_id)
        ).all()
        route_stops = len(seqs)
        open_before = sum(
            1
            for seq, status in seqs
            if seq is not None
            and stop.sequence is not None
            and seq < stop.sequence
            and status in ("pending", "arrived")
        )
    eta = session.execute(
        select(EtaLogRow.ts, EtaLogRow.eta, EtaLogRow.actual)
        .where(EtaLogRow.stop_id == stop_id)
        .order_by(EtaLogRow.ts.desc(), EtaLogRow.id.desc())
        .limit(1)
    ).first()
    return OrderFacts(
        row=row,
        kind=stop.kind,
        window_start=stop.window_start,
        window_end=stop.window_end,
        planned_arrival=stop.planned_arrival,
        actual_arrival=stop.actual_arrival,
        completed_at=stop.completed_at,
        attempts=stop.attempts,
        failure_reason=stop.failure_reason,
        pod_ref=stop.pod_ref,
        sequence=stop.sequence if stop.route_id is not None else None,
        route_stops=route_stops,
        open_before=open_before,
        customer_email=stop.customer.email if stop.customer else "",
        last_eta=(eta[0], eta[1], bool(eta[2])) if eta else None,
    )


def outbox_of_order(session: Session, order_ref: str) -> list[OutboxRow]:
    """The messages queued for an order (any status), oldest first."""
    return list(
        session.scalars(
            select(OutboxRow).where(OutboxRow.stop_ref == order_ref).order_by(OutboxRow.id)
        )
    )


def alerts_of_stop(session: Session, stop_id: int) -> list[AlertRow]:
    """Every exception raised about a stop (alerts name stops by their database id)."""
    return list(
        session.scalars(
            select(AlertRow).where(AlertRow.stop_id == str(stop_id)).order_by(AlertRow.id)
        )
    )


def events_of_order(session: Session, order_ref: str) -> list[VehicleEventRow]:
    """The drivers' reports about an order (arrived, delivered, failed, with any POD)."""
    return list(
        session.scalars(
            select(VehicleEventRow)
            .where(VehicleEventRow.stop_ref == order_ref)
            .order_by(VehicleEventRow.ts, VehicleEventRow.id)
        )
    )


# -- the flight recorder --------------------------------------------------------------------


def alert_entries(session: Session, start: datetime, end: datetime) -> list[AuditEntry]:
    """The alert audit entries that decide the queue in ``[start, end]``: each alert's last
    entry before ``start`` (its state when the window opens) and every entry inside it."""
    last_before = (
        select(func.max(AuditEntry.id))
        .where(AuditEntry.entity == ALERT_ENTITY, AuditEntry.ts < start)
        .group_by(AuditEntry.entity_id)
    )
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.entity == ALERT_ENTITY,
            or_(
                and_(AuditEntry.ts >= start, AuditEntry.ts <= end),
                AuditEntry.id.in_(last_before),
            ),
        )
        .order_by(AuditEntry.ts, AuditEntry.id)
    )
    return list(session.scalars(query))


def alert_titles(session: Session, alert_ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    """Alert id -> (title, stop id) for the queue's rows."""
    wanted = sorted(set(alert_ids))
    found: dict[int, tuple[str, str | None]] = {}
    for i in range(0, len(wanted), 500):
        rows = session.execute(
            select(AlertRow.id, AlertRow.title, AlertRow.stop_id).where(
                AlertRow.id.in_(wanted[i : i + 500])
            )
        )
        found.update({int(a): (t or "", s) for a, t, s in rows})
    return found


def eta_rows(
    session: Session, start: datetime, end: datetime
) -> list[tuple[int, datetime, datetime | None, int, bool]]:
    """(stop id, ts, eta, late s, actual) of the ETA log in ``[start - ETA_LOOKBACK, end]``,
    oldest first: what the boards showed before the window and every change inside it."""
    rows = session.execute(
        select(EtaLogRow.stop_id, EtaLogRow.ts, EtaLogRow.eta, EtaLogRow.late_s, EtaLogRow.actual)
        .where(EtaLogRow.ts >= start - ETA_LOOKBACK, EtaLogRow.ts <= end)
        .order_by(EtaLogRow.ts, EtaLogRow.id)
    )
    return [(int(s), ts, eta, int(late), bool(a)) for s, ts, eta, late, a in rows]


@dataclass(frozen=True, slots=True)
class OutboxTimes:
    """The columns of an outbox row the flight recorder needs (no ORM object per row)."""

    id: int
    stop_ref: str | None
    channel: str
    situation: str
    body: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


def outbox_between(session: Session, start: datetime, end: datetime) -> list[OutboxTimes]:
    """Messages created in ``[start - 1 day, end]``, oldest first."""
    rows = session.execute(
        select(
            OutboxRow.id,
            OutboxRow.stop_ref,
            OutboxRow.channel,
            OutboxRow.situation,
            OutboxRow.body,
            OutboxRow.status,
            OutboxRow.created_at,
            OutboxRow.sent_at,
            OutboxRow.delivered_at,
        )
        .where(OutboxRow.created_at <= end, OutboxRow.created_at >= start - timedelta(days=1))
        .order_by(OutboxRow.created_at, OutboxRow.id)
    )
    return [OutboxTimes(*r) for r in rows]


def message_audit_between(session: Session, start: datetime, end: datetime) -> list[AuditEntry]:
    """The outbox audit (a dispatcher's send or undo) in ``[start - 1 day, end]``."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.entity == "outbox",
                AuditEntry.ts >= start - timedelta(days=1),
                AuditEntry.ts <= end,
            )
            .order_by(AuditEntry.ts, AuditEntry.id)
        )
    )


def order_refs(session: Session, stop_ids: Iterable[int]) -> dict[int, str]:
    """Stop id -> order reference."""
    wanted = sorted(set(stop_ids))
    found: dict[int, str] = {}
    for i in range(0, len(wanted), 500):
        rows = session.execute(
            select(Stop.id, Stop.order_ref).where(Stop.id.in_(wanted[i : i + 500]))
        )
        found.update({int(a): str(b) for a, b in rows})
    return found


def append_eta_changes(
    session: Session, rows: Sequence[tuple[int, datetime, datetime | None, int, bool]]
) -> None:
    """Store ETA changes (stop id, ts, eta, late s, actual) in one batch.

    One multi-row INSERT, not ORM objects: a fleet's first ETAs are 10,000 rows, and the ORM's
    flush of them held SQLite's write lock for seconds, so the recorder's and the sender's
    writes ran into "database is locked" (bench/console.py at 500 vehicles)."""
    if rows:
        session.execute(
            insert(EtaLogRow),
            [
                {"stop_id": s, "ts": ts, "eta": eta, "late_s": late, "actual": actual}
                for s, ts, eta, late, actual in rows
            ],
        )


# -- the shift handover ---------------------------------------------------------------------


def open_alerts(session: Session) -> list[AlertRow]:
    """Every open exception, most severe and oldest first."""
    return list(
        session.scalars(
            select(AlertRow)
            .where(AlertRow.status.not_in(("resolved", "dismissed")))
            .order_by(AlertRow.severity.desc(), AlertRow.opened_at, AlertRow.id)
        )
    )


def sent_messages_since(session: Session, since: datetime) -> list[OutboxRow]:
    """Messages that left (or are leaving) since ``since``: the promises a shift made."""
    return list(
        session.scalars(
            select(OutboxRow)
            .where(
                OutboxRow.created_at >= since,
                OutboxRow.status.in_(("queued", "sending", "sent", "delivered")),
            )
            .order_by(OutboxRow.created_at, OutboxRow.id)
        )
    )


def stop_states(
    session: Session, order_refs: Iterable[str]
) -> dict[str, tuple[str, datetime | None]]:
    """Order reference -> (status, completed at), to say whether a promise still stands."""
    wanted = sorted(set(order_refs))
    found: dict[str, tuple[str, datetime | None]] = {}
    for i in range(0, len(wanted), 500):
        rows = session.execute(
            select(Stop.order_ref, Stop.status, Stop.completed_at).where(
                Stop.order_ref.in_(wanted[i : i + 500])
            )
        )
        found.update({str(r): (str(s), c) for r, s, c in rows})
    return found


def locked_stops(
    session: Session, day: date
) -> list[tuple[str, str | None, bool, bool, str | None]]:
    """(order, vehicle, pinned, kept on vehicle, lock group) of ``day``'s locked stops."""
    rows = session.execute(
        select(Stop.order_ref, Route.vehicle_id, Stop.pinned, Stop.keep_on_vehicle, Stop.lock_group)
        .outerjoin(Route, Route.id == Stop.route_id)
        .where(
            Stop.service_date == day,
            or_(Stop.pinned, Stop.keep_on_vehicle, Stop.lock_group.is_not(None)),
        )
        .order_by(Stop.order_ref)
    )
    return [(str(o), v, bool(p), bool(k), g) for o, v, p, k, g in rows]


def alert_notes_since(session: Session, since: datetime) -> list[AuditEntry]:
    """Alert audit entries since ``since`` that carry a note (the desk's own words)."""
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == ALERT_ENTITY, AuditEntry.ts >= since)
        .order_by(AuditEntry.ts, AuditEntry.id)
    )
    return [e for e in entries if isinstance(e.after, Mapping) and str(e.after.get("note") or "")]


def add_handover_entry(
    session: Session, ts: datetime, actor: str, action: str, handover_id: str, after: dict[str, Any]
) -> None:
    session.add(
        AuditEntry(
            ts=ts,
            actor=actor[:80],
            action=action[:60],
            entity=HANDOVER_ENTITY,
            entity_id=handover_id[:120],
            before=None,
            after=after,
        )
    )


def handover_entries(session: Session, handover_id: str | None = None) -> list[AuditEntry]:
    """The handover audit (reports and acknowledgements), oldest first."""
    query = select(AuditEntry).where(AuditEntry.entity == HANDOVER_ENTITY)
    if handover_id is not None:
        query = query.where(AuditEntry.entity_id == handover_id)
    return list(session.scalars(query.order_by(AuditEntry.ts, AuditEntry.id)))


def eta_log_starts_before(session: Session, end: datetime) -> bool:
    """True when the ETA log holds anything up to ``end`` (recording had begun by then)."""
    first = session.scalar(select(func.min(EtaLogRow.ts)))
    return first is not None and first <= end
