"""Background services that hang off the core: alert rules, the outbox relay, history pruning.

Both front ends run the same services: the console calls :meth:`Core.tick` from its GUI timer,
``dispatcher serve`` from its headless loop. A service does a bounded amount of work per tick
(anything slow goes to its own thread) and must never raise into the loop: the core logs a
failing tick and carries on, so one broken service cannot stop ingest or the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from dispatcher.clock import system_monotonic
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


def run_for(duration: float | None, tick: Callable[[], object], interval_s: float = 0.2) -> None:
    """Call ``tick`` every ``interval_s`` until ``duration`` elapses, SIGTERM or Ctrl+C.

    SIGTERM (systemd, ``docker stop``) and SIGINT only set a flag that the loop reads between
    ticks, so both end the same graceful way: the caller's ``finally`` stops intake, flushes
    what was received and closes. Without this SIGTERM killed the process on the spot.
    """
    import signal
    import threading

    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    deadline = None if duration is None else system_monotonic() + duration
    try:
        while not stop.is_set() and (deadline is None or system_monotonic() < deadline):
            tick()
            stop.wait(interval_s)
    except KeyboardInterrupt:  # a handler installed by someone else
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
