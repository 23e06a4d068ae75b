"""What one-click messaging knows about a stop: contact, route, fresh ETA, and what to say.

The UI's "Message customer" button and the bulk "notify whose ETA moved" both start here. The
persistence layer fills a :class:`StopContact` (plain values, no session); this module works
out the stop's fresh ETA from the vehicle's live position along the rest of its route, picks
the situation the stop's state calls for, and builds the :class:`MessageRequest` for the
:class:`~dispatcher.messaging.compose.Messenger`. Everything here is pure and takes ``now``, so
it is tested with literals and a fake clock.

The ETA is the planner's evaluation of the rest of the route from the van's live position,
with the house's default travel model (:class:`~dispatcher.eta.travel.HaversineProvider`) --
the same prediction the exception queue's late / at-risk rules read, so the time in the
message is the time behind the exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from dispatcher.errors import ValidationError
from dispatcher.eta.travel import HaversineProvider, TravelTimeProvider
from dispatcher.messaging.compose import EtaChange, MessageFacts, MessageRequest
from dispatcher.messaging.situations import Situation, choose_situation
from dispatcher.model.core import StopStatus
from dispatcher.model.messaging import RouteStop, StopContact, zone
from dispatcher.planning.live_eta import LiveVehicle, break_rule, predict_route
from dispatcher.planning.live_eta import arrivals as predicted_arrivals
from dispatcher.planning.model import INF, PlanStop, to_plan_seconds

#: How close an on-time stop must be before "arriving soon" is worth saying.
ARRIVING_SOON_WITHIN = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class VehicleFix:
    """Where the vehicle is now (the fleet state's last good position)."""

    lat: float
    lon: float
    at: datetime


def route_etas(
    contact: StopContact,
    now: datetime,
    fix: VehicleFix | None,
    tz: str = "UTC",
    provider: TravelTimeProvider | None = None,
) -> dict[int, datetime]:
    """Predicted arrival at every unfinished stop of the contact's route.

    The same prediction as the exception queue's: a one-vehicle plan evaluated by
    :func:`dispatcher.planning.evaluate.evaluate_route`, starting from the live position
    "now", or from the depot (now, or at shift start if that is later) before a first fix,
    the driver's break placed by the same rule (:func:`~dispatcher.planning.live_eta.break_rule`)
    so the customer is not promised a time the break makes impossible.
    Stop ids are the database ids. Empty when there is nothing to walk (no depot, no route).
    """
    if contact.depot is None or contact.shift_start is None or not contact.route:
        return {}
    local_zone = zone(tz)
    day = contact.shift_start.astimezone(local_zone).date()
    origin = datetime.combine(day, time(0), local_zone)
    ahead = sorted(
        (s for s in contact.route if not s.status.is_final),
        key=lambda s: s.status is not StopStatus.ARRIVED,
    )
    stops = [p for p in (_plan_stop(s, origin) for s in ahead) if p is not None]
    if not stops:
        return {}
    window, break_s = break_rule(
        contact.shift_start,
        contact.break_after_min,
        contact.break_latest_min,
        contact.break_min,
    )
    vehicle = LiveVehicle(
        contact.vehicle_id or "vehicle",
        10**9,
        contact.shift_start,
        contact.shift_end,
        contact.depot,
        (fix.lat, fix.lon) if fix is not None else None,
        window,
        break_s,
        contact.vehicle_type,
    )
    try:
        result = predict_route(vehicle, stops, now, origin, provider or HaversineProvider())
    except ValidationError:
        return {}
    return {int(sid): when for sid, when in predicted_arrivals(result, origin).items()}


def _plan_stop(stop: RouteStop, origin: datetime) -> PlanStop | None:
    try:
        return PlanStop(
            id=str(stop.stop_id),
            location=(stop.lat, stop.lon),
            window_start=to_plan_seconds(stop.window_start, origin) if stop.window_start else 0.0,
            window_end=to_plan_seconds(stop.window_end, origin) if stop.window_end else INF,
            service_s=float(max(0, stop.service_s)),
            status=stop.status,
        )
    except ValidationError:
        return None  # a window ending before it starts: left out of the walk, not a crash


def fresh_eta(
    contact: StopContact,
    now: datetime,
    fix: VehicleFix | None,
    tz: str = "UTC",
    provider: TravelTimeProvider | None = None,
) -> datetime | None:
    """The stop's ETA now (see :func:`route_etas`); the stored planned arrival as a fallback.

    ``None`` when the stop is finished or nothing is known.
    """
    if contact.status.is_final:
        return None
    return route_etas(contact, now, fix, tz, provider).get(contact.stop_id, contact.planned_arrival)


def is_late(contact: StopContact, eta: datetime | None) -> bool:
    """The ETA falls after the end of the customer's window."""
    return eta is not None and contact.window_end is not None and eta > contact.window_end


def situation_for(contact: StopContact, eta: datetime | None, now: datetime) -> Situation:
    """What the stop's state calls for when the dispatcher did not say.

    Failed/skipped -> missed you; done -> delivered; on its way and past the window ->
    running late; next/arrived or due within half an hour -> arriving soon.

    Raises:
        ValidationError: nothing to tell yet (a pending stop, on time, hours away).
    """
    if contact.status.is_final or contact.status in (StopStatus.NEXT, StopStatus.ARRIVED):
        if contact.status is StopStatus.NEXT and is_late(contact, eta):
            return Situation.RUNNING_LATE
        return choose_situation(contact.status)
    if is_late(contact, eta):
        return Situation.RUNNING_LATE
    if eta is not None and eta - now <= ARRIVING_SOON_WITHIN:
        return Situation.ARRIVING_SOON
    raise ValidationError(
        f"nothing to tell the customer of {contact.order_ref} yet: the stop is on time"
    )


def parse_situation(name: str | None) -> Situation | None:
    """The caller's situation word (``"at_risk"``, ``"late"``, ``"failed"``...), or ``None``."""
    if name is None or not name.strip():
        return None
    return choose_situation(name)


def facts_for(contact: StopContact, eta: datetime | None, now: datetime) -> MessageFacts:
    """The raw facts a template may use, from the stop and its fresh ETA."""
    delay = None
    if eta is not None and contact.window_end is not None and eta > contact.window_end:
        delay = int((eta - contact.window_end).total_seconds() // 60)
    minutes_away = None
    if eta is not None and eta >= now:
        minutes_away = int((eta - now).total_seconds() // 60)
    return MessageFacts(
        order_ref=contact.order_ref or None,
        eta=eta,
        window_start=contact.window_start,
        window_end=contact.window_end,
        delivered_at=contact.completed_at if contact.status is StopStatus.DONE else None,
        pod_ref=contact.pod_ref or None,
        reason=contact.failure_reason or None,
        driver_name=contact.driver_name or None,
        address=contact.address or None,
        delay_minutes=delay,
        minutes_away=minutes_away,
    )


def request_for(
    contact: StopContact,
    situation: Situation,
    eta: datetime | None,
    now: datetime,
    created_by: str,
    *,
    reschedule_url: str | None = None,
    reschedule_phone: str | None = None,
    tracking_url: str | None = None,
) -> MessageRequest:
    """The outbox request for this stop; ``stop_ref`` is the order reference (stable, unique).

    ``tracking_url`` (the customer's signed tracking page) is offered to every template.
    """
    facts = replace(facts_for(contact, eta, now), tracking_url=tracking_url or None)
    if situation is Situation.MISSED_YOU:
        facts = _with_reschedule(facts, reschedule_url, reschedule_phone)
    return MessageRequest(
        customer=contact.customer,
        situation=situation,
        stop_ref=contact.order_ref,
        facts=facts,
        created_by=created_by,
    )


def _with_reschedule(facts: MessageFacts, url: str | None, phone: str | None) -> MessageFacts:
    return replace(facts, reschedule_url=url or None, reschedule_phone=phone or None)


def eta_changes(
    route: Sequence[RouteStop], baseline: dict[int, datetime], fresh: dict[int, datetime]
) -> list[EtaChange]:
    """Pair each stop's baseline ETA (the plan) with its fresh one, for :func:`eta_moved`."""
    return [
        EtaChange(
            stop_ref=str(stop.stop_id),
            customer_id=stop.customer_id,
            old_eta=stop.planned_arrival or baseline.get(stop.stop_id),
            new_eta=fresh.get(stop.stop_id),
            status=stop.status,
            extra={"order_ref": stop.order_ref},
        )
        for stop in route
    ]


def planned_etas(
    contact: StopContact, tz: str = "UTC", provider: TravelTimeProvider | None = None
) -> dict[int, datetime]:
    """The morning plan's arrival times: every stop pending, leaving the depot at shift start
    (or as late as the first stop's window allows, as the evaluator plans it).

    The baseline for "whose ETA moved" when the stops carry no stored planned arrival.
    """
    if contact.shift_start is None:
        return {}
    pending = tuple(replace(s, status=StopStatus.PENDING) for s in contact.route)
    return route_etas(replace(contact, route=pending), contact.shift_start, None, tz, provider)
