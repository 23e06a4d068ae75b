"""The route board's Qt adapter over the core's route desk.

Every edit, save, undo and publish happens in :class:`dispatcher.planning.desk.RouteDesk`;
this class turns the desk's callbacks into Qt signals the board models and panels connect
to, and keeps the attribute/method names the boards (and their tests) use. It also supplies
what only the window knows: the live telemetry link (positions, the broker connection) and
this workstation's name on the sync topic.

Saves run on a worker (:func:`dispatcher_ui.workers.run_in_background`): an edit shows at once, and
:attr:`BoardController.saving_changed` says when the database has it (the panel's "saving…").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, Signal

from dispatcher.alerts.sync import AlertsSync
from dispatcher.core import Core
from dispatcher.eta import TravelTimeProvider
from dispatcher.planning import (
    InsertionSuggestion,
    PlanEvaluation,
    PlanMatrix,
    RouteCommand,
    RouteEvaluation,
    UndoStack,
)
from dispatcher.planning.dayplan import DayPlan, ProgressMerge
from dispatcher.planning.desk import (
    PreparedDay,
    PreparedProgress,
    RouteDesk,
    RoutePublisher,
    RouteView,
    StopProgress,
    VehicleView,
)
from dispatcher.planning.stop_eta import StopEta
from dispatcher.site import os_login
from dispatcher_ui.workers import run_in_background


class BoardController(QObject):
    """The boards' view of the day's plan: the core desk's state, its news as signals."""

    #: Routes whose rows changed (a frozenset of vehicle ids, "" = unassigned), or None = all.
    routes_changed = Signal(object)
    #: ETAs, slack and totals changed (live positions or the clock moved on).
    times_changed = Signal()
    #: Stop ids to select after an edit (they moved; the dispatcher follows them).
    focus_stops = Signal(object)
    #: One line for the status bar (what an edit did, or why it was refused).
    message = Signal(str)
    #: Stop ids whose status or actual arrival changed (drivers' events, merged live).
    progressed = Signal(object)
    #: The day was (re)loaded from these route views (F5, a conflict, another workstation).
    reloaded = Signal(object)
    #: True while an edit shown on the boards waits for its save; False once all are stored.
    saving_changed = Signal(bool)

    def __init__(
        self,
        core: Core,
        timezone: ZoneInfo,
        parent: QObject | None = None,
        *,
        actor: Callable[[], str] = os_login,
    ) -> None:
        super().__init__(parent)
        self.core = core
        self.desk = RouteDesk(
            core.db,
            core.clock,
            core.bus,
            timezone,
            load_routes=core.load_routes,
            actor=actor,
            positions=self._positions,
            publisher=self._publisher,
            console_id=self.console_id,
            # never waits on the engine: the day's reads warm it in a worker (docs/routing.md)
            provider=core.routing.warm_fleet(),
        )
        self.desk.on_routes = self.routes_changed.emit
        self.desk.on_times = self.times_changed.emit
        self.desk.on_focus = self.focus_stops.emit
        self.desk.on_message = self.message.emit
        self.desk.on_progressed = self.progressed.emit
        self.desk.on_reloaded = self.reloaded.emit
        self.desk.on_saving = self.saving_changed.emit
        self.desk.run_save = run_in_background

    # --- what the window supplies ---------------------------------------------------------
    def _positions(self) -> dict[str, tuple[float, float]] | None:
        live = self.core.live
        if live is None:
            return None
        out: dict[str, tuple[float, float]] = {}
        for snap in live.fleet.snapshots():
            if snap.lat is not None and snap.lon is not None:
                out[snap.vehicle_id] = (snap.lat, snap.lon)
        return out

    def _publisher(self) -> RoutePublisher | None:
        client: RoutePublisher | None = getattr(self.core.live, "client", None)
        return client

    def console_id(self) -> str:
        """This workstation's name on the sync topic.

        The alerts sync's node id when it runs: its connection hears every note and drops
        this process's own, so the boards never reload on their own saves.
        """
        sync = self.core.find_service(AlertsSync)
        if sync is not None:
            return sync.election.node_id
        client = getattr(self.core.live, "client", None)
        return str(client.settings.console_id) if client is not None else "console"

    # --- the desk's state, as the boards read it ------------------------------------------
    @property
    def actor(self) -> Callable[[], str]:
        return self.desk.actor

    @property
    def timezone(self) -> ZoneInfo:
        return self.desk.timezone

    @property
    def provider(self) -> TravelTimeProvider:
        return self.desk.provider

    @property
    def day(self) -> DayPlan | None:
        return self.desk.day

    @property
    def pm(self) -> PlanMatrix | None:
        return self.desk.pm

    @property
    def evaluation(self) -> PlanEvaluation | None:
        return self.desk.evaluation

    @property
    def etas(self) -> dict[str, StopEta]:
        return self.desk.etas

    @property
    def undo_stack(self) -> UndoStack | None:
        return self.desk.undo_stack

    @property
    def last_change(self) -> str:
        return self.desk.last_change

    @property
    def save_ms(self) -> float:
        return self.desk.save_ms

    @property
    def saves(self) -> int:
        return self.desk.saves

    @property
    def saving(self) -> bool:
        return self.desk.saving

    @property
    def generation(self) -> int:
        return self.desk.generation

    # --- loading and live refresh ---------------------------------------------------------
    def load(
        self,
        routes: list[RouteView] | None = None,
        vehicles: list[VehicleView] | None = None,
        day: date | None = None,
        prepared: PreparedDay | None = None,
    ) -> bool:
        return self.desk.load(routes, vehicles, day, prepared)

    def merge_remote(
        self,
        routes: list[RouteView],
        vehicles: list[VehicleView],
        changed: Sequence[str],
        prepared: PreparedDay | None = None,
    ) -> int | None:
        return self.desk.merge_remote(routes, vehicles, changed, prepared)

    def merge_progress(self, progress: Mapping[int, StopProgress]) -> ProgressMerge:
        return self.desk.merge_progress(progress)

    def apply_progress(self, prepared: PreparedProgress) -> ProgressMerge:
        return self.desk.apply_progress(prepared)

    def relocate(
        self,
        stop_id: int,
        position: tuple[float, float],
        route: tuple[str, int, int] | None = None,
    ) -> bool:
        return self.desk.relocate(stop_id, position, route)

    def live_positions(self) -> dict[str, tuple[float, float]]:
        return self.desk.live_positions()

    def refresh_times(self, *, force: bool = False) -> bool:
        return self.desk.refresh_times(force=force)

    # --- reading --------------------------------------------------------------------------
    def vehicle_ids(self) -> list[str]:
        return self.desk.vehicle_ids()

    def route(self, vehicle_id: str) -> list[str]:
        return self.desk.route(vehicle_id)

    def route_evaluation(self, vehicle_id: str) -> RouteEvaluation | None:
        return self.desk.route_evaluation(vehicle_id)

    def suggestions(self, stop_id: str, limit: int = 8) -> list[InsertionSuggestion]:
        return self.desk.suggestions(stop_id, limit)

    def in_route_order(self, stop_ids: Iterable[str]) -> list[str]:
        return self.desk.in_route_order(stop_ids)

    def drop_violations(self, stop_ids: Sequence[str], target: str, row: int) -> list[str]:
        return self.desk.drop_violations(stop_ids, target, row)

    def placement_problems(self, stop_id: str) -> list[str]:
        return self.desk.placement_problems(stop_id)

    def readable(self, text: str) -> str:
        return self.desk.readable(text)

    # --- edits (shown at once; the desk queues their saves on a worker) ---------------
    def execute(self, command: RouteCommand, label: str | None = None) -> bool:
        return self.desk.execute(command, label)

    def undo(self) -> bool:
        return self.desk.undo()

    def redo(self) -> bool:
        return self.desk.redo()

    def move(
        self,
        stop_ids: Sequence[str],
        target: str,
        row: int,
        confirm: Callable[[list[str]], bool] | None = None,
    ) -> bool:
        return self.desk.move(stop_ids, target, row, confirm)

    def move_by(
        self,
        stop_ids: Sequence[str],
        delta: int,
        confirm: Callable[[list[str]], bool] | None = None,
    ) -> bool:
        return self.desk.move_by(stop_ids, delta, confirm)

    def set_locks(self, stop_ids: Sequence[str], **locks: Any) -> bool:
        return self.desk.set_locks(stop_ids, **locks)
