"""Which message fits which event: the situations we have templates for.

Alerts, stop statuses and delivery events speak their own vocabularies; the dispatcher's
one-click "message customer" and the automation both need the same answer to "what do we
tell the customer now?", so the mapping lives here, once.
"""

from __future__ import annotations

import enum

from dispatcher.errors import ValidationError
from dispatcher.model.core import DeliveryEventKind, StopStatus


class Situation(enum.StrEnum):
    """A reason to write to a customer; each has templates per channel and language."""

    RUNNING_LATE = "running_late"
    ARRIVING_SOON = "arriving_soon"
    DELIVERED = "delivered"
    MISSED_YOU = "missed_you"
    WINDOW_CHANGED = "window_changed"
    REASSIGNED = "reassigned"
    FREE_TEXT = "free_text"


#: Alert kinds (as the alerts room names them) and their customer-facing situation: the one
#: such map (:func:`alert_situation`). Several spellings are accepted so a renamed rule does
#: not silently stop messages.
_ALERT_KINDS: dict[str, Situation] = {
    "late": Situation.RUNNING_LATE,
    "running_late": Situation.RUNNING_LATE,
    "at_risk": Situation.RUNNING_LATE,
    "eta_at_risk": Situation.RUNNING_LATE,
    "eta_late": Situation.RUNNING_LATE,
    "window_missed": Situation.RUNNING_LATE,
    "arriving_soon": Situation.ARRIVING_SOON,
    "approaching": Situation.ARRIVING_SOON,
    "delivered": Situation.DELIVERED,
    "failed": Situation.MISSED_YOU,
    "failed_delivery": Situation.MISSED_YOU,
    "delivery_failed": Situation.MISSED_YOU,
    "missed": Situation.MISSED_YOU,
    "window_changed": Situation.WINDOW_CHANGED,
    "reassigned": Situation.REASSIGNED,
    "order_reassigned": Situation.REASSIGNED,
    "free_text": Situation.FREE_TEXT,
}

_STOP_STATUSES: dict[StopStatus, Situation] = {
    StopStatus.NEXT: Situation.ARRIVING_SOON,
    StopStatus.ARRIVED: Situation.ARRIVING_SOON,
    StopStatus.DONE: Situation.DELIVERED,
    StopStatus.FAILED: Situation.MISSED_YOU,
    StopStatus.SKIPPED: Situation.MISSED_YOU,
}

_EVENT_KINDS: dict[DeliveryEventKind, Situation] = {
    DeliveryEventKind.DELIVERED: Situation.DELIVERED,
    DeliveryEventKind.POD: Situation.DELIVERED,
    DeliveryEventKind.FAILED: Situation.MISSED_YOU,
    DeliveryEventKind.ARRIVED: Situation.ARRIVING_SOON,
}


def choose_situation(trigger: str | StopStatus | DeliveryEventKind | Situation) -> Situation:
    """Return the situation to write about for an alert kind, stop status or delivery event.

    Args:
        trigger: an alert kind (``"late"``, ``"at_risk"``, ``"failed"``...), a
            :class:`StopStatus`, a :class:`DeliveryEventKind` or a situation itself.

    Raises:
        ValidationError: when there is nothing to tell a customer about this trigger (a
            pending stop, an unknown alert kind); the message names the trigger.
    """
    if isinstance(trigger, Situation):
        return trigger
    if isinstance(trigger, StopStatus):
        found = _STOP_STATUSES.get(trigger)
    elif isinstance(trigger, DeliveryEventKind):
        found = _EVENT_KINDS.get(trigger)
    else:
        found = alert_situation(trigger) or _situation_by_value(_key(trigger))
    if found is None:
        raise ValidationError(f"no customer message fits {trigger!r}")
    return found


def alert_situation(kind: str) -> Situation | None:
    """The customer message an alert of ``kind`` calls for, or None when it is not one.

    The exception queue's "Message customer" asks here (``None`` lets the service decide from
    the stop's state), so an alert kind is mapped in one place for the window and the core.
    """
    return _ALERT_KINDS.get(_key(kind))


def _key(trigger: str) -> str:
    return str(trigger).strip().lower().replace("-", "_").replace(" ", "_")


def _situation_by_value(key: str) -> Situation | None:
    try:
        return Situation(key)
    except ValueError:
        return None


class ChannelKind(enum.StrEnum):
    """How a message leaves: to a customer by SMS or email, or to a driver over MQTT."""

    SMS = "sms"
    EMAIL = "email"
    DRIVER = "driver"


#: Variables every template may use (all optional: a template that prints one unguarded
#: fails to render when it is missing, and says so).
COMMON_VARIABLES: tuple[str, ...] = (
    "customer_name",
    "company_name",
    "company_phone",
    "order_ref",
    "address",
    "driver_name",
    "tracking_url",
)

#: Per situation: the variables a message cannot go without, then the optional ones.
SITUATION_VARIABLES: dict[Situation, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Situation.RUNNING_LATE: (("eta",), ("window", "delay_minutes", "eta_date")),
    Situation.ARRIVING_SOON: (("eta",), ("minutes_away", "window")),
    Situation.DELIVERED: (("pod_ref",), ("delivered_at",)),
    Situation.MISSED_YOU: ((), ("reschedule_url", "reschedule_phone", "reason")),
    Situation.WINDOW_CHANGED: (("window",), ("window_date", "eta")),
    Situation.REASSIGNED: ((), ("eta", "window")),
    Situation.FREE_TEXT: (("text",), ()),
}


def allowed_variables(situation: Situation) -> frozenset[str]:
    """Every variable a template for ``situation`` may mention."""
    required, optional = SITUATION_VARIABLES[situation]
    return frozenset(COMMON_VARIABLES) | frozenset(required) | frozenset(optional)
