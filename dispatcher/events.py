"""A small typed publish/subscribe bus: the core's one way to announce changes.

Publishers do not know who listens (the UI's Qt models, the map bridge, alert rules, the
MQTT sync). Handlers run synchronously in the publisher's thread; the core publishes from the
GUI thread's tick, so Qt adapters may touch widgets directly. A failing handler is logged and
does not stop the others: one broken view must not break ingest.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], None]


class EventBus:
    """Dispatch events to handlers registered for the event's class (or a base class)."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call ``handler`` for every published ``event_type``; returns an unsubscribe function."""
        self._handlers[event_type].append(handler)

        def unsubscribe() -> None:
            handlers = self._handlers.get(event_type, [])
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    def publish(self, event: object) -> None:
        """Deliver ``event`` to the handlers of its class and of its base classes."""
        for cls in type(event).__mro__:
            for handler in list(self._handlers.get(cls, ())):
                try:
                    handler(event)
                except Exception:
                    log.exception("event handler %r failed on %s", handler, type(event).__name__)


@dataclass(frozen=True, slots=True)
class ConsoleNote:
    """Another workstation's sync note about something other than alerts (e.g. a route).

    Published on the core's bus from :meth:`~dispatcher.alerts.sync.AlertsSync.tick`, so every
    room reuses this one sync connection (the route boards reload when ``entity == "route"``).
    Defined here, not in the alerts room, because live telemetry and the route boards hear it
    and the alerts room is built on them (docs/architecture.md).
    """

    entity: str
    id: str
    version: int | None
    console_id: str
    #: The person who made the change (their login), "" from an older console.
    actor: str = ""
