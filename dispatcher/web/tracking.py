"""What the customer's tracking page shows about one order, and nothing more.

:func:`tracking_view` reads the order, its route and its van, and keeps only what belongs to
this customer: the order's status, a live ETA window, how many stops come before theirs, the
van's position once they are next or within ``[web] near_stops`` stops (never earlier, never
the route's other stops, never other customers' addresses), and proof of delivery once
delivered. The view is a plain dataclass turned into the page and its JSON updates alike.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher import display
from dispatcher.errors import NotFoundError
from dispatcher.eta.travel import TravelTimeProvider
from dispatcher.messaging.stop_facts import VehicleFix, route_etas
from dispatcher.model.core import StopStatus
from dispatcher.persistence import track_repo, web_repo
from dispatcher.persistence.database import Database

#: A fix older than this does not put the van on the map (it would show where it was).
FRESH_FIX = timedelta(minutes=20)
#: The ETA is shown as a window this wide around the prediction, rounded to 5 minutes.
ETA_HALF_WIDTH = timedelta(minutes=15)

_HEADLINES = {
    StopStatus.PENDING: "Your delivery is planned",
    StopStatus.NEXT: "Your delivery is on its way",
    StopStatus.ARRIVED: "Your driver has arrived",
    StopStatus.DONE: "Delivered",
    StopStatus.FAILED: "We could not deliver today",
    StopStatus.SKIPPED: "Your delivery was not made today",
}


@dataclass(frozen=True, slots=True)
class TrackingView:
    """One order as its customer sees it (every string is escaped by the page)."""

    order_ref: str
    status: str
    headline: str
    address: str
    window: str
    eta_window: str
    stops_before: int | None
    position_text: str
    van: tuple[float, float] | None
    home: tuple[float, float] | None
    delivered_at: str
    pod_ref: str
    failure_reason: str
    instructions: str
    may_change: bool
    day: str
    #: From the driver app's proof of delivery (docs/driver.md): who took the parcel, and
    #: the first photo's file name (served under the tracking link, never the signature).
    pod_recipient: str = ""
    pod_photo: str = ""
    #: The feedback step (dispatcher/web/feedback.py): asked once the visit is over; the
    #: rating the customer gave (0: none yet).
    ask_feedback: bool = False
    rating: int = 0
    #: Where the order is, for the web front's own bookkeeping (which route's changes to
    #: watch); never sent to the page.
    route_id: int | None = None
    vehicle_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["route_id"], data["vehicle_id"]
        return data


def tracking_view(
    db: Database,
    stop_id: int,
    now: datetime,
    tz: str,
    *,
    near_stops: int,
    provider: TravelTimeProvider | None = None,
) -> TrackingView:
    """The customer's view of stop ``stop_id`` at ``now`` (``NotFoundError`` if gone)."""
    view = tracking_views(db, [stop_id], now, tz, near_stops=near_stops, provider=provider)
    if stop_id not in view:
        raise NotFoundError(f"stop {stop_id} does not exist")
    return view[stop_id]


def tracking_views(
    db: Database,
    stop_ids: Collection[int],
    now: datetime,
    tz: str,
    *,
    near_stops: int,
    provider: TravelTimeProvider | None = None,
    whole_routes: bool = False,
) -> dict[int, TrackingView]:
    """The views of ``stop_ids`` at ``now`` (absent: no such stop), each route read and its
    ETAs walked once however many of its orders are asked for; ``whole_routes``: the views
    of every other order of those routes too (the next page of that route costs nothing)."""
    return tracking_snapshot(
        db, stop_ids, now, tz, near_stops=near_stops, provider=provider, whole_routes=whole_routes
    )[0]


def tracking_snapshot(
    db: Database,
    stop_ids: Collection[int],
    now: datetime,
    tz: str,
    *,
    near_stops: int,
    provider: TravelTimeProvider | None = None,
    whole_routes: bool = False,
) -> tuple[dict[int, TrackingView], track_repo.TrackMarks | None]:
    """:func:`tracking_views` and the change markers of what they were read from."""
    tracked = track_repo.load_tracked(
        db, stop_ids, tz, now - FRESH_FIX, now, whole_routes=whole_routes
    )
    etas: dict[int | None, dict[int, datetime]] = {}
    views: dict[int, TrackingView] = {}
    for stop_id, one in tracked.stops.items():
        contact = one.contact
        fix_row = tracked.fixes.get(contact.vehicle_id or "")
        fix = VehicleFix(*fix_row) if fix_row is not None else None
        if one.route_id is not None and one.route_id not in etas:
            etas[one.route_id] = route_etas(contact, now, fix, tz, provider)
        eta = None
        if not contact.status.is_final:
            eta = etas.get(one.route_id, {}).get(stop_id, contact.planned_arrival)
        views[stop_id] = _view(one, now, ZoneInfo(tz), fix, eta, near_stops)
    return views, tracked.marks


