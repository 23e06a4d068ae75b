"""The day's routes as a :class:`~dispatcher.planning.model.Plan` the route board edits.

The database gives views (routes with their stops, vehicles with shifts and depots); this
module maps them onto the planner's types once per load, and re-places the vehicles when live
positions arrive (a vehicle on the road starts "now" from where it is, with what it loaded at
the depot). It also builds the retained route message a driver app receives.

Stop ids in the plan are the database ids as strings. Data the planner cannot take as it is
(a window that ends before it starts, a done stop after a pending one, a done stop on no
route) is repaired in a stated way and listed in :attr:`DayPlan.problems`, never a crash.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from dispatcher.clock import system_now
from dispatcher.errors import ValidationError
from dispatcher.model.core import StopKind, StopStatus
from dispatcher.planning.live_eta import BREAK_WINDOW_MIN
from dispatcher.planning.model import (
    Plan,
    PlanStop,
    PlanVehicle,
    from_plan_seconds,
    to_plan_seconds,
)

if TYPE_CHECKING:
    from dispatcher.model.stops import RouteView, StopView
    from dispatcher.persistence.fleet_repo import StopProgress, VehicleView

log = logging.getLogger(__name__)

#: The pseudo vehicle id of the unassigned pool (``RouteView.vehicle_id`` is empty there).
UNASSIGNED = ""


@dataclass(slots=True)
class DayPlan:
    """A plan for one service day plus what the board needs to show and save it.

    Attributes:
        day: The service date.
        origin: Local midnight of ``day``: plan second 0.
        plan: The single source of truth the commands edit.
        stops: Display data of each stop (customer, address, order ref...).
        vehicles: Name, driver, shift and depot of each vehicle.
        route_ids: Database id of each vehicle's route (0: none stored yet).
        db_versions: Database version of each route as last read or written.
        on_board: Load each vehicle carries once it left the depot (deliveries of its route
            as loaded, plus pickups already made).
        problems: Input repairs made while loading, for the status line.
        shifts: Each vehicle's shift as planned (start, end), kept the first time
            :meth:`place_vehicles` runs: placing moves a late vehicle's earliest departure.
    """

    day: date
    origin: datetime
    plan: Plan
    stops: dict[str, StopView]
    vehicles: dict[str, VehicleView]
    route_ids: dict[str, int]
    db_versions: dict[str, int]
    on_board: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    shifts: dict[str, tuple[float, float]] = field(default_factory=dict)

    def clock_time(self, t_s: float) -> datetime:
        """Plan seconds → aware local datetime."""
        return from_plan_seconds(t_s, self.origin)

    def plan_time(self, when: datetime) -> float:
        """Aware datetime → plan seconds."""
        return to_plan_seconds(when, self.origin)

    def place_vehicles(self, positions: Mapping[str, tuple[float, float]], now: datetime) -> None:
        """Start each vehicle from its live position "now", or from its depot at shift start.

        A vehicle counts as on the road when a position is known and its shift has begun;
        its load is then what it took from the depot (:attr:`on_board`), so a delivery
        dragged onto it shows as a shortfall, as it would in the van.

        On the live day a vehicle with no position whose shift has begun cannot leave in the
        past: from its depot its earliest departure becomes now (it still leaves as late as
        its first window allows), and after a served stop it starts now from there. That is
        what the exception queue's prediction assumes (:func:`~dispatcher.planning.live_eta.
        predict_route`), so a board never shows a pending stop's ETA hours before the clock
        while the queue calls the same stop late, and an optimize never plans a departure in
        the past.
        """
        t_now = self.plan_time(now)
        live_day = now.astimezone(self.origin.tzinfo).date() == self.day
        for vid, vehicle in list(self.plan.vehicles.items()):
            depot = vehicle.end if vehicle.end is not None else vehicle.start
            shift = self.shifts.setdefault(vid, (vehicle.shift_start, vehicle.shift_end))
            planned = replace(vehicle, shift_start=shift[0], shift_end=shift[1])
            pos = positions.get(vid)
            if pos is not None and t_now >= shift[0]:
                placed = replace(
                    planned,
                    start=pos,
                    start_time=t_now,
                    current_load=self.on_board.get(vid, 0),
                )
            elif live_day and t_now > shift[0]:
                served = self._last_served(vid)
                if served is None:
                    placed = replace(
                        planned,
                        start=depot,
                        start_time=None,
                        current_load=None,
                        shift_start=t_now,
                        shift_end=max(shift[1], t_now),
                    )
                else:
                    placed = replace(
                        planned,
                        start=served,
                        start_time=t_now,
                        current_load=self.on_board.get(vid, 0),
                    )
            else:
                placed = replace(planned, start=depot, start_time=None, current_load=None)
            self.plan.vehicles[vid] = placed

    def _last_served(self, vehicle_id: str) -> tuple[float, float] | None:
        """Where the vehicle's last done stop is (its route keeps done stops first)."""
        last = None
        for sid in self.plan.routes.get(vehicle_id, []):
            stop = self.plan.stops[sid]
            if not stop.status.is_final:
                break
            last = stop.location
        return last

    def merge_progress(self, progress: Mapping[int, StopProgress]) -> ProgressMerge:
        """Take the drivers' progress (status, actual arrival) into the plan, in place.

        Statuses are not route edits: no command, no version bump, the undo history stays.
        A stop that became done or in progress moves to the end of its route's done prefix
        (the driver served it out of order; a plan keeps done stops first), and the load on
        board follows deliveries made and pickups collected. A stop on no route is not
        marked (a plan holds no done stop in the pool); it is listed in
        :attr:`ProgressMerge.not_on_route`. Unknown stop ids (another day) are ignored.
        """
        merge = ProgressMerge()
        for db_id, now in progress.items():
            sid = str(db_id)
            view = self.stops.get(sid)
            if view is None or (view.status, view.actual_arrival) == (
                now.status,
                now.actual_arrival,
            ):
                continue
            status = _status(now.status)
            stop = self.plan.stops[sid]
            vid = self.plan.vehicle_of(sid)
            if vid is None and (status.is_final or status is StopStatus.ARRIVED):
                merge.not_on_route.append(sid)
                continue
            self.stops[sid] = replace(view, status=now.status, actual_arrival=now.actual_arrival)
            merge.changed.append(sid)
            if status is stop.status:
                continue
            self.plan.stops[sid] = replace(stop, status=status)
            if vid is not None:
                self._unload(vid, _load_change(stop, status))
                if self._settle(vid):
                    merge.reordered.add(vid)
        return merge

    def _unload(self, vid: str, change: int) -> None:
        """Follow the load on board; a vehicle on the road starts from it at once."""
        self.on_board[vid] = max(0, self.on_board.get(vid, 0) + change)
        vehicle = self.plan.vehicles[vid]
        if vehicle.current_load is not None:
            self.plan.vehicles[vid] = replace(vehicle, current_load=self.on_board[vid])

    def _settle(self, vid: str) -> bool:
        """Done/in-progress stops first (stable); True when the route's order changed."""
        route = self.plan.routes[vid]
        order = [s for s in route if self.plan.stops[s].is_fixed]
        order += [s for s in route if not self.plan.stops[s].is_fixed]
        if order == route:
            return False
        route[:] = order
        return True


@dataclass(slots=True)
class ProgressMerge:
    """What :meth:`DayPlan.merge_progress` changed.

    Attributes:
        changed: Stops whose status or actual arrival changed.
        reordered: Vehicles whose route order changed (a stop was served out of order).
        not_on_route: Stops reported done or in progress that are on no route (left as they
            were; a reload shows them).
    """

    changed: list[str] = field(default_factory=list)
    reordered: set[str] = field(default_factory=set)
    not_on_route: list[str] = field(default_factory=list)


def _load_change(stop: PlanStop, status: StopStatus) -> int:
    """Change of the load on board when ``stop`` goes from its status to ``status``."""
    if stop.kind is StopKind.DELIVERY:
        aboard_before, aboard_after = not stop.status.is_final, not status.is_final
    else:
        aboard_before = stop.status is StopStatus.DONE
        aboard_after = status is StopStatus.DONE
    return stop.demand * (int(aboard_after) - int(aboard_before))


def _status(text: str) -> StopStatus:
    try:
        return StopStatus(text)
    except ValueError:
        return StopStatus.PENDING


def _kind(text: str) -> StopKind:
    try:
        return StopKind(text)
    except ValueError:
        return StopKind.DELIVERY


def _plan_stop(view: StopView, origin: datetime, problems: list[str]) -> PlanStop:
    start = 0.0 if view.window_start is None else to_plan_seconds(view.window_start, origin)
    end = math.inf if view.window_end is None else to_plan_seconds(view.window_end, origin)
    if end < start:
        problems.append(f"{view.order_ref}: window ends before it starts; its end is used")
        start = end
    try:
        return PlanStop(
            str(view.id),
            (view.lat, view.lon),
            start,
            end,
            float(max(view.service_s, 0)),
            max(view.demand, 0),
            _kind(view.kind),
            _status(view.status),
            pinned=view.pinned,
            order_group=view.lock_group,
            keep_vehicle=view.keep_on_vehicle,
            skills=frozenset(view.required_skills),
            weight=max(view.weight_kg, 0),
            volume=max(view.volume_l, 0),
            pair=view.pair_key or None,
        )
    except ValidationError as exc:  # pragma: no cover - values are clamped above
        problems.append(str(exc))
        return PlanStop(str(view.id), (view.lat, view.lon))


def _plan_vehicle(
    info: VehicleView, fallback_depot: tuple[float, float], origin: datetime
) -> PlanVehicle:
    """The shift's wall-clock times on the origin's day, in plan seconds (the clock's)."""
    day, tz = origin.date(), origin.tzinfo
    start_s = to_plan_seconds(datetime.combine(day, info.shift_start, tz), origin)
    end_s = to_plan_seconds(datetime.combine(day, info.shift_end, tz), origin)
    if end_s < start_s:  # a night shift ends the next day
        end_s = to_plan_seconds(
            datetime.combine(day + timedelta(days=1), info.shift_end, tz), origin
        )
    depot = (
        (info.depot_lat, info.depot_lon)
        if info.depot_lat is not None and info.depot_lon is not None
        else fallback_depot
    )
    return PlanVehicle(
        info.id,
        max(info.capacity, 0),
        start_s,
        end_s,
        depot,
        depot,
        cost_per_km=_cost(info.cost_per_km),
        cost_per_hour=_cost(info.cost_per_hour),
        fixed_cost=_cost(info.fixed_cost),
        skills=frozenset(info.skills),
        max_weight=_limit(info.max_weight_kg),
        max_volume=_limit(info.max_volume_l),
        max_duration_s=_minutes(info.max_route_min),
        vehicle_type=info.vehicle_type,
        **_break(info, start_s, end_s),
    )


def _break(info: VehicleView, start_s: float, end_s: float) -> dict[str, Any]:
    """The vehicle's break rule in plan seconds: due ``break_after_min`` into the shift, to
    begin by ``break_latest_min`` (default an hour later), lasting ``break_min``."""
    after, length = info.break_after_min, info.break_min
    if after is None or after < 0 or length <= 0:
        return {}
    latest = info.break_latest_min
    if latest is None or latest < after:
        latest = after + BREAK_WINDOW_MIN
    lo = min(start_s + after * 60.0, end_s)
    return {
        "break_window": (lo, max(lo, min(start_s + latest * 60.0, end_s))),
        "break_s": length * 60.0,
    }


def _minutes(value: int | None) -> float | None:
    limit = _limit(value)
    return None if limit is None else limit * 60.0


def _limit(value: int | None) -> int | None:
    """A stored limit as the planner takes it: none for a missing or non-positive one."""
    return value if value is not None and value > 0 else None


def _cost(value: float) -> float:
    """A stored cost as the planner takes it: a negative or missing one counts as none."""
    return value if math.isfinite(value) and value > 0 else 0.0


def build_day_plan(
    routes: Sequence[RouteView],
    vehicles: Sequence[VehicleView],
    timezone: str | ZoneInfo,
    *,
    day: date | None = None,
) -> DayPlan:
    """Map the day's stored routes onto a plan (vehicles still at their depots).

    Args:
        routes: :func:`~dispatcher.persistence.fleet_repo.load_routes` output; a view with
            an empty ``vehicle_id`` is the unassigned pool.
        vehicles: Active vehicles; each gets a route, empty if none is stored.
        timezone: Where the day's midnight is.
        day: The service day; default the stops' (today's when there are none).
    """
    tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    first = next((s for r in routes for s in r.stops), None)
    if day is None:
        day = first.service_date if first is not None else system_now(tz).date()
    origin = datetime.combine(day, time(0), tz)
    problems: list[str] = []
    fallback: tuple[float, float] = next(
        (
            (v.depot_lat, v.depot_lon)
            for v in vehicles
            if v.depot_lat is not None and v.depot_lon is not None
        ),
        (first.lat, first.lon) if first is not None else (0.0, 0.0),
    )
    infos = {v.id: v for v in vehicles}
    stops: dict[str, StopView] = {}
    plan_stops: list[PlanStop] = []
    plan_routes: dict[str, Sequence[str]] = {vid: [] for vid in infos}
    unassigned: list[str] = []
    route_ids: dict[str, int] = {}
    versions: dict[str, int] = {}
    for route in routes:
        if route.vehicle_id != UNASSIGNED and route.vehicle_id not in infos:
            problems.append(f"route of inactive vehicle {route.vehicle_id} is not shown")
            continue
        for view in route.stops:
            stops[str(view.id)] = view
            plan_stops.append(_plan_stop(view, origin, problems))
        ids = [str(s.id) for s in route.stops]
        if route.vehicle_id == UNASSIGNED:
            unassigned.extend(ids)
            continue
        route_ids[route.vehicle_id] = route.id
        versions[route.vehicle_id] = route.version
        plan_routes[route.vehicle_id] = ids
    by_id = {s.id: s for s in plan_stops}
    unassigned = _drop_fixed_unassigned(unassigned, by_id, problems)
    reordered: list[str] = []
    for vid, route_ids_ in plan_routes.items():
        plan_routes[vid] = _fixed_first(vid, list(route_ids_), by_id, reordered)
    if reordered:
        problems.append(_out_of_order(reordered))
    kept = set(unassigned) | {s for r in plan_routes.values() for s in r}
    plan = Plan.build(
        [_plan_vehicle(infos[vid], fallback, origin) for vid in infos],
        [s for s in plan_stops if s.id in kept],
        plan_routes,
        unassigned,
    )
    on_board = {vid: _on_board(plan, r) for vid, r in plan.routes.items()}
    return DayPlan(
        day,
        origin,
        plan,
        stops,
        infos,
        {vid: route_ids.get(vid, 0) for vid in infos},
        {vid: versions.get(vid, 0) for vid in infos},
        on_board,
        problems,
    )


def _drop_fixed_unassigned(
    ids: list[str], by_id: Mapping[str, PlanStop], problems: list[str]
) -> list[str]:
    keep = [s for s in ids if not by_id[s].is_fixed]
    if len(keep) != len(ids):
        problems.append(f"{len(ids) - len(keep)} done stops on no route are not planned")
    return keep


def _fixed_first(
    vid: str, ids: list[str], by_id: Mapping[str, PlanStop], reordered: list[str]
) -> list[str]:
    """Done/in-progress stops first (stable): a driver who skipped ahead leaves gaps."""
    fixed = [s for s in ids if by_id[s].is_fixed]
    order = fixed + [s for s in ids if not by_id[s].is_fixed]
    if order != ids:
        reordered.append(vid)
    return order


#: Vehicles named in the out-of-order line; a big fleet's morning would fill the status line.
OUT_OF_ORDER_NAMED = 3


def _out_of_order(vids: list[str]) -> str:
    """One line for every vehicle whose driver served stops out of order."""
    named = ", ".join(vids[:OUT_OF_ORDER_NAMED])
    more = len(vids) - OUT_OF_ORDER_NAMED
    who = f"{named} and {more} more" if more > 0 else named
    return f"stops were served out of order on {who}; done stops shown first"


def _on_board(plan: Plan, ids: Sequence[str]) -> int:
    load = 0
    for sid in ids:
        stop = plan.stops[sid]
        aboard = (
            not stop.status.is_final
            if stop.kind is StopKind.DELIVERY
            else stop.status is StopStatus.DONE
        )
        load += stop.demand if aboard else 0
    return load


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def route_message(day: DayPlan, vehicle_id: str, version: int, now: datetime) -> dict[str, Any]:
    """The body of the retained ``…/vehicles/<id>/route`` message (docs/mqtt.md, "route").

    ``v`` and ``vehicle_id`` are added by the client's ``publish_route``. The first open stop
    is marked ``next``; stop ids are order references, as driver apps report them.
    """
    out: list[dict[str, Any]] = []
    next_given = False
    for seq, sid in enumerate(day.plan.routes[vehicle_id], start=1):
        view, stop = day.stops[sid], day.plan.stops[sid]
        status = stop.status.value
        if stop.status in (StopStatus.PENDING, StopStatus.NEXT):
            status = "pending" if next_given else "next"
            next_given = True
        out.append(
            {
                "stop_id": view.order_ref,
                "seq": seq,
                "kind": stop.kind.value,
                "lat": view.lat,
                "lon": view.lon,
                "address": view.address,
                "window": {"start": _iso(view.window_start), "end": _iso(view.window_end)},
                "status": status,
            }
        )
    return {
        "route_id": str(day.route_ids.get(vehicle_id, 0)),
        "version": version,
        "ts": _iso(now),
        "stops": out,
    }
