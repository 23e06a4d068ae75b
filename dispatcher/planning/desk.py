"""The route desk: the day's plan as a front end edits it — commands, undo, save, publish.

Shaped like the alert desk (:mod:`dispatcher.alerts.desk`). Every edit the boards offer
(drag, keyboard move, lock, optimizer preview, insertion) ends in :meth:`RouteDesk.execute`:
a :mod:`dispatcher.planning` command on the one :class:`~dispatcher.planning.dayplan.DayPlan`,
then the pure evaluator, then one database transaction with optimistic locking, then the
retained route message to each changed vehicle through a :class:`RoutePublisher`, then one
:class:`RoutesChanged` on the core's bus (the map re-reads on it instead of polling).

No Qt here: the window's adapter (``ui/dispatcher_ui/routes/controller.py``) sets the ``on_*``
callbacks to its signals. An edit is split in two: it is applied to the plan and shown at once (the
optimistic part), then saved through :attr:`RouteDesk.run_save`. That runs the save in the
caller's thread by default (the CLI, the core's tests); the window hands it to a worker so a
stalled database never freezes the boards. Saves are queued, one at a time, in edit order; a
save that fails takes back every edit still waiting, so the boards show what is stored.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from dispatcher.clock import Clock, system_monotonic
from dispatcher.errors import ConflictError, DatabaseError, DispatcherError, ValidationError
from dispatcher.eta import HaversineProvider, TravelTimeProvider
from dispatcher.eta.fleet_roads import FleetRoads
from dispatcher.events import EventBus
from dispatcher.model.stops import RouteView
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.fleet_repo import StopProgress, VehicleView
from dispatcher.planning.commands import (
    MoveToVehicle,
    MoveWithinRoute,
    RouteCommand,
    SetLocks,
    Unassign,
    UndoStack,
)
from dispatcher.planning.constraints import move_violations, placement_violations
from dispatcher.planning.dayplan import (
    UNASSIGNED,
    DayPlan,
    ProgressMerge,
    build_day_plan,
    route_message,
)
from dispatcher.planning.evaluate import (
    PlanEvaluation,
    RouteEvaluation,
    diff,
    evaluate_plan,
)
from dispatcher.planning.insertion import InsertionSuggestion, suggest_insertions
from dispatcher.planning.model import PlanMatrix
from dispatcher.planning.progress import PlanBase, PreparedProgress, progress_evaluation
from dispatcher.planning.stop_eta import StopEta, StopEtasChanged, by_stop_id, stop_etas
from dispatcher.routing import WarmRoads, day_places

log = logging.getLogger(__name__)

#: ETAs are recomputed from live positions at most this often (seconds of wall time).
REFRESH_EVERY_S = 2.0

__all__ = [
    "REFRESH_EVERY_S",
    "PreparedProgress",
    "RouteDesk",
    "RoutePublisher",
    "RouteView",
    "RoutesChanged",
    "StopProgress",
    "VehicleView",
]


@dataclass(frozen=True, slots=True)
class RoutesChanged:
    """The routes of ``day`` changed in the database or were read again from it.

    ``vehicles`` are the routes saved ("" = the unassigned pool); empty after a reload or a
    merge of another desk's saves, when any route may differ. Views that show routes (the
    map) re-read on it rather than polling.
    """

    day: date
    vehicles: frozenset[str] = frozenset()
    #: "save" (this desk's edit), "reload", "remote" (another desk's saves), "place".
    source: str = "save"
    #: With a "reload" or "remote": the routes the desk read, so that the map shows them
    #: instead of reading the day again (10,000 stops of Python beside the GUI thread at 500
    #: vehicles: bench/console.py). Not part of the event's equality.
    routes: tuple[RouteView, ...] | None = field(default=None, compare=False, repr=False)


class RoutePublisher(Protocol):
    """Where saved routes go: the drivers' retained route topic and the desks' sync topic."""

    def publish_route(self, vehicle_id: str, payload: Mapping[str, Any]) -> Any: ...

    def publish_sync(self, note: Mapping[str, Any]) -> Any: ...


def _ignore(*_args: object) -> None:
    """The default of every ``on_*`` callback: a desk without a front end tells no one."""


SaveRunner = Callable[[Callable[[], Any], Callable[[Any], None], Callable[[Exception], None]], None]


def run_here(
    fn: Callable[[], Any], on_done: Callable[[Any], None], on_error: Callable[[Exception], None]
) -> None:
    """Run a save in the caller's thread (the default :data:`SaveRunner`)."""
    try:
        result = fn()
    except DispatcherError as exc:
        on_error(exc)
        return
    on_done(result)


@dataclass(slots=True)
class _Edit:
    """One edit applied to the plan and shown, whose save is queued or running."""

    label: str
    before: PlanEvaluation
    vids: set[str]
    pool: set[str]
    changed: frozenset[str]
    revert: Callable[[], RouteCommand]
    retry: str
    #: True once stored, False once taken back; None while waiting.
    saved: bool | None = None


