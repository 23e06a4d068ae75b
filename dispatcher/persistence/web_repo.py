"""The web front's storage: link keys, the tracking page's reads, customers' requests, inbound.

Keys: read, create once, rotate (dispatcher/web/signing.py uses them).
Two processes starting together may both find no key and both try to create key 1: the
primary key lets one win, and the other reads the winner's (never two secrets for one id).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dispatcher.errors import ConflictError, NotFoundError
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import (
    AuditEntry,
    Customer,
    CustomerRequestRow,
    InboundMessageRow,
    PositionRow,
    Stop,
    WebKeyRow,
)

#: Key ids fit one byte of a token; rotation past it wraps to the oldest retired id.
MAX_KEY_ID = 255


def load_keys(db: Database) -> tuple[int | None, dict[int, bytes]]:
    """The current key's id (the newest active one) and every active key's secret by id."""
    with db.session() as s:
        rows = [r for r in s.scalars(select(WebKeyRow)).all() if r.retired_at is None]
    if not rows:
        return None, {}
    current = max(rows, key=lambda r: (r.created_at, r.id)).id
    return current, {r.id: bytes.fromhex(r.secret) for r in rows}


def ensure_key(db: Database) -> None:
    """Create key 1 if the database has no key at all (idempotent, race-safe)."""
    if load_keys(db)[0] is not None:
        return
    try:
        with db.session() as s:
            s.add(WebKeyRow(id=1, secret=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another process created it first


def rotate_key(db: Database, now: datetime, *, retire_old: bool = False) -> int:
    """Add a new current key and return its id; ``retire_old`` revokes every older link."""
    with db.session() as s:
        rows = list(s.scalars(select(WebKeyRow).order_by(WebKeyRow.id)))
        used = {r.id for r in rows}
        new_id = next((i for i in range(1, MAX_KEY_ID + 1) if i not in used), None)
        if new_id is None:  # all ids taken: reuse the oldest retired one
            retired = [r for r in rows if r.retired_at is not None]
            if not retired:
                raise ValueError("no key id left: retire an old key first")
            oldest = min(retired, key=lambda r: r.retired_at or now)
            new_id = oldest.id
            s.delete(oldest)
            s.flush()
        if retire_old:
            for r in rows:
                if r.retired_at is None:
                    r.retired_at = now
        s.add(WebKeyRow(id=new_id, secret=secrets.token_hex(32), created_at=now))
        return new_id


# -- the tracking page's reads --------------------------------------------------------------


def stop_day(db: Database, stop_id: int) -> date | None:
    """The stop's service day, or None when there is no such stop."""
    with db.session() as s:
        return s.scalar(select(Stop.service_date).where(Stop.id == stop_id))


def latest_fix(
    db: Database, vehicle_id: str, since: datetime, until: datetime
) -> tuple[float, float, datetime] | None:
    """The vehicle's last stored position in ``[since, until]`` (lat, lon, when)."""
    with db.session() as s:
        row = s.execute(
            select(PositionRow.lat, PositionRow.lon, PositionRow.ts)
            .where(
                PositionRow.vehicle_id == vehicle_id,
                PositionRow.ts >= since,
                PositionRow.ts <= until,
            )
            .order_by(PositionRow.ts.desc())
            .limit(1)
        ).first()
    return (float(row[0]), float(row[1]), row[2]) if row else None


def stop_notes(db: Database, stop_id: int) -> str:
    with db.session() as s:
        return s.scalar(select(Stop.notes).where(Stop.id == stop_id)) or ""


# -- customers' requests ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerRequest:
    id: int
    stop_id: int
    order_ref: str
    kind: str
    payload: dict[str, Any]
    status: str
    alert_id: int | None
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str = ""


def _request(row: CustomerRequestRow) -> CustomerRequest:
    return CustomerRequest(
        row.id,
        row.stop_id,
        row.order_ref,
        row.kind,
        dict(row.payload or {}),
        row.status,
        row.alert_id,
        row.created_at,
        row.decided_at,
        row.decided_by,
    )