def _view(
    one: track_repo.TrackedStop,
    now: datetime,
    zone: ZoneInfo,
    fix: VehicleFix | None,
    eta: datetime | None,
    near_stops: int,
) -> TrackingView:
    """What the customer of ``one`` may see (nothing of the route's other stops)."""
    contact, stop_id = one.contact, one.contact.stop_id
    status = contact.status
    ahead = [s.stop_id for s in contact.route if not s.status.is_final]
    stops_before = ahead.index(stop_id) if stop_id in ahead and not status.is_final else None
    if not contact.vehicle_id or stops_before is None:
        fix = None
    van = (fix.lat, fix.lon) if fix is not None and stops_before is not None else None
    if stops_before is None or stops_before > near_stops:
        van = None
    me = next((s for s in contact.route if s.stop_id == stop_id), None)
    home = (me.lat, me.lon) if me is not None else None
    instructions = next(
        (
            line[len(web_repo.CUSTOMER_NOTE) :]
            for line in one.notes.splitlines()
            if line.startswith(web_repo.CUSTOMER_NOTE)
        ),
        "",
    )
    done = status is StopStatus.DONE
    photo = f"{one.pod_photo[0]}.{one.pod_photo[1]}" if done and one.pod_photo else ""
    return TrackingView(
        order_ref=contact.order_ref,
        status=status.value,
        headline=(
            "Your driver is on the way to you"
            if status is StopStatus.PENDING and stops_before == 0 and fix is not None
            else _HEADLINES.get(status, "Your delivery")
        ),
        address=contact.address,
        window=_window(contact.window_start, contact.window_end, zone),
        eta_window=_eta_window(max(eta, now + ETA_HALF_WIDTH), zone) if eta is not None else "",
        stops_before=stops_before,
        position_text=_position_text(stops_before, status, contact.vehicle_id is not None),
        van=van,
        home=home,
        delivered_at=_hhmm(contact.completed_at, zone) if done else "",
        pod_ref=contact.pod_ref if done else "",
        failure_reason=contact.failure_reason if status is StopStatus.FAILED else "",
        instructions=instructions,
        may_change=status is StopStatus.PENDING,  # a dispatcher decides what is still possible
        day=display.current().long_day(one.day) if one.day else "",
        pod_recipient=one.pod_recipient if done else "",
        pod_photo=photo,
        ask_feedback=status in (StopStatus.DONE, StopStatus.FAILED),
        rating=one.rating if status.is_final else 0,
        route_id=one.route_id,
        vehicle_id=contact.vehicle_id,
    )


def _position_text(before: int | None, status: StopStatus, routed: bool) -> str:
    if status is StopStatus.ARRIVED:
        return "Your driver is at your door."
    if status.is_final:
        return ""
    if not routed or before is None:
        return "Your delivery is not on a route yet."
    if before == 0:
        return "You are next!"
    if before == 1:
        return "1 stop before you."
    return f"{before} stops before you."


def _hhmm(value: datetime | None, zone: ZoneInfo) -> str:
    """The time in the fleet's zone and locale (``[fleet] locale``: ``14:05``, ``2:05 PM``,
    ``14.05``); the console's own 24-hour clock without one."""
    return display.current().clock(value.astimezone(zone)) if value is not None else ""


def _window(start: datetime | None, end: datetime | None, zone: ZoneInfo) -> str:
    if start and end:
        return f"{_hhmm(start, zone)}-{_hhmm(end, zone)}"
    if start:
        return f"from {_hhmm(start, zone)}"
    if end:
        return f"by {_hhmm(end, zone)}"
    return ""


def _eta_window(eta: datetime, zone: ZoneInfo) -> str:
    def round5(t: datetime) -> datetime:
        t = t.astimezone(zone).replace(second=0, microsecond=0)
        return t - timedelta(minutes=t.minute % 5)

    lo, hi = round5(eta - ETA_HALF_WIDTH), round5(eta + ETA_HALF_WIDTH + timedelta(minutes=4))
    return f"{_hhmm(lo, zone)}-{_hhmm(hi, zone)}"


__all__ = ["NotFoundError", "TrackingView", "tracking_snapshot", "tracking_view", "tracking_views"]