@dataclass(frozen=True, slots=True)
class PreparedDay:
    """A read day's plan, matrix, evaluation and ETAs, built off the GUI thread
    (:meth:`RouteDesk.prepare`); :meth:`RouteDesk.load` takes it for these ``routes``."""

    routes: list[RouteView]
    day: DayPlan
    pm: PlanMatrix
    evaluation: PlanEvaluation
    etas: dict[str, StopEta]


@dataclass(frozen=True, slots=True)
class LiveRefresh:
    """A live refresh computed off the GUI thread (:meth:`RouteDesk.live_refresh_job`)."""

    generation: int
    day: DayPlan
    pm: PlanMatrix
    evaluation: PlanEvaluation
    #: The stops' ETAs from ``evaluation``, also computed off the GUI thread (10,000 stops).
    etas: dict[str, StopEta] | None = None


class RouteDesk:
    """Holds the day's plan and runs every edit through core commands, then saves it."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        bus: EventBus,
        timezone: ZoneInfo,
        *,
        load_routes: Callable[[date | None], list[RouteView]],
        actor: Callable[[], str],
        positions: Callable[[], dict[str, tuple[float, float]] | None] = lambda: None,
        publisher: Callable[[], RoutePublisher | None] = lambda: None,
        console_id: Callable[[], str] = lambda: "console",
        provider: TravelTimeProvider | None = None,
    ) -> None:
        """``positions`` gives the vehicles' live places (None: no live telemetry);
        ``publisher`` the broker connection when there is one (asked at each save, since the
        telemetry link may come up later); ``console_id`` this desk's name on the sync topic;
        ``provider`` the travel times (straight lines when None); the console's is the
        router's :class:`~dispatcher.routing.WarmRoads`, asked on the GUI thread without waiting.
        """
        self.db, self.clock, self.bus, self.timezone = db, clock, bus, timezone
        self._load_routes, self._positions = load_routes, positions
        self._publisher, self.console_id = publisher, console_id
        #: Who is editing: their name goes in the audit, the route row and the sync note.
        self.actor = actor
        self.provider: TravelTimeProvider = provider or HaversineProvider()
        self.day: DayPlan | None = None
        self.pm: PlanMatrix | None = None
        self._evaluation: PlanEvaluation | None = None
        #: Every assigned stop's ETA (plan stop id): what the boards AND the map show.
        self.etas: dict[str, StopEta] = {}
        self.undo_stack: UndoStack | None = None
        self.last_change = ""
        self.save_ms = 0.0
        #: Saves made so far: a reload read before the latest save is out of date.
        self.saves = 0
        self._saved: dict[str, str | None] = {}
        self._last_refresh = 0.0
        #: Bumped by every load: background results for an older day are dropped.
        self.generation = 0
        # What the front end hears (the Qt adapter sets these to its signals).
        self.on_routes: Callable[[frozenset[str] | None], None] = _ignore
        self.on_times: Callable[[], None] = _ignore
        self.on_focus: Callable[[list[str]], None] = _ignore
        self.on_message: Callable[[str], None] = _ignore
        self.on_progressed: Callable[[list[str]], None] = _ignore
        self.on_reloaded: Callable[[list[RouteView]], None] = _ignore
        #: True when a save starts waiting on the database, False when none is left.
        self.on_saving: Callable[[bool], None] = _ignore
        #: After a conflict: show what is stored (default: :meth:`load`, in this thread).
        self.on_conflict: Callable[[], None] = self._reload_after_conflict
        #: How a save runs (see the module doc); the callbacks come back in the caller's thread.
        self.run_save: SaveRunner = run_here
        self._queue: deque[_Edit] = deque()

    @property
    def saving(self) -> bool:
        """An edit is shown whose save has not finished (or not started) yet."""
        return bool(self._queue)

    @property
    def evaluation(self) -> PlanEvaluation | None:
        return self._evaluation

    @evaluation.setter
    def evaluation(self, evaluation: PlanEvaluation | None) -> None:
        """Every new evaluation refreshes the one ETA table and announces it (the map)."""
        self._show_evaluation(evaluation)

    def _show_evaluation(
        self, evaluation: PlanEvaluation | None, etas: dict[str, StopEta] | None = None
    ) -> None:
        """Take ``evaluation`` and its ETA table (computed here when not given)."""
        self._evaluation = evaluation
        if evaluation is None or self.day is None:
            self.etas = {}
        else:
            self.etas = stop_etas(self.day, evaluation) if etas is None else etas
        self.bus.publish(StopEtasChanged(by_stop_id(self.etas)))

    def _announce(
        self,
        vehicles: Iterable[str] = (),
        source: str = "save",
        routes: tuple[RouteView, ...] | None = None,
    ) -> None:
        if self.day is not None:
            self.bus.publish(RoutesChanged(self.day.day, frozenset(vehicles), source, routes))

    # --- loading and live refresh ---------------------------------------------------------
    def load(
        self,
        routes: list[RouteView] | None = None,
        vehicles: list[VehicleView] | None = None,
        day: date | None = None,
        prepared: PreparedDay | None = None,
    ) -> bool:
        """(Re)read the day from the database; the undo history starts afresh.

        ``prepared``: the plan of these ``routes``, built and evaluated in the reading worker
        (:meth:`prepare`): at 500 vehicles that was 1.5 s of the GUI thread's F5.

        ``day`` is the day the routes are of (the day picker's); default the day shown now,
        so a reload after a conflict stays on it, even when it has no stops.

        An unreachable database leaves the plan as it was and says so (False).
        Every route counts as changed by a reload, so an optimizer preview computed before
        it is refused as stale rather than applied over someone else's change.
        """
        day = day or (self.day.day if self.day is not None else None)
        try:
            if routes is None:
                routes = self._load_routes(day)
            if vehicles is None:
                with self.db.session() as session:
                    vehicles = fleet_repo.load_vehicles(session)
        except DispatcherError as exc:
            self.on_message(f"Routes not loaded — {exc}")
            return False
        if not vehicles and not any(r.stops for r in routes):
            self.on_message("No vehicles or orders yet: import orders (Ctrl+I)")
            return False
        old = self.day.plan.versions if self.day is not None else {}
        if self._queue:  # what waits is dropped with the plan it edited; a save in flight lands
            self._queue.clear()
            self.on_saving(False)
        ready = prepared is not None and prepared.routes is routes
        if prepared is not None and ready:
            self.day = prepared.day
        else:
            self.day = build_day_plan(routes, vehicles, self.timezone, day=day)
        for vid in self.day.plan.versions:
            self.day.plan.versions[vid] = old.get(vid, 0) + 1
        self.generation += 1
        self.undo_stack = UndoStack(self.day.plan)
        self._saved = {
            sid: vid for vid, r in self.day.plan.routes.items() for sid in r
        } | dict.fromkeys(self.day.plan.unassigned)
        if prepared is not None and ready:
            self.pm = prepared.pm
            self._show_evaluation(prepared.evaluation, prepared.etas)
            self._last_refresh = system_monotonic()
        else:
            self._place_and_evaluate()
        self.on_routes(None)
        self.on_reloaded(routes)
        self._announce(source="reload", routes=tuple(routes))
        if self.day.problems:
            self.on_message("; ".join(self.day.problems[:3]))
        return True

    def prepare(
        self,
        routes: list[RouteView],
        vehicles: list[VehicleView],
        day: date | None,
        positions: dict[str, tuple[float, float]],
        now: datetime,
    ) -> PreparedDay:
        """What :meth:`load` builds from a read day, for a worker: touches nothing of the
        desk (its provider only reads). ``positions`` and ``now`` are taken when the read is
        asked for, on the GUI thread."""
        plan = build_day_plan(routes, vehicles, self.timezone, day=day)
        plan.place_vehicles(positions, now)
        pm = PlanMatrix.build(plan.plan, self.provider)
        evaluation = evaluate_plan(pm, plan.plan)
        return PreparedDay(routes, plan, pm, evaluation, stop_etas(plan, evaluation))

    def merge_remote(
        self,
        routes: list[RouteView],
        vehicles: list[VehicleView],
        changed: Sequence[str],
        prepared: PreparedDay | None = None,
    ) -> int | None:
        """Show another desk's saves of ``changed`` vehicles; the rest of the day stays as is.

        Only those routes (and the unassigned pool) are replaced, in the plan the undo
        history edits; history entries that changed them are dropped, every other one stays.
        Returns how many entries were dropped, or None when the day changed too much to
        merge (another vehicle, stop or day): then the caller reloads everything.

        ``prepared``: these ``routes`` built and evaluated in the reading worker
        (:meth:`prepare`). The merged plan has the routes, pool and stops of the read (the
        checks below), so their evaluation is the merged plan's: the GUI thread neither
        builds the day nor evaluates it (at 500 vehicles, about a second per save of
        another desk).
        """
        day, stack = self.day, self.undo_stack
        if day is None or stack is None:
            return None
        ready = prepared is not None and prepared.routes is routes
        fresh = (
            prepared.day
            if prepared is not None and ready
            else build_day_plan(routes, vehicles, self.timezone)
        )
        plan, new = day.plan, fresh.plan
        if (
            fresh.day != day.day
            or set(new.routes) != set(plan.routes)
            or set(new.stops) != set(plan.stops)
            or any(new.routes[v] != plan.routes[v] for v in plan.routes if v not in changed)
        ):
            return None
        pool = new.unassigned != plan.unassigned
        moved = {s for v in changed for s in new.routes[v]} | set(new.unassigned)
        for vid in changed:
            plan.routes[vid] = list(new.routes[vid])
            plan.versions[vid] = plan.versions.get(vid, 0) + 1
            day.route_ids[vid], day.db_versions[vid] = fresh.route_ids[vid], fresh.db_versions[vid]
            if vid in fresh.on_board:
                day.on_board[vid] = fresh.on_board[vid]
        plan.unassigned[:] = new.unassigned
        for sid in moved:
            plan.stops[sid], day.stops[sid] = new.stops[sid], fresh.stops[sid]
        self._saved.update({sid: vid for vid in changed for sid in new.routes[vid]})
        self._saved.update(dict.fromkeys(new.unassigned))
        dropped = stack.forget(changed, pool=pool)
        self.generation += 1  # an optimizer preview of the old routes is stale
        if prepared is not None and ready:
            plan.vehicles.update(new.vehicles)  # placed where the evaluation has them
            self.pm = prepared.pm
            self._show_evaluation(prepared.evaluation, prepared.etas)
            self._last_refresh = system_monotonic()
        else:
            self._place_and_evaluate()
        self.on_routes(None)
        self.on_reloaded(routes)
        self._announce(source="remote", routes=tuple(routes))
        return dropped

    def merge_progress(self, progress: Mapping[int, StopProgress]) -> ProgressMerge:
        """Show the drivers' progress (status, actual arrival) in place; undo history stays."""
        if self.day is None:
            return ProgressMerge()
        merge = self.day.merge_progress(progress)
        evaluation = etas = None
        if merge.changed and self.pm is not None:
            evaluation, etas = progress_evaluation(
                self.pm, self.day, self._evaluation, self.etas, merge.changed
            )
        self._show_progress(merge, evaluation, etas)
        return merge

    def _show_progress(
        self,
        merge: ProgressMerge,
        evaluation: PlanEvaluation | None,
        etas: dict[str, StopEta] | None,
    ) -> None:
        assert self.day is not None
        if merge.changed and evaluation is not None:
            self._show_evaluation(evaluation, etas)
            if merge.reordered:
                self.on_routes(frozenset(merge.reordered))
            self.on_times()
            self.on_progressed(list(merge.changed))
        if merge.not_on_route:
            refs = ", ".join(self.day.stops[s].order_ref for s in merge.not_on_route[:3])
            self.on_message(f"{refs}: reported served but on no route — press F5 to reload")

    def progress_job(self, day: date) -> Callable[[], PreparedProgress] | None:
        """Read ``day``'s progress and merge it into a copy of the plan, as work for another
        thread (:meth:`apply_progress` shows the result); None when no day is shown.

        At 500 vehicles, merging the drivers' progress (10,000 stops compared, the touched
        routes evaluated again, their ETAs) held the GUI thread every few seconds
        (bench/console.py). Only the copies are touched off the GUI thread; the plan, its
        undo history and the boards stay the GUI thread's.
        """
        shown = self.day
        if shown is None:
            return None
        base = PlanBase.of(shown.plan, self._evaluation)
        copy = replace(
            shown, plan=shown.plan.copy(), stops=dict(shown.stops), on_board=dict(shown.on_board)
        )
        pm, old, old_etas, generation = self.pm, self._evaluation, self.etas, self.generation

        def work() -> PreparedProgress:
            progress = self.read_progress(day)
            merge = copy.merge_progress(progress)
            evaluation = etas = None
            if merge.changed and pm is not None:
                evaluation, etas = progress_evaluation(pm, copy, old, old_etas, merge.changed)
            return PreparedProgress(generation, base, copy, merge, evaluation, etas, progress)

        return work

    def progress_current(self, result: PreparedProgress) -> bool:
        """Whether :meth:`apply_progress` would take ``result`` as it is: same day, and the
        plan unchanged since the job copied it (else it merges again on the calling thread)."""
        day = self.day
        return (
            day is not None
            and result.generation == self.generation
            and result.base.still(day.plan, self._evaluation)
        )

    def apply_progress(self, result: PreparedProgress) -> ProgressMerge:
        """Show a :meth:`progress_job`'s merge: only the stops and routes it changed.

        If the plan changed since the job copied it (a dispatcher's edit, an undo, a live ETA
        refresh, another desk's routes: each makes a new evaluation), the copy is stale, and
        the progress it read is merged again here, into the plan as it is now: an edit made
        meanwhile is never overwritten by the copy. A result for another day is dropped.
        """
        day = self.day
        if day is None or result.generation != self.generation:
            return ProgressMerge()
        if not result.base.still(day.plan, self._evaluation):
            return self.merge_progress(result.progress)
        merge, merged = result.merge, result.day
        touched: set[str] = set()
        for sid in merge.changed:
            day.stops[sid] = merged.stops[sid]
            day.plan.stops[sid] = merged.plan.stops[sid]
            vid = merged.plan.vehicle_of(sid)
            if vid is not None:
                touched.add(vid)
        for vid in touched:
            day.on_board[vid] = merged.on_board.get(vid, 0)
            day.plan.vehicles[vid] = merged.plan.vehicles[vid]
        for vid in merge.reordered:
            day.plan.routes[vid][:] = merged.plan.routes[vid]
        self._show_progress(merge, result.evaluation, result.etas)
        return merge

    def relocate(
        self,
        stop_id: int,
        position: tuple[float, float],
        route: tuple[str, int, int] | None = None,
    ) -> bool:
        """A stop was placed by hand on the map, and saved (ui/dispatcher_ui/map/fix_position.py).

        The new place goes into the plan in place — not an undoable edit, and the undo
        history stays (its steps restore orders and locks, never places). The day is
        re-evaluated from a new travel matrix, so every ETA, on the boards and the map,
        follows. ``route`` is the stop's route as the save left it (vehicle, route id, new
        version): this desk keeps that version, so its next save is not taken for another
        desk's, and the driver gets the route again. False when the stop is not on the day.
        """
        day, sid = self.day, str(stop_id)
        if day is None or sid not in day.stops:
            return False
        lat, lon = position
        day.stops[sid] = replace(day.stops[sid], lat=lat, lon=lon)
        if sid in day.plan.stops:
            day.plan.stops[sid] = replace(day.plan.stops[sid], location=(lat, lon))
        saved: dict[str, tuple[int, int]] = {}
        if route is not None and route[0] in day.db_versions:
            vid, route_id, version = route
            day.route_ids[vid], day.db_versions[vid] = route_id, version
            saved[vid] = (route_id, version)
        self._place_and_evaluate()
        on = day.plan.vehicle_of(sid)
        self.on_routes(frozenset({UNASSIGNED if on is None else on}))
        self.on_times()
        self._publish(saved)
        self._announce(saved, source="place")
        return True

    def live_positions(self) -> dict[str, tuple[float, float]]:
        return self._positions() or {}

    def _place_and_evaluate(self) -> None:
        assert self.day is not None
        self.day.place_vehicles(self.live_positions(), self.clock.now())
        self.pm = PlanMatrix.build(self.day.plan, self.provider)
        self.evaluation = evaluate_plan(self.pm, self.day.plan)
        self._last_refresh = system_monotonic()

    def refresh_times(self, *, force: bool = False) -> bool:
        """Re-place vehicles at their live positions and re-evaluate (throttled)."""
        if self.day is None or (self._positions() is None and not force):
            return False
        if not force and system_monotonic() - self._last_refresh < REFRESH_EVERY_S:
            return False
        self._place_and_evaluate()
        self.on_times()
        return True

    def live_refresh_job(self) -> Callable[[], LiveRefresh] | None:
        """:meth:`refresh_times` as work for another thread, or None when none is due.

        The work places the vehicles of a copy of the plan, builds its matrix and evaluates
        every route: at 500 vehicles that held the GUI thread for a second every
        ``REFRESH_EVERY_S`` (bench/console.py). :meth:`apply_live_refresh` shows the result.
        """
        day = self.day
        positions = self._positions()
        if day is None or positions is None:
            return None
        if system_monotonic() - self._last_refresh < REFRESH_EVERY_S:
            return None
        self._last_refresh = system_monotonic()
        copy = replace(day, plan=day.plan.copy())
        now, provider, generation = self.clock.now(), self.provider, self.generation

        def work() -> LiveRefresh:
            copy.place_vehicles(positions, now)
            pm = PlanMatrix.build(copy.plan, provider)
            evaluation = evaluate_plan(pm, copy.plan)
            return LiveRefresh(generation, copy, pm, evaluation, stop_etas(copy, evaluation))

        return work

    def apply_live_refresh(self, result: LiveRefresh) -> bool:
        """Show a :meth:`live_refresh_job`'s result, unless the plan changed meanwhile (an
        edit, a driver's progress, a reload): then it is dropped and the next one counts."""
        day, seen = self.day, result.day.plan
        if (
            day is None
            or result.generation != self.generation
            or day.plan.routes != seen.routes
            or day.plan.unassigned != seen.unassigned
            or day.plan.stops != seen.stops  # the same objects unless one changed: fast
        ):
            return False
        day.plan.vehicles.update(seen.vehicles)
        self.pm = result.pm
        self._show_evaluation(result.evaluation, result.etas)
        self.on_times()
        return True

    # --- reads for a background thread (the database only, never the plan) ----------------
    def read_progress(self, day: date) -> dict[int, StopProgress]:
        """The drivers' progress on ``day``'s stops (status, actual arrival)."""
        with self.db.session() as session:
            return fleet_repo.load_stop_progress(session, day)

    def read_routes(self, day: date | None) -> tuple[list[RouteView], list[VehicleView]]:
        """``day``'s routes and the fleet's vehicles, in one session (another desk saved).

        Runs in a worker: a road provider that needs warming (dispatcher/routing/warm.py) is
        warmed here with the day's places, so the GUI thread's matrices never wait on it.
        """
        with self.db.session() as session:
            read = fleet_repo.load_routes(session, day), fleet_repo.load_vehicles(session)
        if isinstance(self.provider, WarmRoads):
            self.provider.warm(day_places(*read))
        elif isinstance(self.provider, FleetRoads):  # each profile the fleet drives on
            self.provider.warm(day_places(*read), [v.vehicle_type for v in read[1]])
        return read

    # --- reading --------------------------------------------------------------------------
    def vehicle_ids(self) -> list[str]:
        return [] if self.day is None else list(self.day.plan.routes)

    def route(self, vehicle_id: str) -> list[str]:
        if self.day is None:
            return []
        if vehicle_id == UNASSIGNED:
            return self.day.plan.unassigned
        return self.day.plan.routes.get(vehicle_id, [])

    def route_evaluation(self, vehicle_id: str) -> RouteEvaluation | None:
        if self.evaluation is None:
            return None
        return self.evaluation.routes.get(vehicle_id)

    def suggestions(self, stop_id: str, limit: int = 8) -> list[InsertionSuggestion]:
        if self.day is None or self.pm is None:
            return []
        return suggest_insertions(self.day.plan, self.pm, stop_id, limit)

    def in_route_order(self, stop_ids: Iterable[str]) -> list[str]:
        """The given stops in board order (route by route, then the unassigned pool)."""
        if self.day is None:
            return []
        wanted = set(stop_ids)
        order = [s for r in self.day.plan.routes.values() for s in r] + self.day.plan.unassigned
        return [s for s in order if s in wanted]

    def readable(self, text: str) -> str:
        """Name stops by their order reference ("stop 412" means little to a person)."""
        day = self.day
        if day is None:
            return text
        return re.sub(
            r"\bstop (\d+)\b",
            lambda m: f"stop {day.stops[m[1]].order_ref}" if m[1] in day.stops else m[0],
            text,
        )

    def drop_violations(self, stop_ids: Sequence[str], target: str, row: int) -> list[str]:
        """What dropping ``stop_ids`` on ``target``'s route before ``row`` would newly break
        (skills, pairs, weight, volume, maximum duration, the break), in words, before the
        drop is made: the board shows it while dragging and asks before it drops, and a
        keyboard move or *Move stops to vehicle* asks the same (:meth:`move`'s ``confirm``).
        ``target`` :data:`UNASSIGNED` checks only what taking them off their routes breaks
        (half a pair left planned)."""
        day, pm = self.day, self.pm
        if day is None or pm is None:
            return []
        ids = self.in_route_order(stop_ids)
        if not ids:
            return []
        if target == UNASSIGNED:
            found = move_violations(day.plan, pm, ids, None, 0)
            return [self.readable(v) for v in found]
        if target not in day.plan.routes:
            return []
        route = day.plan.routes[target]
        row = len(route) if row < 0 else min(row, len(route))
        moved = set(ids)
        index = row - sum(1 for s in route[:row] if s in moved)
        return [self.readable(v) for v in move_violations(day.plan, pm, ids, target, index)]

    def placement_problems(self, stop_id: str) -> list[str]:
        """What ``stop_id`` breaks where it is (a new order or an imported one that named its
        vehicle was put on that route without a question), in words."""
        day, pm = self.day, self.pm
        if day is None or pm is None or stop_id not in day.plan.stops:
            return []
        return [self.readable(v) for v in placement_violations(day.plan, pm, stop_id)]

    # --- edits ----------------------------------------------------------------------------
    def execute(self, command: RouteCommand, label: str | None = None) -> bool:
        """Run ``command`` through the undo stack, evaluate, save and publish."""
        stack = self.undo_stack
        if stack is None:
            return False

        def push() -> RouteCommand:
            stack.push(command)
            return command

        retry = "Redo (Ctrl+Shift+Z) tries again"
        return self._change(push, label or command.description, stack.undo, retry)

    def undo(self) -> bool:
        stack = self.undo_stack
        if stack is None or not stack.can_undo:
            self.on_message("Nothing to undo")
            return False
        return self._change(stack.undo, "Undone", stack.redo, "Undo (Ctrl+Z) tries again")

    def redo(self) -> bool:
        stack = self.undo_stack
        if stack is None or not stack.can_redo:
            self.on_message("Nothing to redo")
            return False
        return self._change(stack.redo, "Redone", stack.undo, "Redo (Ctrl+Shift+Z) tries again")

    def move(
        self,
        stop_ids: Sequence[str],
        target: str,
        row: int,
        confirm: Callable[[list[str]], bool] | None = None,
    ) -> bool:
        """Drop ``stop_ids`` on ``target``'s route before ``row`` (a row of the full route).

        With ``confirm``, a move that would newly break a constraint (:meth:`drop_violations`)
        is made only when ``confirm(problems)`` says yes, as a drop on the board is; a no
        keeps the plan and says why on the change line. Every rule is asked about, none
        refused outright: the dispatcher may know what the plan does not (the drop's policy).
        """
        if self.day is None:
            return False
        plan = self.day.plan
        ids = self.in_route_order(stop_ids)
        if not ids:
            return False
        if confirm is not None:
            problems = self.drop_violations(ids, target, row)
            if problems and not confirm(problems):
                self.on_message("Not moved: it would break " + "; ".join(problems))
                return False
        if target == UNASSIGNED:
            if all(s in plan.unassigned for s in ids):
                return False
            return self.execute(Unassign(ids), f"Unassigned {len(ids)} stop(s)")
        if target not in plan.routes:
            self.on_message(f"Unknown vehicle {target}")
            return False
        route = plan.routes[target]
        row = len(route) if row < 0 else min(row, len(route))
        moved = set(ids)
        index = row - sum(1 for s in route[:row] if s in moved)
        if all(plan.vehicle_of(s) == target for s in ids):
            rest = [s for s in route if s not in moved]
            if rest[:index] + ids + rest[index:] == route:
                return False
            return self.execute(MoveWithinRoute(target, ids, index), "Moved")
        return self.execute(MoveToVehicle(ids, target, index), f"Moved to {target}")

    def move_by(
        self,
        stop_ids: Sequence[str],
        delta: int,
        confirm: Callable[[list[str]], bool] | None = None,
    ) -> bool:
        """Move the selected stops one place up (-1) or down (+1) within their route
        (``confirm`` as in :meth:`move`: a delivery moved above its pickup is asked about)."""
        ids = self.in_route_order(stop_ids)
        if self.day is None or not ids:
            return False
        vid = self.day.plan.vehicle_of(ids[0])
        if vid is None or any(self.day.plan.vehicle_of(s) != vid for s in ids):
            self.on_message("Select stops of one route to move them up or down")
            return False
        route = self.day.plan.routes[vid]
        first = route.index(ids[0])
        rest_len = len(route) - len(ids)
        index = max(0, min(rest_len, first + (1 if delta > 0 else -1)))
        return self.move(ids, vid, index if delta < 0 else index + len(ids), confirm)

    def set_locks(self, stop_ids: Sequence[str], **locks: Any) -> bool:
        """Pin/unpin, keep on vehicle, or set/clear an order group (undoable, persisted)."""
        ids = self.in_route_order(stop_ids)
        return bool(ids) and self.execute(SetLocks(ids, **locks), "Locks changed")

    # --- the one path every change takes --------------------------------------------------
    def _change(
        self,
        action: Callable[[], RouteCommand],
        label: str,
        revert: Callable[[], RouteCommand],
        retry: str,
    ) -> bool:
        """Apply ``action`` on the stack and show it, then queue its save.

        ``revert`` takes it back if it is not saved. True when applied and not (yet) refused:
        with a background :attr:`run_save` the save's outcome comes later, by ``on_message``.
        """
        edit = self._apply(action, label, revert, retry)
        if edit is None:
            return False
        self._queue.append(edit)
        if len(self._queue) == 1:
            self._start_save()
        return edit.saved is not False

    def _apply(
        self,
        action: Callable[[], RouteCommand],
        label: str,
        revert: Callable[[], RouteCommand],
        retry: str,
    ) -> _Edit | None:
        """The optimistic half: edit the plan, evaluate, and tell the views at once."""
        day, before = self.day, self.evaluation
        assert day is not None and self.pm is not None and before is not None
        plan = day.plan
        routes0 = {v: list(r) for v, r in plan.routes.items()}
        unassigned0, stops0 = list(plan.unassigned), dict(plan.stops)
        try:
            command = action()
        except (ValidationError, ConflictError) as exc:
            self.on_message(f"Not changed: {self.readable(str(exc))}")
            return None
        locked = {s for s, stop in plan.stops.items() if stops0.get(s) != stop}
        vids = {v for v, r in plan.routes.items() if routes0.get(v) != r}
        vids |= {v for v in map(plan.vehicle_of, locked) if v is not None}
        pool = {s for s in plan.unassigned if self._saved.get(s) is not None} | (
            locked & set(plan.unassigned)
        )
        self.evaluation = evaluate_plan(self.pm, plan)
        changed = frozenset(vids | ({UNASSIGNED} if plan.unassigned != unassigned0 else set()))
        self.last_change = f"{label}: {diff(before, self.evaluation).summary()}"
        self.on_message(self.last_change)
        self.on_routes(changed)
        self.on_focus(list(getattr(command, "stop_ids", ())))
        return _Edit(label, before, vids, pool, changed, revert, retry)

    def _start_save(self) -> None:
        """Save the first queued edit: the writes are read off the plan here, in this thread.

        They carry the plan as it is now (it may hold later edits too, which is what the
        database should end with) and the versions the previous save left.
        """
        edit, day = self._queue[0], self.day
        assert day is not None
        writes = [
            fleet_repo.RouteWrite(
                vid, day.db_versions[vid], tuple(self._stop_write(s) for s in day.plan.routes[vid])
            )
            for vid in sorted(edit.vids)
        ]
        pool = [self._stop_write(s) for s in sorted(edit.pool)]
        actor, db, service_day = self.actor(), self.db, day.day
        self.on_saving(True)
        self.run_save(
            lambda: _write(db, service_day, writes, pool, actor),
            lambda result: self._save_done(edit, day, writes, result),
            lambda exc: self._save_failed(edit, exc),
        )

    def _save_done(
        self,
        edit: _Edit,
        day: DayPlan,
        writes: list[fleet_repo.RouteWrite],
        result: tuple[dict[str, tuple[int, int]], float],
    ) -> None:
        if not self._queue or self._queue[0] is not edit or self.day is not day:
            return  # the day was reloaded meanwhile: what it read is what is shown
        self._queue.popleft()
        saved, self.save_ms = result
        self.saves += 1
        edit.saved = True
        stored = {w.vehicle_id: w for w in writes}
        for vid, (route_id, version) in saved.items():
            day.route_ids[vid], day.db_versions[vid] = route_id, version
            if vid in stored:
                self._saved.update(dict.fromkeys((str(s.id) for s in stored[vid].stops), vid))
        self._saved.update(dict.fromkeys(edit.pool))
        self._publish(saved)
        self._announce(edit.changed)
        if self._queue:
            self._start_save()
        else:
            self.on_saving(False)

    def _save_failed(self, edit: _Edit, exc: Exception) -> None:
        """Take back this edit and every one queued after it, newest first, and say why."""
        if not self._queue or self._queue[0] is not edit:
            return
        edits = list(self._queue)
        self._queue.clear()
        for e in edits:
            e.saved = False
        self.on_saving(False)
        self._take_back(edits)
        why = self.readable(str(exc).rstrip("."))  # the error's own sentence ends in one
        n = "The change was" if len(edits) == 1 else f"The last {len(edits)} changes were"
        if isinstance(exc, ConflictError):
            self.on_message(
                f"Not saved — {why}. {n} taken back and the routes are reloaded; please redo it."
            )
            self.on_conflict()
        else:
            self.on_message(f"Not saved — {why}. {n} taken back; {edit.retry}.")

    def _reload_after_conflict(self) -> None:
        self.load()

    def _take_back(self, edits: Sequence[_Edit]) -> None:
        """Undo edits the database did not store, so the boards show what is stored."""
        assert self.pm is not None and self.day is not None
        try:
            for edit in reversed(edits):
                edit.revert()
        except DispatcherError:  # cannot happen right after the edits; reload to be safe
            log.exception("could not take back an unsaved route edit")
            self.load()
            return
        self.evaluation = evaluate_plan(self.pm, self.day.plan)
        self.on_routes(frozenset().union(*(e.changed for e in edits)))

    def _stop_write(self, sid: str) -> fleet_repo.StopWrite:
        assert self.day is not None
        stop = self.day.plan.stops[sid]
        return fleet_repo.StopWrite(int(sid), stop.pinned, stop.keep_vehicle, stop.order_group)

    def _publish(self, saved: dict[str, tuple[int, int]]) -> None:
        """Retained route to each changed vehicle, and a sync note to other workstations."""
        publisher, day = self._publisher(), self.day
        if publisher is None or day is None:
            return
        now = self.clock.now()
        me, actor = self.console_id(), self.actor()
        for vid, (route_id, version) in saved.items():
            note = {
                "console_id": me,
                "actor": actor,
                "entity": "route",
                "id": str(route_id),
                "version": version,
                "ts": now.isoformat(),
            }
            try:
                publisher.publish_route(vid, route_message(day, vid, version, now))
                publisher.publish_sync(note)
            except Exception as exc:  # the broker may be down; the database has the truth
                log.warning("could not publish the route of %s: %s", vid, exc)
                self.on_message(f"Saved, but the route of {vid} was not sent: {exc}")


def _write(
    db: Database,
    day: date,
    writes: list[fleet_repo.RouteWrite],
    pool: list[fleet_repo.StopWrite],
    actor: str,
) -> tuple[dict[str, tuple[int, int]], float]:
    """One transaction for every changed route (optimistic locking); any thread.

    Touches only the database and its arguments, never the plan. Returns what was saved
    and how long it took (ms). Raises ``ConflictError`` when another workstation changed a
    route meanwhile and ``DispatcherError`` (``DatabaseError``) when the database cannot be
    reached.
    """
    started = time.perf_counter()
    try:
        with db.session() as session:
            saved = fleet_repo.save_routes(session, day, writes, pool, actor=actor)
    except DispatcherError:
        raise
    except Exception as exc:  # a driver error the session did not translate
        log.exception("saving routes failed")
        raise DatabaseError(f"the database refused the change ({exc})") from exc
    return saved, (time.perf_counter() - started) * 1000