def add_request(
    db: Database,
    stop_id: int,
    order_ref: str,
    kind: str,
    payload: dict[str, Any],
    status: str,
    now: datetime,
) -> CustomerRequest:
    """Store a request and its audit row (actor ``customer``) in one unit of work."""
    with db.session() as s:
        row = CustomerRequestRow(
            stop_id=stop_id,
            order_ref=order_ref,
            kind=kind,
            payload=payload,
            status=status,
            created_at=now,
            decided_at=now if status == "applied" else None,
            decided_by="policy" if status == "applied" else "",
        )
        s.add(row)
        s.flush()
        s.add(
            AuditEntry(
                ts=now,
                actor="customer",
                action=f"customer_request.{status}",
                entity="stop",
                entity_id=str(stop_id),
                before=None,
                after={"request": row.id, "kind": kind, **payload},
            )
        )
        return _request(row)


def link_request_alert(db: Database, request_id: int, alert_id: int | None) -> None:
    with db.session() as s:
        row = s.get(CustomerRequestRow, request_id)
        if row is not None:
            row.alert_id = alert_id


def get_request(db: Database, request_id: int) -> CustomerRequest | None:
    with db.session() as s:
        row = s.get(CustomerRequestRow, request_id)
        return _request(row) if row is not None else None


def requests_of_stop(db: Database, stop_id: int, limit: int = 50) -> list[CustomerRequest]:
    with db.session() as s:
        rows = s.scalars(
            select(CustomerRequestRow)
            .where(CustomerRequestRow.stop_id == stop_id)
            .order_by(CustomerRequestRow.id.desc())
            .limit(limit)
        ).all()
        return [_request(r) for r in rows]


def count_requests_since(db: Database, stop_id: int, since: datetime) -> int:
    with db.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(CustomerRequestRow)
                .where(
                    CustomerRequestRow.stop_id == stop_id, CustomerRequestRow.created_at >= since
                )
            )
            or 0
        )


def decide_request(
    db: Database, request_id: int, status: str, actor: str, now: datetime
) -> CustomerRequest:
    """Mark a queued request ``applied``/``declined`` (once: a second decision is refused)."""
    with db.session() as s:
        row = s.get(CustomerRequestRow, request_id)
        if row is None:
            raise NotFoundError(f"customer request {request_id} does not exist")
        if row.status != "queued":
            raise ConflictError(f"customer request {request_id} is {row.status} already")
        row.status, row.decided_at, row.decided_by = status, now, actor[:80]
        s.add(
            AuditEntry(
                ts=now,
                actor=actor[:80],
                action=f"customer_request.{status}",
                entity="stop",
                entity_id=str(row.stop_id),
                before={"request": row.id, "status": "queued"},
                after={"request": row.id, "status": status, "kind": row.kind},
            )
        )
        return _request(row)


CUSTOMER_NOTE = "Customer: "


def set_customer_note(db: Database, stop_id: int, text: str, now: datetime) -> None:
    """Put the customer's instruction on the stop's notes (one ``Customer:`` line, replaced)."""
    with db.session() as s:
        stop = s.get(Stop, stop_id)
        if stop is None:
            raise NotFoundError(f"stop {stop_id} does not exist")
        before = stop.notes or ""
        kept = [line for line in before.splitlines() if not line.startswith(CUSTOMER_NOTE)]
        stop.notes = "\n".join([*kept, CUSTOMER_NOTE + text]) if text else "\n".join(kept)
        s.add(
            AuditEntry(
                ts=now,
                actor="customer",
                action="stop.customer_note",
                entity="stop",
                entity_id=str(stop_id),
                before={"notes": before},
                after={"notes": stop.notes},
            )
        )


