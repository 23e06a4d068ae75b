"""What the customer's tracking page shows about one order, and nothing more.

:func:`tracking_view` reads the order, its route and its van, and keeps only what belongs to
this customer: the order's status, a live ETA window, how many stops come before theirs, the
van's position once they are next or within ``[web] near_stops`` stops (never earlier, never
the route's other stops, never other customers' addresses), and proof of delivery once
delivered. The view is a plain dataclass turned into the page and its JSON updates alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.errors import NotFoundError
from dispatcher.eta.travel import TravelTimeProvider
from dispatcher.messaging.stop_facts import VehicleFix, fresh_eta
from dispatcher.model.core import StopStatus
from dispatcher.persistence import driver_repo, feedback_repo, messaging_repo, web_repo
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

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


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
    contact = messaging_repo.load_stop_contact(db, stop_id, tz)
    zone = ZoneInfo(tz)
    status = contact.status
    ahead = [s for s in contact.route if not s.status.is_final]
    ids = [s.stop_id for s in ahead]
    stops_before = ids.index(stop_id) if stop_id in ids and not status.is_final else None
    fix = None
    if contact.vehicle_id and stops_before is not None:
        found = web_repo.latest_fix(db, contact.vehicle_id, now - FRESH_FIX, now)
        fix = VehicleFix(found[0], found[1], found[2]) if found else None
    eta = fresh_eta(contact, now, fix, tz, provider) if not status.is_final else None
    van = (fix.lat, fix.lon) if fix is not None and stops_before is not None else None
    if stops_before is None or stops_before > near_stops:
        van = None
    me = next((s for s in contact.route if s.stop_id == stop_id), None)
    home = (me.lat, me.lon) if me is not None else None
    notes = web_repo.stop_notes(db, stop_id)
    instructions = next(
        (
            line[len(web_repo.CUSTOMER_NOTE) :]
            for line in notes.splitlines()
            if line.startswith(web_repo.CUSTOMER_NOTE)
        ),
        "",
    )
    day = web_repo.stop_day(db, stop_id)
    recipient, photo = _pod(db, contact.order_ref) if status is StopStatus.DONE else ("", "")
    given = feedback_repo.feedback_of_stop(db, stop_id) if status.is_final else None
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
        delivered_at=_hhmm(contact.completed_at, zone) if status is StopStatus.DONE else "",
        pod_ref=contact.pod_ref if status is StopStatus.DONE else "",
        failure_reason=contact.failure_reason if status is StopStatus.FAILED else "",
        instructions=instructions,
        may_change=status is StopStatus.PENDING,  # a dispatcher decides what is still possible
        day=day.strftime("%A %d %B") if day else "",
        pod_recipient=recipient,
        pod_photo=photo,
        ask_feedback=status in (StopStatus.DONE, StopStatus.FAILED),
        rating=given.rating if given is not None else 0,
    )


def _pod(db: Database, order_ref: str) -> tuple[str, str]:
    """(recipient, first photo's file name) of the order's newest driver-app POD."""
    with db.session() as session:
        pod = driver_repo.latest_pods(session, [order_ref]).get(order_ref)
    if pod is None:
        return "", ""
    photo = next((f for f in pod.files if f.get("role") == "photo"), None)
    return pod.recipient, f"{photo['sha256']}.{photo['format']}" if photo else ""


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
    return value.astimezone(zone).strftime("%H:%M") if value is not None else ""


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
    return f"{lo:%H:%M}-{hi:%H:%M}"


__all__ = ["NotFoundError", "TrackingView", "tracking_view"]
