"""Route edits as command objects with undo/redo (no Qt: the UI's QUndoStack can wrap these).

Every command validates before touching the plan, so a rejected drag leaves it unchanged.
Rules: done and in-progress stops are a fixed prefix and cannot be moved, nor can anything be
placed before them. Locks (pins, order groups) bind the optimizer, not the dispatcher's own hand;
a stop dragged to another vehicle gets ``keep_vehicle`` so the optimizer leaves it there.

Each edit bumps the version of every route it touches, undo included (an undo is a new write
for the database). ``expected_versions`` lets the persistence layer reject stale edits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from dispatcher.errors import ConflictError, ValidationError
from dispatcher.planning.model import Plan, PlanStop, refusal

#: Sentinel for :class:`SetLocks`: leave each stop's order group as it is.
KEEP_GROUP: object = object()


@dataclass(slots=True)
class _Snapshot:
    routes: dict[str, list[str]]
    unassigned: list[str] | None  # None: the command left the pool as it was
    stops: dict[str, PlanStop]


class RouteCommand:
    """Base of the route edits: snapshot what is touched, apply, bump versions; undo restores."""

    description = "edit routes"

    def __init__(self, expected_versions: Mapping[str, int] | None = None) -> None:
        self.expected_versions = dict(expected_versions or {})
        self._snapshot: _Snapshot | None = None
        #: Vehicles whose routes the last :meth:`do` changed (kept after an undo).
        self.vehicles: frozenset[str] = frozenset()

    def touched(self, plan: Plan) -> set[str]:
        """Vehicle ids whose routes this command changes."""
        raise NotImplementedError

    def validate(self, plan: Plan) -> None:
        """Raise :class:`ValidationError` when the edit is not allowed."""
        raise NotImplementedError

    def apply(self, plan: Plan) -> None:
        """Change the plan (validation already passed)."""
        raise NotImplementedError

    def do(self, plan: Plan) -> None:
        """Validate and apply; on error the plan is unchanged."""
        for vid, expected in self.expected_versions.items():
            if plan.versions.get(vid, 0) != expected:
                raise ConflictError(f"route of {vid} was changed meanwhile; reload it")
        self.validate(plan)
        vids = self.touched(plan)
        self._snapshot = _Snapshot(
            {v: list(plan.routes[v]) for v in vids}, list(plan.unassigned), dict(plan.stops)
        )
        self.apply(plan)
        _bump(plan, vids)
        self.vehicles = frozenset(vids)
        snap = self._snapshot  # keep only what changed: an undo restores no more than that
        snap.routes = {v: r for v, r in snap.routes.items() if plan.routes[v] != r}
        if snap.unassigned == plan.unassigned:
            snap.unassigned = None
        snap.stops = {s: old for s, old in snap.stops.items() if plan.stops[s] != old}
        self.expected_versions = {}  # checked once; a redo follows our own undo

    @property
    def restores_pool(self) -> bool:
        """True when an undo would put back the whole unassigned list as it was."""
        return self._snapshot is not None and self._snapshot.unassigned is not None

    def undo(self, plan: Plan) -> None:
        """Restore the routes, unassigned list and stop locks as they were before :meth:`do`.

        Stop statuses are the drivers' (merged live while the history lives), not part of
        the edit: they stay as they are now. An undo that would move a stop which is done or
        in progress by now is refused, and the plan is left unchanged.
        """
        snap = self._snapshot
        if snap is None:
            raise ValidationError("nothing to undo: the command was never applied")
        _check_fixed_stay(plan, snap.routes)
        self._snapshot = None
        plan.routes.update({v: list(r) for v, r in snap.routes.items()})
        if snap.unassigned is not None:
            plan.unassigned[:] = snap.unassigned
        for sid, old in snap.stops.items():
            now = plan.stops.get(sid)
            if now is not None and now != old:
                plan.stops[sid] = replace(
                    now,
                    pinned=old.pinned,
                    order_group=old.order_group,
                    keep_vehicle=old.keep_vehicle,
                )
        _bump(plan, self.vehicles)


def _check_fixed_stay(plan: Plan, restored: Mapping[str, Sequence[str]]) -> None:
    """Refuse restoring ``restored`` routes if a now-fixed stop would change place."""
    for vid, route in restored.items():
        current = plan.routes.get(vid, [])
        for i, sid in enumerate(route):
            stop = plan.stops.get(sid)
            if stop is not None and stop.is_fixed and (i >= len(current) or current[i] != sid):
                raise ValidationError(
                    f"stop {sid} is {stop.status.value} now; undoing would move it"
                )
        for i, sid in enumerate(current):
            if plan.stops[sid].is_fixed and (i >= len(route) or route[i] != sid):
                raise ValidationError(
                    f"stop {sid} is {plan.stops[sid].status.value} now; undoing would move it"
                )


def _bump(plan: Plan, vids: Iterable[str]) -> None:
    for v in vids:
        plan.versions[v] = plan.versions.get(v, 0) + 1


def _check_movable(plan: Plan, stop_ids: Sequence[str]) -> None:
    if not stop_ids:
        raise ValidationError("no stops to move")
    if len(set(stop_ids)) != len(stop_ids):
        raise ValidationError("a stop is listed twice")
    for sid in stop_ids:
        stop = plan.stops.get(sid)
        if stop is None:
            raise ValidationError(f"unknown stop {sid}")
        if stop.is_fixed:
            raise ValidationError(f"stop {sid} is done or in progress and cannot be moved")


def _fixed_prefix(plan: Plan, route: Sequence[str]) -> int:
    n = 0
    while n < len(route) and plan.stops[route[n]].is_fixed:
        n += 1
    return n


def _check_vehicle(plan: Plan, vehicle_id: str) -> None:
    if vehicle_id not in plan.vehicles:
        raise ValidationError(f"unknown vehicle {vehicle_id}")


def _check_index(plan: Plan, rest: Sequence[str], index: int) -> None:
    if not 0 <= index <= len(rest):
        raise ValidationError(f"position {index} is outside the route (0..{len(rest)})")
    if index < _fixed_prefix(plan, rest):
        raise ValidationError("stops cannot be placed before done or in-progress stops")


class MoveWithinRoute(RouteCommand):
    """Move one or several stops of a route, as a block, to ``index``.

    ``index`` counts positions in the route *without* the moved stops (what a drop indicator
    shows), and the moved stops keep the order given in ``stop_ids``.
    """

    description = "reorder stops"

    def __init__(
        self,
        vehicle_id: str,
        stop_ids: Sequence[str],
        index: int,
        expected_versions: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(expected_versions)
        self.vehicle_id, self.stop_ids, self.index = vehicle_id, tuple(stop_ids), index

    def touched(self, plan: Plan) -> set[str]:
        return {self.vehicle_id}

    def validate(self, plan: Plan) -> None:
        _check_vehicle(plan, self.vehicle_id)
        _check_movable(plan, self.stop_ids)
        route = plan.routes[self.vehicle_id]
        if any(s not in route for s in self.stop_ids):
            raise ValidationError(f"a stop is not on the route of {self.vehicle_id}")
        _check_index(plan, [s for s in route if s not in self.stop_ids], self.index)

    def apply(self, plan: Plan) -> None:
        moved = set(self.stop_ids)
        rest = [s for s in plan.routes[self.vehicle_id] if s not in moved]
        rest[self.index : self.index] = self.stop_ids
        plan.routes[self.vehicle_id] = rest


class MoveToVehicle(RouteCommand):
    """Move stops (from any routes or the unassigned pool) into ``vehicle_id``'s route.

    The moved stops get ``keep_vehicle=True``: the dispatcher decided, the optimizer obeys.
    """

    description = "move stops to another vehicle"

    def __init__(
        self,
        stop_ids: Sequence[str],
        vehicle_id: str,
        index: int,
        expected_versions: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(expected_versions)
        self.stop_ids, self.vehicle_id, self.index = tuple(stop_ids), vehicle_id, index

    def touched(self, plan: Plan) -> set[str]:
        vids = {plan.vehicle_of(s) for s in self.stop_ids}
        return {v for v in vids if v is not None} | {self.vehicle_id}

    def validate(self, plan: Plan) -> None:
        _check_vehicle(plan, self.vehicle_id)
        _check_movable(plan, self.stop_ids)
        for sid in self.stop_ids:
            reason = refusal(plan, self.vehicle_id, sid)
            if reason is not None:
                raise ValidationError(reason)
        moved = set(self.stop_ids)
        rest = [s for s in plan.routes[self.vehicle_id] if s not in moved]
        _check_index(plan, rest, self.index)

    def apply(self, plan: Plan) -> None:
        moved = set(self.stop_ids)
        for vid in self.touched(plan):
            plan.routes[vid] = [s for s in plan.routes[vid] if s not in moved]
        plan.unassigned[:] = [s for s in plan.unassigned if s not in moved]
        plan.routes[self.vehicle_id][self.index : self.index] = self.stop_ids
        for sid in self.stop_ids:
            plan.stops[sid] = replace(plan.stops[sid], keep_vehicle=True)


class Unassign(RouteCommand):
    """Take stops off their routes into the unassigned pool."""

    description = "unassign stops"

    def __init__(
        self, stop_ids: Sequence[str], expected_versions: Mapping[str, int] | None = None
    ) -> None:
        super().__init__(expected_versions)
        self.stop_ids = tuple(stop_ids)

    def touched(self, plan: Plan) -> set[str]:
        return {v for v in (plan.vehicle_of(s) for s in self.stop_ids) if v is not None}

    def validate(self, plan: Plan) -> None:
        _check_movable(plan, self.stop_ids)

    def apply(self, plan: Plan) -> None:
        moved = set(self.stop_ids)
        for vid in self.touched(plan):
            plan.routes[vid] = [s for s in plan.routes[vid] if s not in moved]
        plan.unassigned.extend(s for s in self.stop_ids if s not in plan.unassigned)


class ReplaceRoutes(RouteCommand):
    """Apply an optimizer result (or any new routes) as one undoable step.

    The new routes must keep every fixed prefix and hold the same stops overall.
    """

    description = "apply optimized routes"

    def __init__(
        self,
        routes: Mapping[str, Sequence[str]],
        unassigned: Sequence[str] = (),
        expected_versions: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(expected_versions)
        self.routes = {k: list(v) for k, v in routes.items()}
        self.unassigned = list(unassigned)

    def touched(self, plan: Plan) -> set[str]:
        return set(self.routes)

    def validate(self, plan: Plan) -> None:
        for vid, route in self.routes.items():
            _check_vehicle(plan, vid)
            old = plan.routes[vid]
            k = _fixed_prefix(plan, old)
            if route[:k] != old[:k]:
                raise ValidationError(f"new route of {vid} changes its done stops")
        trial = plan.copy()
        trial.routes.update(self.routes)
        trial.unassigned = list(self.unassigned)
        trial.validate()

    def apply(self, plan: Plan) -> None:
        plan.routes.update({k: list(v) for k, v in self.routes.items()})
        plan.unassigned[:] = self.unassigned


class SetLocks(RouteCommand):
    """Set or clear the dispatcher's locks on stops (pin, order group, keep on vehicle).

    ``None`` leaves a lock as it is; for ``order_group`` pass :data:`KEEP_GROUP` to leave it
    and ``None`` to clear it. Locks of done stops may be set too (harmless: they never move).
    """

    description = "change locks"

    def __init__(
        self,
        stop_ids: Sequence[str],
        *,
        pinned: bool | None = None,
        keep_vehicle: bool | None = None,
        order_group: str | object | None = KEEP_GROUP,
        expected_versions: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(expected_versions)
        self.stop_ids = tuple(stop_ids)
        self.pinned, self.keep_vehicle, self.order_group = pinned, keep_vehicle, order_group

    def touched(self, plan: Plan) -> set[str]:
        return {v for v in (plan.vehicle_of(s) for s in self.stop_ids) if v is not None}

    def validate(self, plan: Plan) -> None:
        if not self.stop_ids:
            raise ValidationError("no stops selected")
        unknown = [s for s in self.stop_ids if s not in plan.stops]
        if unknown:
            raise ValidationError(f"unknown stop {unknown[0]}")
        if self.order_group is not KEEP_GROUP and self.order_group is not None:
            vehicles = {plan.vehicle_of(s) for s in self.stop_ids}
            if len(vehicles) != 1 or None in vehicles:
                raise ValidationError("an order group must be stops of one route")

    def apply(self, plan: Plan) -> None:
        for sid in self.stop_ids:
            stop = plan.stops[sid]
            group = stop.order_group if self.order_group is KEEP_GROUP else self.order_group
            plan.stops[sid] = replace(
                stop,
                pinned=stop.pinned if self.pinned is None else self.pinned,
                keep_vehicle=stop.keep_vehicle if self.keep_vehicle is None else self.keep_vehicle,
                order_group=group if isinstance(group, str) else None,
            )


@dataclass(slots=True)
class UndoStack:
    """Linear undo/redo history over one plan.

    Args:
        plan: The plan every command edits (the single source of truth).
        limit: Oldest commands are forgotten beyond this many.
    """

    plan: Plan
    limit: int = 200
    _done: list[RouteCommand] = field(default_factory=list)
    _undone: list[RouteCommand] = field(default_factory=list)

    def push(self, command: RouteCommand) -> None:
        """Execute ``command``; on success it becomes undoable and the redo list is cleared."""
        command.do(self.plan)
        self._done.append(command)
        del self._done[: -self.limit]
        self._undone.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def forget(self, vehicles: Collection[str], *, pool: bool = False) -> int:
        """Drop the history entries another desk overtook; returns how many were dropped.

        Another workstation saved the routes of ``vehicles`` (and changed the unassigned
        pool when ``pool``): an entry that changed one of them would undo over their change,
        so it goes. Every other entry stays undoable: a command restores only the routes it
        changed. An undone entry is re-validated when redone, but one whose pool it would
        restore is unknown once undone, so a changed pool clears the redo list.
        """
        gone = set(vehicles)

        def overtaken(cmd: RouteCommand) -> bool:
            return bool(cmd.vehicles & gone) or (pool and cmd.restores_pool)

        before = len(self._done) + len(self._undone)
        self._done[:] = [c for c in self._done if not overtaken(c)]
        self._undone[:] = [] if pool else [c for c in self._undone if not overtaken(c)]
        return before - len(self._done) - len(self._undone)

    def vehicles_in_history(self) -> set[str]:
        """Vehicles whose routes some command in the undo or redo history changed."""
        return {v for cmd in (*self._done, *self._undone) for v in cmd.vehicles}

    def undo(self) -> RouteCommand:
        """Undo the last command and return it (for the status line)."""
        if not self._done:
            raise ValidationError("nothing to undo")
        cmd = self._done[-1]
        cmd.undo(self.plan)  # may refuse (a stop got done meanwhile): the history stays
        self._done.pop()
        self._undone.append(cmd)
        return cmd

    def redo(self) -> RouteCommand:
        """Redo the last undone command (re-validated: the plan may have moved on)."""
        if not self._undone:
            raise ValidationError("nothing to redo")
        cmd = self._undone[-1]
        cmd.do(self.plan)
        self._undone.pop()
        self._done.append(cmd)
        return cmd
