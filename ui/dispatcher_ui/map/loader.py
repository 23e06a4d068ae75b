"""Database reads for the map, off the GUI thread: at most one in flight, the newest wins.

The map re-reads the day's routes and the open exceptions now and then. The GUI thread never
waits on the database (see DESIGN.md §2), so each read runs through
:func:`dispatcher_ui.workers.run_in_background` and its result is applied on the GUI thread.

:class:`LatestLoad` keeps one such read honest:

* at most one load is in flight; asking again meanwhile queues ONE follow-up load (however
  often it is asked), started when the running one ends;
* a result is applied only if no newer request was made after its load started — otherwise
  it may already be out of date (an exception acknowledged meanwhile, another service day),
  and it is dropped; the follow-up load brings the current state;
* a failed load calls ``on_error`` (the map puts it in the status bar); the next request
  simply tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dispatcher_ui.workers import run_in_background

log = logging.getLogger(__name__)


class LatestLoad:
    """One kind of background read (``fetch`` runs in a worker thread; the callbacks do not)."""

    def __init__(
        self,
        name: str,
        fetch: Callable[[], Any],
        apply: Callable[[Any], None],
        on_error: Callable[[str, Exception], None],
    ) -> None:
        self.name = name
        #: The read itself (runs in a worker thread); replaceable, e.g. by tests.
        self.fetch = fetch
        self._apply = apply
        self._on_error = on_error
        self._requested = 0  # generation of the newest request
        self._running: int | None = None  # generation of the load in flight
        self._closed = False
        #: Counters for tests and the log.
        self.applied = self.dropped = self.failed = 0

    @property
    def in_flight(self) -> bool:
        return self._running is not None

    def request(self) -> None:
        """Ask for fresh data; a load starts now, or right after the one in flight."""
        if self._closed:
            return
        self._requested += 1
        if self._running is None:
            self._start()

    def close(self) -> None:
        """Apply nothing more (the map is going away); a load in flight finishes unheard."""
        self._closed = True

    def _start(self) -> None:
        generation = self._running = self._requested
        run_in_background(
            self.fetch,
            lambda result: self._finished(generation, result, None),
            lambda exc: self._finished(generation, None, exc),
        )

    def _finished(self, generation: int, result: Any, error: Exception | None) -> None:
        self._running = None
        if self._closed:
            return
        newer = self._requested > generation
        if error is not None:
            self.failed += 1
            if not newer:  # a newer load follows; it reports for itself
                self._on_error(self.name, error)
        elif newer:
            self.dropped += 1
            log.debug("map: %s load superseded by a newer request; result dropped", self.name)
        else:
            self.applied += 1
            try:
                self._apply(result)
            except Exception as exc:  # a bad result must not take the map down
                log.exception("map: applying the %s failed", self.name)
                self._on_error(self.name, exc)
        if newer:
            self._start()