def change_window(
    db: Database, stop_id: int, start: datetime, end: datetime, day: date, actor: str, now: datetime
) -> None:
    """Give the stop a new window; a stop moved to another day leaves its route (re-plan)."""
    with db.session() as s:
        stop = s.get(Stop, stop_id)
        if stop is None:
            raise NotFoundError(f"stop {stop_id} does not exist")
        before = {
            "window_start": _iso(stop.window_start),
            "window_end": _iso(stop.window_end),
            "service_date": stop.service_date.isoformat(),
            "route_id": stop.route_id,
        }
        stop.window_start, stop.window_end = start, end
        if day != stop.service_date:
            stop.service_date = day
            stop.route_id, stop.sequence, stop.planned_arrival = None, None, None
        s.add(
            AuditEntry(
                ts=now,
                actor=actor[:80],
                action="stop.window",
                entity="stop",
                entity_id=str(stop_id),
                before=before,
                after={
                    "window_start": _iso(start),
                    "window_end": _iso(end),
                    "service_date": day.isoformat(),
                    "route_id": stop.route_id,
                },
            )
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- inbound messages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundMessage:
    id: int
    provider_id: str
    from_address: str
    customer_id: int | None
    stop_ref: str | None
    body: str
    action: str
    received_at: datetime
    channel: str = "sms"


def customer_by_phone(db: Database, phone: str) -> tuple[int, str | None] | None:
    """The customer with this phone and their latest order's reference."""
    if not phone:
        return None
    with db.session() as s:
        cid = s.scalar(select(Customer.id).where(Customer.phone == phone).order_by(Customer.id))
        if cid is None:
            return None
        ref = s.scalar(
            select(Stop.order_ref)
            .where(Stop.customer_id == cid)
            .order_by(Stop.service_date.desc(), Stop.id.desc())
            .limit(1)
        )
        return int(cid), ref


def store_inbound(
    db: Database,
    provider_id: str,
    from_address: str,
    body: str,
    action: str,
    now: datetime,
    channel: str = "sms",
) -> tuple[InboundMessage, bool]:
    """Store one inbound message; ``(row, False)`` when that provider id was stored before."""
    found = customer_by_phone(db, from_address)
    customer_id, stop_ref = found if found else (None, None)
    try:
        with db.session() as s:
            row = InboundMessageRow(
                provider_id=provider_id[:200],
                channel=channel,
                from_address=from_address[:254],
                customer_id=customer_id,
                stop_ref=stop_ref,
                body=body,
                action=action,
                received_at=now,
            )
            s.add(row)
            s.flush()
            return _inbound(row), True
    except IntegrityError:
        with db.session() as s:
            old = s.scalars(
                select(InboundMessageRow).where(InboundMessageRow.provider_id == provider_id[:200])
            ).one()
            return _inbound(old), False


def _inbound(row: InboundMessageRow) -> InboundMessage:
    return InboundMessage(
        row.id,
        row.provider_id,
        row.from_address,
        row.customer_id,
        row.stop_ref,
        row.body,
        row.action,
        row.received_at,
        row.channel,
    )


def conversation(db: Database, stop_ref: str, limit: int = 200) -> list[InboundMessage]:
    """The replies received about one order, oldest first."""
    with db.session() as s:
        rows = s.scalars(
            select(InboundMessageRow)
            .where(InboundMessageRow.stop_ref == stop_ref)
            .order_by(InboundMessageRow.id.desc())
            .limit(limit)
        ).all()
        return [_inbound(r) for r in reversed(rows)]


def stop_window(db: Database, stop_id: int) -> tuple[datetime | None, datetime | None]:
    with db.session() as s:
        row = s.execute(
            select(Stop.window_start, Stop.window_end).where(Stop.id == stop_id)
        ).first()
    return (row[0], row[1]) if row else (None, None)


def audit_opt_out(
    db: Database, customer_id: int, opted_out: bool, inbound_id: int, now: datetime
) -> None:
    with db.session() as s:
        s.add(
            AuditEntry(
                ts=now,
                actor="customer",
                action="customer.opt_out" if opted_out else "customer.opt_in",
                entity="customer",
                entity_id=str(customer_id),
                before=None,
                after={"opt_out": opted_out, "inbound_message": inbound_id},
            )
        )


def routed_stops_of_day(db: Database, day: date) -> dict[int, list[int]]:
    """Route id -> its stop ids in sequence, for every route with stops on ``day``."""
    with db.session() as s:
        rows = s.execute(
            select(Stop.route_id, Stop.id)
            .where(Stop.service_date == day, Stop.route_id.is_not(None))
            .order_by(Stop.route_id, Stop.sequence, Stop.id)
        ).all()
    routes: dict[int, list[int]] = {}
    for route_id, stop_id in rows:
        if route_id is not None:
            routes.setdefault(int(route_id), []).append(int(stop_id))
    return routes
