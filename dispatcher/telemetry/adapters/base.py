"""The one interface every device format implements.

An adapter owns a family of topics (``accepts``) and turns one message into one normalized
report or a :class:`Rejection`. It never raises: the field helpers raise
:class:`PayloadError`, and :func:`guarded` turns that (and, as a last line of defence, any
other exception) into a rejection, so a hostile payload can only ever be counted and
quarantined.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from dispatcher.model.core import EventReport, PositionReport, StatusReport
from dispatcher.telemetry.rejection import PayloadError, Rejection, RejectReason

log = logging.getLogger(__name__)

Report = PositionReport | EventReport | StatusReport
ParseResult = Report | Rejection


class Adapter(Protocol):
    """A device format: which topics it owns and how to normalize their payloads."""

    @property
    def name(self) -> str:
        """Short, stable adapter name (also the ``source`` of its reports)."""
        ...

    def accepts(self, topic: str) -> bool:
        """True when ``topic`` belongs to this format (cheap: called for every message)."""
        ...

    def parse(self, topic: str, payload: bytes, received_at: datetime) -> ParseResult:
        """Normalize one message; never raises."""
        ...


class SubscriptionSpec(Protocol):
    """Adapters that know which MQTT topic filters (and QoS) the client must subscribe to."""

    def subscriptions(self) -> list[tuple[str, int]]:
        """``(topic filter, qos)`` pairs; QoS 1 only where the payload must not be lost."""
        ...


def guarded(adapter: str, topic: str, parse: Callable[[], Report]) -> ParseResult:
    """Run an adapter's parser: a PayloadError becomes its rejection, any other exception an
    ``unexpected`` one, so no device payload can raise past the adapter."""
    try:
        return parse()
    except PayloadError as exc:
        return exc.rejection()
    except Exception as exc:
        return unexpected(adapter, topic, exc)


def unexpected(adapter: str, topic: str, exc: Exception) -> Rejection:
    """A bug in an adapter must not stop ingest: log it and reject the message."""
    log.exception("adapter %s failed on topic %r", adapter, topic[:120], exc_info=exc)
    return Rejection(RejectReason.BAD_VALUE, f"unexpected {type(exc).__name__}")


def not_bound(key: str) -> PayloadError:
    """The rejection of a device nobody bound to a vehicle (it is listed to be bound)."""
    return PayloadError(
        RejectReason.UNKNOWN_DEVICE,
        f"{key} is not bound to a vehicle: bind it in the console's devices list",
    )


def split_topic(topic: str) -> list[str]:
    """Topic levels; an empty level (``a//b``) is kept so that it can be rejected."""
    return topic.split("/")


__all__ = [
    "Adapter",
    "ParseResult",
    "PayloadError",
    "Report",
    "SubscriptionSpec",
    "not_bound",
    "split_topic",
    "unexpected",
]
