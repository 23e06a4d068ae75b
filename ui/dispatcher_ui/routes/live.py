"""Keeping the route boards current without F5: drivers' progress and other workstations.

Two things change the day behind the dispatcher's back:

* **Drivers' events** (delivered, failed, arrived) are written to the database by whichever
  process records telemetry. Every ``progress_every_s`` the stops' status and actual arrival
  are read off the GUI thread and merged there into a copy of the plan, the touched routes
  evaluated again (:meth:`~dispatcher.planning.desk.RouteDesk.progress_job`); the GUI thread
  only takes the changed stops and routes into the plan
  (:meth:`~dispatcher.planning.desk.RouteDesk.apply_progress`). When the plan changed
  meanwhile (a live ETA refresh, an edit) the merge is redone on a fresh copy in a worker,
  up to :data:`STALE_RETRIES` times in a row; only then does the GUI thread merge what was
  read into the plan as it is now. Statuses are not
  route edits, so the undo history stays (an undo that would move a stop done meanwhile is
  refused by the command itself).
* **Another workstation saved a route**: its note on the console sync topic reaches the bus
  as a :class:`~dispatcher.events.ConsoleNote` (the alerts sync's connection, the one
  listener of that topic). A note for a version these boards already have (their own save)
  is ignored; otherwise the day is read off the GUI thread and, if a route really changed,
  only the changed routes are merged into the plan (the undo steps that changed them are
  dropped, the others kept) and the status bar names the person who changed them.

A database that cannot be reached pauses both, with one message, and never blocks the GUI.
A read that lands while this desk's own edit is still being saved is not compared (the
versions would differ by our own save): it is read again once the saves are done. A save
refused as stale (a conflict) also reads the day again here, off the GUI thread.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from dispatcher.clock import system_monotonic
from dispatcher.events import ConsoleNote
from dispatcher.planning.desk import (
    LiveRefresh,
    PreparedDay,
    PreparedProgress,
    RouteView,
    VehicleView,
)
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.routes.controller import BoardController

log = logging.getLogger(__name__)

#: Seconds of wall time between two reads of the stops' progress.
PROGRESS_EVERY_S = 3.0
#: A progress merge whose copy of the plan went stale (a live ETA refresh landed meanwhile) is
#: redone in a worker this many times in a row before the GUI thread merges it itself.
STALE_RETRIES = 2


class LiveBoardUpdates(QObject):
    """Polls the stops' progress and reloads on other workstations' route notes."""

    def __init__(self, controller: BoardController) -> None:
        super().__init__(controller)
        self.controller = controller
        self.progress_every_s = PROGRESS_EVERY_S
        self.progress_ms = 0.0  # duration of the last progress read (worker thread)
        self._last_poll = system_monotonic()
        self._progress_busy = False
        self._stale_progress = 0
        self._times_busy = False
        self._reload_busy = False
        self._reload_again = False
        self._reload_after_save = False
        self._notes: list[ConsoleNote] = []
        self._trouble = ""
        core = controller.core
        self._alive = True  # a worker may answer after the window closed: then nobody listens
        unsubscribe = core.bus.subscribe(ConsoleNote, self.on_note)

        def closed(*_: object) -> None:
            self._alive = False
            unsubscribe()

        self.destroyed.connect(closed)
        controller.desk.on_conflict = self.reload
        controller.saving_changed.connect(self._saving_changed)

    def _saving_changed(self, saving: bool) -> None:
        if not saving and self._reload_after_save:
            self._reload_after_save = False
            self.reload()

    def tick(self) -> None:
        """Per UI tick: ETAs from live positions, and the stops' progress when due."""
        self.refresh_times()
        self.poll_progress()

    # --- ETAs from live positions -------------------------------------------------------------
    def refresh_times(self) -> bool:
        """Start the live refresh of the ETAs in a worker when due (at most one at a time):
        evaluating 500 routes held the GUI thread for a second (bench/console.py)."""
        if self._times_busy:
            return False
        job = self.controller.desk.live_refresh_job()
        if job is None:
            return False
        self._times_busy = True
        run_in_background(job, self._on_times, self._on_times_error)
        return True

    def _on_times(self, result: LiveRefresh) -> None:
        if not self._alive:
            return
        self._times_busy = False
        self.controller.desk.apply_live_refresh(result)

    def _on_times_error(self, exc: Exception) -> None:
        if self._alive:
            self._times_busy = False
            log.warning("live ETA refresh failed: %s", exc)

    # --- drivers' progress ------------------------------------------------------------------
    def poll_progress(self, *, force: bool = False) -> bool:
        """Start a background read and merge of the stops' progress (at most one at a time)."""
        day = self.controller.day
        if day is None or self._progress_busy:
            return False
        now = system_monotonic()
        if not force and now - self._last_poll < self.progress_every_s:
            return False
        job = self.controller.desk.progress_job(day.day)
        if job is None:
            return False
        self._last_poll = now
        self._progress_busy = True

        def work() -> PreparedProgress:
            started = time.perf_counter()
            prepared = job()
            self.progress_ms = (time.perf_counter() - started) * 1000
            return prepared

        run_in_background(work, self._on_progress, self._on_progress_error)
        return True

    def _on_progress(self, prepared: PreparedProgress) -> None:
        if not self._alive:
            return
        self._progress_busy = False
        if self._reachable() and self._notes:
            self.reload()  # a note heard while the database was away
        desk = self.controller.desk
        if (
            self.controller.day is not None
            and prepared.generation == desk.generation
            and not desk.progress_current(prepared)
            and self._stale_progress < STALE_RETRIES
        ):
            # The plan changed since the copy (a live ETA refresh lands every few seconds):
            # merge again on a fresh copy, off the GUI thread. Merging here instead held the
            # GUI thread for the whole merge and evaluation at 500 vehicles (bench/console.py).
            self._stale_progress += 1
            self.poll_progress(force=True)
            return
        self._stale_progress = 0
        self.controller.apply_progress(prepared)  # dropped if for another day

    def _on_progress_error(self, exc: Exception) -> None:
        if not self._alive:
            return
        self._progress_busy = False
        self._unreachable("Live stop status paused", exc)

    # --- other workstations -------------------------------------------------------------------
    def on_note(self, note: ConsoleNote) -> None:
        """A sync note from another process (bus, GUI thread): reload if it is news to us."""
        day = self.controller.day
        if note.entity != "route" or day is None:
            return
        vid = next((v for v, rid in day.route_ids.items() if rid and str(rid) == note.id), None)
        if vid is not None and note.version is not None and note.version <= day.db_versions[vid]:
            return  # our own save, or a version these boards already show
        self._notes.append(note)
        self.reload()

    def reload(self) -> None:
        """Read the day off the GUI thread; show it if a route changed (one read at a time)."""
        if self._reload_busy:
            self._reload_again = True
            return
        self._reload_busy = True
        day = self.controller.day
        service_day = None if day is None else day.day
        desk, generation = self.controller.desk, self.controller.generation
        shown = {} if day is None else dict(day.db_versions)
        positions, now = desk.live_positions(), desk.clock.now()

        def read() -> tuple[list[RouteView], list[VehicleView], PreparedDay | None]:
            """The day as stored and, when a route differs from the one shown, its plan,
            matrix and evaluation: built here, as F5's are (at 500 vehicles / 10,000 stops
            the GUI thread built and evaluated the merged day itself, about a second at
            every save of another desk)."""
            routes, vehicles = desk.read_routes(service_day)
            if not any(r.version != shown.get(r.vehicle_id, 0) for r in routes if r.vehicle_id):
                return routes, vehicles, None
            try:
                prepared = desk.prepare(routes, vehicles, service_day, positions, now)
            except Exception as exc:  # the GUI thread builds it, where a fault is reported
                log.debug("another desk's save not prepared in the worker: %s", exc)
                prepared = None
            return routes, vehicles, prepared

        run_in_background(read, lambda r: self._on_day(generation, *r), self._on_reload_error)

    def _on_day(
        self,
        generation: int,
        routes: list[RouteView],
        vehicles: list[VehicleView],
        prepared: PreparedDay | None = None,
    ) -> None:
        if not self._alive:
            return
        self._reload_busy = False
        self._reachable()
        c = self.controller
        if c.saving:  # our own save may be in what was read: compare once it is done
            self._reload_after_save = True
        elif generation == c.generation and c.day is not None:
            stored = {r.vehicle_id: r.version for r in routes if r.vehicle_id}
            changed = sorted(v for v, ver in stored.items() if ver != c.day.db_versions.get(v, 0))
            if changed:
                self._show_reload(routes, vehicles, changed, prepared)
        if self._reload_again:
            self._reload_again = False
            self.reload()
        else:
            self._notes.clear()

    def _show_reload(
        self,
        routes: list[RouteView],
        vehicles: list[VehicleView],
        changed: list[str],
        prepared: PreparedDay | None = None,
    ) -> None:
        c = self.controller
        stack = c.undo_stack
        history = set() if stack is None else stack.vehicles_in_history()
        lost = [v for v in changed if v in history]
        who = ", ".join(sorted({n.actor for n in self._notes if n.actor})) or "Another workstation"
        self._notes.clear()
        dropped = c.merge_remote(routes, vehicles, changed, prepared)
        if dropped is None:  # the day changed too much to merge: read it afresh
            if not c.load(routes, vehicles, prepared=prepared):
                return
            text = f"{who} changed the route of {', '.join(changed)}; the boards were reloaded"
            if history:
                text += " and the undo history was cleared"
            c.message.emit(text)
            return
        text = f"{who} changed the route of {', '.join(changed)}"
        if dropped:
            text += (
                f". {dropped} undo step(s) on {', '.join(lost) or 'the unassigned stops'}"
                " were dropped (your changes were saved; theirs are shown)"
            )
        elif history:
            text += "; your undo history is kept"
        c.message.emit(text)

    def _on_reload_error(self, exc: Exception) -> None:
        if not self._alive:
            return
        self._reload_busy = False
        self._reload_again = False
        self._unreachable("Another workstation's route change is not shown yet", exc)

    # --- database trouble ---------------------------------------------------------------------
    def _unreachable(self, what: str, exc: Any) -> None:
        text = f"{what} — the database cannot be reached: {exc}"
        if text != self._trouble:  # say it once, not every poll
            self._trouble = text
            log.warning("%s", text)
            self.controller.message.emit(text)

    def _reachable(self) -> bool:
        """Clear a trouble message; True when there was one (the database came back)."""
        if not self._trouble:
            return False
        self._trouble = ""
        self.controller.message.emit("The database is reachable again; boards are live")
        return True
