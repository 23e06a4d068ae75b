"""What customer messaging reads and records around the outbox: contacts, routes, audit.

:func:`load_stop_contact` gathers, in one unit of work, everything a one-click message needs
about a stop (customer preferences, window, proof of delivery, the vehicle's whole route, its
depot and shift) as a plain :class:`~dispatcher.messaging.stop_facts.StopContact`, so the
messaging core never sees a session. :func:`record_message_audit` writes the "who sent what"
line of the append-only audit log. :func:`flag_contact_problem` keeps an unusable address on
the customer instead of dropping the message silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from dispatcher.errors import NotFoundError
from dispatcher.model.core import StopStatus
from dispatcher.model.messaging import (
    ContactPreference,
    CustomerPreferences,
    OutboxMessage,
    RouteStop,
    StopContact,
    zone,
)
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry, Customer, Route, Stop, Vehicle

#: ``audit_log.entity`` of outbox entries (the log is shared with alerts and routes).
AUDIT_ENTITY = "outbox"


def load_stop_contact(db: Database, stop_id: int, tz: str = "UTC") -> StopContact:
    """The stop, its customer and its vehicle's route; ``tz`` places the shift on the day.

    Raises:
        NotFoundError: no stop with this id.
    """
    with db.session() as session:
        stop = session.get(Stop, stop_id, options=[selectinload(Stop.customer)])
        if stop is None:
            raise NotFoundError(f"stop {stop_id} does not exist")
        contact: dict[str, Any] = {}
        route_stops: tuple[RouteStop, ...] = ()
        if stop.route_id is not None:
            route = session.get(
                Route,
                stop.route_id,
                options=[
                    selectinload(Route.stops),
                    selectinload(Route.vehicle).selectinload(Vehicle.driver),
                    selectinload(Route.vehicle).selectinload(Vehicle.depot),
                ],
            )
            if route is not None:
                contact = _route_part(route, tz)
                route_stops = tuple(_route_stop(s) for s in route.stops)
        return StopContact(
            stop_id=stop.id,
            order_ref=stop.order_ref,
            status=_status(stop.status),
            customer=preferences(stop.customer),
            address=stop.address,
            window_start=stop.window_start,
            window_end=stop.window_end,
            planned_arrival=stop.planned_arrival,
            pod_ref=stop.pod_ref,
            failure_reason=stop.failure_reason,
            completed_at=stop.completed_at,
            route=route_stops,
            **contact,
        )


def route_stop_ids(db: Database, vehicle_id: str, day: Any = None) -> list[int]:
    """The stop ids of ``vehicle_id``'s route on ``day`` (default: its latest route), in order."""
    with db.session() as session:
        stmt = select(Route.id).where(Route.vehicle_id == vehicle_id)
        if day is not None:
            stmt = stmt.where(Route.service_date == day)
        route_id = session.scalar(stmt.order_by(Route.service_date.desc()).limit(1))
        if route_id is None:
            return []
        ids = session.scalars(
            select(Stop.id).where(Stop.route_id == route_id).order_by(Stop.sequence, Stop.id)
        )
        return list(ids)


def preferences(customer: Customer | None) -> CustomerPreferences:
    """A customer row as the messaging core reads it; no customer means "no messages"."""
    if customer is None:
        return CustomerPreferences(customer_id=None, channel=ContactPreference.NONE)
    try:
        channel = ContactPreference(customer.preferred_channel or "sms")
    except ValueError:
        channel = ContactPreference.SMS
    return CustomerPreferences(
        customer_id=customer.id,
        name=customer.name,
        phone=customer.phone,
        email=customer.email,
        channel=channel,
        opted_out=customer.opt_out,
        lang=customer.language or "en",
        quiet_start=customer.quiet_start,
        quiet_end=customer.quiet_end,
    )


def flag_contact_problem(db: Database, customer_id: int, problem: str) -> None:
    """Keep why a customer cannot be messaged (shown on the customer; never a silent drop)."""
    with db.session() as session:
        session.execute(
            update(Customer).where(Customer.id == customer_id).values(contact_problem=problem[:200])
        )


def set_opt_out(db: Database, customer_id: int, opted_out: bool) -> None:
    """Apply an inbound STOP / START (or a dispatcher's change) to the customer."""
    with db.session() as session:
        session.execute(
            update(Customer).where(Customer.id == customer_id).values(opt_out=opted_out)
        )


def record_message_audit(
    db: Database, row: OutboxMessage, actor: str, action: str, now: datetime
) -> None:
    """Append "``actor`` did ``action`` (send, undo) to outbox row ``row``" to the audit log."""
    after = {
        "situation": row.situation,
        "stop_ref": row.stop_ref,
        "channel": row.channel,
        "address": row.address,
        "template": f"{row.template_id}@{row.template_version}",
        "status": str(row.status),
        "body": row.body[:500],
    }
    with db.session() as session:
        session.add(
            AuditEntry(
                ts=now,
                actor=actor[:80],
                action=f"message_{action}"[:60],
                entity=AUDIT_ENTITY,
                entity_id=str(row.id),
                before=None,
                after=after,
            )
        )


def _route_part(route: Route, tz: str) -> dict[str, Any]:
    vehicle = route.vehicle
    depot = vehicle.depot
    local = zone(tz)
    return {
        "vehicle_id": route.vehicle_id,
        "driver_name": vehicle.driver.name if vehicle.driver else "",
        "shift_start": datetime.combine(route.service_date, vehicle.shift_start, local),
        "shift_end": datetime.combine(route.service_date, vehicle.shift_end, local),
        "depot": (depot.lat, depot.lon) if depot else None,
        "break_after_min": vehicle.break_after_min,
        "break_min": vehicle.break_min or 0,
        "break_latest_min": vehicle.break_latest_min,
        "vehicle_type": vehicle.vehicle_type or "van",
    }


def _route_stop(stop: Stop) -> RouteStop:
    return RouteStop(
        stop_id=stop.id,
        lat=stop.lat,
        lon=stop.lon,
        service_s=stop.service_s,
        status=_status(stop.status),
        window_start=stop.window_start,
        window_end=stop.window_end,
        planned_arrival=stop.planned_arrival,
        customer_id=stop.customer_id,
        order_ref=stop.order_ref,
    )


def _status(value: str) -> StopStatus:
    try:
        return StopStatus(value)
    except ValueError:
        return StopStatus.PENDING


def stop_id_of(db: Database, order_ref: str) -> int | None:
    """The stop id of an order reference (outbox rows name stops by order reference)."""
    with db.session() as session:
        return session.scalar(select(Stop.id).where(Stop.order_ref == order_ref))


def order_ref_of(db: Database, stop_id: int) -> str | None:
    """The order reference of a stop (what outbox rows call it)."""
    with db.session() as session:
        return session.scalar(select(Stop.order_ref).where(Stop.id == stop_id))


def customer_names(db: Database, customer_ids: Iterable[int]) -> dict[int, str]:
    """Customer names by id, for the outbox table."""
    wanted = sorted(set(customer_ids))
    found: dict[int, str] = {}
    with db.session() as session:
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(chunk)))
            found.update({int(cid): str(name) for cid, name in rows})
    return found
