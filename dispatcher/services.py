"""Background services that hang off the core: alert rules, the outbox relay, history pruning.

Both front ends run the same services: the console calls :meth:`Core.tick` from its GUI timer,
``dispatcher serve`` from its headless loop. A service does a bounded amount of work per tick
(anything slow goes to its own thread) and must never raise into the loop: the core logs a
failing tick and carries on, so one broken service cannot stop ingest or the others.
"""

from __future__ import annotations

from typing import Protocol

from dispatcher.errors import DispatcherError


class ServiceMissing(DispatcherError):
    """The core was built without a service that an action needs (see dispatcher/app.py)."""


class Service(Protocol):
    """A piece of the core that works a little on every tick."""

    #: Short name for logs and the status bar ("alert rules", "outbox relay").
    name: str

    def tick(self) -> None:
        """Do what is due now; called every UI tick (default 200 ms) from one thread."""

    def stop(self) -> None:
        """Release threads and connections; called once, when the core closes."""
