"""Value objects of customer messaging: a customer's preferences, an outbox row, a stop's contact.

The persistence layer fills and stores these (``messaging_repo``, ``outbox_repo``); the
messaging room decides with them (:mod:`dispatcher.messaging.contacts`,
:mod:`~dispatcher.messaging.outbox`, :mod:`~dispatcher.messaging.stop_facts`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatcher.model.core import StopStatus


class ContactPreference(enum.StrEnum):
    """The channel a customer wants to be reached on (``none``: do not message)."""

    SMS = "sms"
    EMAIL = "email"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class CustomerPreferences:
    """What the core needs to know about a customer before writing to them.

    ``tz`` is an IANA name; empty means the fleet's time zone. Quiet hours are local wall
    times; ``quiet_start > quiet_end`` spans midnight (21:00-08:00), equal or missing means
    none.
    """

    customer_id: int | None
    name: str = ""
    phone: str = ""
    email: str = ""
    channel: ContactPreference = ContactPreference.SMS
    opted_out: bool = False
    lang: str = "en"
    tz: str = ""
    quiet_start: time | None = None
    quiet_end: time | None = None


def zone(name: str, fallback: str = "UTC") -> ZoneInfo:
    """The zone called ``name``, else ``fallback``; a typo in a customer record never crashes."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


DEFAULT_LEASE = timedelta(minutes=5)


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """No relay will touch the row again (``sent`` still awaits a receipt)."""
        return self in (OutboxStatus.DELIVERED, OutboxStatus.FAILED, OutboxStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One outbox row. Mirrors ``outbox_messages`` (see docs/messaging.md for the columns).

    ``id`` is ``None`` until the store has saved the row. ``not_before`` is when the message
    was first allowed to leave (undo window, quiet hours); ``next_attempt_at`` is when the
    relay may next try (equal to ``not_before`` at first, later moved by retries).
    ``attempts`` counts hand-overs to a channel (:meth:`OutboxStore.start_attempt`, just
    before the channel is called), so a message that crashes the relay every time still
    reaches the attempt limit, while a claim that a crash cut short before the channel was
    called costs nothing. All datetimes are aware UTC.
    """

    idempotency_key: str
    customer_id: int | None
    stop_ref: str | None
    situation: str
    template_id: str
    template_version: int
    channel: str
    address: str
    body: str
    not_before: datetime
    next_attempt_at: datetime
    created_at: datetime
    created_by: str = "system"
    subject: str = ""
    body_html: str = ""
    status: OutboxStatus = OutboxStatus.QUEUED
    attempts: int = 0
    last_error: str = ""
    provider_id: str = ""
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RouteStop:
    """One stop of the vehicle's route, as the ETA walk needs it."""

    stop_id: int
    lat: float
    lon: float
    service_s: int
    status: StopStatus
    window_start: datetime | None = None
    window_end: datetime | None = None
    planned_arrival: datetime | None = None
    customer_id: int | None = None
    order_ref: str = ""


@dataclass(frozen=True, slots=True)
class StopContact:
    """A stop with its customer and its vehicle's route (filled by the persistence layer).

    ``route`` is the whole route of the stop's vehicle in sequence (done stops included);
    ``depot``/``shift_start`` let the ETA start from the depot before the van has left;
    ``break_*`` is the driver's break rule (fleet setup), which the ETA counts like the
    alerts' ETA does.
    """

    stop_id: int
    order_ref: str
    status: StopStatus
    customer: CustomerPreferences
    address: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None
    planned_arrival: datetime | None = None
    pod_ref: str = ""
    failure_reason: str = ""
    completed_at: datetime | None = None
    vehicle_id: str | None = None
    driver_name: str = ""
    shift_start: datetime | None = None
    shift_end: datetime | None = None
    depot: tuple[float, float] | None = None
    route: tuple[RouteStop, ...] = field(default_factory=tuple)
    break_after_min: int | None = None
    break_min: int = 0
    break_latest_min: int | None = None
    vehicle_type: str = "van"
    """Which road profile times the route (``[routing.profiles]``)."""
