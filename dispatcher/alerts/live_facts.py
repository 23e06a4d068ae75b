"""Facts from the running system: live fleet, the day's routes, predicted arrivals, events.

The rule runner asks :meth:`LiveFacts.capture` on the thread that owns the fleet state (the
GUI thread): it copies the fleet's immutable vehicle snapshots and returns a thunk. The thunk
runs on the runner's worker thread: it reads the day's routes and new vehicle events from the
database, predicts arrivals with the planner's evaluation from each vehicle's live position,
and returns the :class:`~dispatcher.alerts.facts.Snapshot` the rules read. Nothing slow runs
on the GUI thread, and the fleet state is never touched from the worker.

Predicted arrivals: one single-vehicle plan per route (last precise position — a coarse
fix is not used, docs/mqtt.md — or the depot before departure; "now" in plan seconds since
local midnight), evaluated by :func:`dispatcher.planning.evaluate_route` with the default
straight-line travel model.

Planned paths (the route-deviation rule's): from the last finished stop (or the depot)
through the stops left, back to the depot — along the streets when the core has a road engine
(the vehicle type's profile, :class:`~dispatcher.routing.road_lines.RoadLines`, kept between
passes), straight lines otherwise. A van 300 m from the chord between two stops is usually
just on the street that goes round the block: measured against the chord it was a false alarm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from functools import partial
from typing import Protocol
from zoneinfo import ZoneInfo

from dispatcher.alerts.facts import (
    EventKind,
    FenceKind,
    Geofence,
    LatLon,
    Snapshot,
    StopFacts,
    VehicleEventFact,
    VehicleFacts,
)
from dispatcher.errors import ValidationError
from dispatcher.eta.travel import HaversineProvider, TravelTimeProvider
from dispatcher.fleet.state import FleetState, VehicleSnapshot
from dispatcher.fleet_settings import machine_zone_name
from dispatcher.model.core import StopKind, StopStatus, VehicleState
from dispatcher.model.stops import RouteView, StopView
from dispatcher.persistence import alert_repo, fleet_repo
from dispatcher.persistence.database import Database, Session
from dispatcher.planning.evaluate import RouteEvaluation
from dispatcher.planning.live_eta import LiveVehicle, break_rule, predict_route
from dispatcher.planning.live_eta import arrivals as predicted_arrivals
from dispatcher.planning.model import INF, PlanStop, from_plan_seconds, to_plan_seconds
from dispatcher.routing.road_lines import RoadLines
from dispatcher.routing.router import Router

log = logging.getLogger(__name__)

EVENT_KINDS = {"failed": EventKind.FAILED, "issue": EventKind.ISSUE}
"""Stored event kinds that raise alerts, and the rules' name for them."""


@dataclass(frozen=True, slots=True)
class Facts:
    """One tick's snapshot, and what to call once its alerts are committed."""

    snapshot: Snapshot
    committed: Callable[[], None] = field(default=lambda: None)


class FactsSource(Protocol):
    """What the runner needs from a facts provider (the tests script their own)."""

    def capture(self, now: datetime) -> Callable[[], Facts]:
        """Cheap, on the owner thread: copy what must be copied; return the slow part."""
        ...


@dataclass(frozen=True, slots=True)
class _Route:
    """A route with what the facts need about its vehicle."""

    view: RouteView
    vehicle: fleet_repo.VehicleView


class LiveFacts:
    """Facts from the core: fleet state (copied on capture) and the database (in the worker).

    Args:
        db: The database (routes, stops, events).
        fleet: The live fleet, read only in :meth:`capture`; None without telemetry (then no
            vehicle facts: nobody can say a vehicle is silent when nobody listens).
        timezone: Zone of the service day and of the planner's time origin.
        provider: Travel-time model for predictions (straight line x circuity by default).
        started: When listening started; a vehicle never heard of is silent since then (or
            since its shift started, whichever is later).
        depot_radius_m: Radius of the depot geofence the idle rule excludes.
        router: The core's router: with a road engine, planned paths follow its streets.
    """

    def __init__(
        self,
        db: Database,
        fleet: FleetState | None,
        *,
        timezone: str | None = None,
        provider: TravelTimeProvider | None = None,
        started: datetime | None = None,
        depot_radius_m: float = 200.0,
        router: Router | None = None,
    ) -> None:
        self._db = db
        self._fleet = fleet
        self._tz: tzinfo = ZoneInfo(timezone or machine_zone_name())
        self._provider = provider or HaversineProvider()
        self._started = started
        self._depot_radius_m = depot_radius_m
        self._watermark: int | None = None
        self._roads = RoadLines(router) if router is not None else None

    def capture(self, now: datetime) -> Callable[[], Facts]:
        heard = None if self._fleet is None else tuple(self._fleet.snapshots())
        if self._started is None:
            self._started = now
        return partial(self.build, heard, now)

    # -- the worker's part ---------------------------------------------------------------

    def build(self, heard: Sequence[VehicleSnapshot] | None, now: datetime) -> Facts:
        """Read the database and assemble the snapshot at ``now``."""
        day = now.astimezone(self._tz).date()
        with self._db.session() as session:
            routes = self._routes(session, day)
            arrivals = alert_repo.actual_arrivals(session, day)
            events, watermark = self._new_events(session, day)
        fleet = {v.vehicle_id: v for v in heard or ()}
        origin = datetime.combine(day, time(0), self._tz)
        order_to_stop = {s.order_ref: str(s.id) for r in routes for s in r.view.stops}
        stops: list[StopFacts] = []
        vehicles: list[VehicleFacts] = []
        roads = _PassRoads(self._roads)
        for route in routes:
            predicted = self._predict(route, fleet.get(route.view.vehicle_id), now, origin)
            stops.extend(self._stop_facts(route, predicted, arrivals))
            if heard is not None and route.view.vehicle_id:
                vehicles.append(self._vehicle_facts(route, fleet, predicted, now, day, roads))
        facts = [self._event_fact(e, order_to_stop) for e in events]
        snapshot = Snapshot(
            vehicles=vehicles,
            stops=stops,
            events=[f for f in facts if f is not None],
            geofences=self._depots(routes),
        )
        return Facts(snapshot, partial(self._advance, watermark))

    def _routes(self, session: Session, day: date) -> list[_Route]:
        vehicles = {v.id: v for v in fleet_repo.load_vehicles(session)}
        found = []
        for view in fleet_repo.load_routes(session, day):
            vehicle = vehicles.get(view.vehicle_id)
            if vehicle is None:  # the unassigned pseudo-route, or an inactive vehicle
                vehicle = fleet_repo.VehicleView("", "", 0, time(0), time(23, 59), "", None, None)
            found.append(_Route(view, vehicle))
        return found

    def _new_events(self, session: Session, day: date) -> tuple[list[alert_repo.EventRecord], int]:
        if self._watermark is None:
            self._watermark = alert_repo.event_watermark(session)
        records = alert_repo.vehicle_events_after(session, self._watermark, list(EVENT_KINDS))
        watermark = records[-1].id if records else self._watermark
        midnight = datetime.combine(day, time(0), self._tz)
        return [r for r in records if r.ts >= midnight], watermark

    def _advance(self, watermark: int) -> None:
        """The events up to ``watermark`` are in the alerts: never feed them again."""
        self._watermark = max(self._watermark or 0, watermark)

    # -- predictions ---------------------------------------------------------------------

    def _predict(
        self,
        route: _Route,
        live: VehicleSnapshot | None,
        now: datetime,
        origin: datetime,
    ) -> tuple[dict[str, datetime], RouteEvaluation | None]:
        """Predicted arrival per remaining stop id, and the evaluation (None if none)."""
        v = route.vehicle
        if not v.id or v.depot_lat is None or v.depot_lon is None:
            return {}, None
        depot = (v.depot_lat, v.depot_lon)
        remaining = _remaining(route.view)
        plan_stops = [p for p in (_plan_stop(s, origin) for s in remaining) if p is not None]
        if not plan_stops:
            return {}, None
        position = _precise(live)
        shift_start = datetime.combine(origin.date(), v.shift_start, self._tz)
        window, break_s = break_rule(
            shift_start, v.break_after_min, v.break_latest_min, v.break_min
        )
        vehicle = LiveVehicle(
            v.id,
            v.capacity,
            shift_start,
            datetime.combine(origin.date(), v.shift_end, self._tz),
            depot,
            position,
            window,
            break_s,
            v.vehicle_type,
        )
        try:
            evaluation = predict_route(vehicle, plan_stops, now, origin, self._provider)
        except ValidationError as exc:
            log.warning("cannot predict route of %s: %s", v.id, exc)
            return {}, None
        arrivals = predicted_arrivals(evaluation, origin)
        return arrivals, evaluation

    # -- facts ---------------------------------------------------------------------------

    @staticmethod
    def _stop_facts(
        route: _Route,
        predicted: tuple[dict[str, datetime], RouteEvaluation | None],
        arrivals: dict[int, datetime],
    ) -> list[StopFacts]:
        found = []
        for s in route.view.stops:
            sid = str(s.id)
            try:
                found.append(
                    StopFacts(
                        stop_id=sid,
                        vehicle_id=route.view.vehicle_id or None,
                        customer_name=s.customer_name,
                        window_start=s.window_start,
                        window_end=s.window_end,
                        predicted_arrival=predicted[0].get(sid),
                        actual_arrival=arrivals.get(s.id),
                        status=s.status,
                        lat=s.lat,
                        lon=s.lon,
                        order_ref=s.order_ref,
                    )
                )
            except ValidationError as exc:
                log.warning("stop %s left out of the alert rules: %s", s.order_ref, exc)
        return found

    def _vehicle_facts(
        self,
        route: _Route,
        fleet: dict[str, VehicleSnapshot],
        predicted: tuple[dict[str, datetime], RouteEvaluation | None],
        now: datetime,
        day: date,
        roads: _PassRoads,
    ) -> VehicleFacts:
        v, view = route.vehicle, route.view
        live = fleet.get(view.vehicle_id)
        shift_start = datetime.combine(day, v.shift_start, self._tz)
        shift_end = datetime.combine(day, v.shift_end, self._tz)
        remaining = _remaining(view)
        evaluation = predicted[1]
        origin = datetime.combine(day, time(0), self._tz)
        silent_since = max(shift_start, self._started or now)
        fix = _precise(live)
        return VehicleFacts(
            vehicle_id=view.vehicle_id,
            label=view.vehicle_name,
            online=live is None or live.state is not VehicleState.OFFLINE,
            last_seen=live.last_seen if live is not None and live.last_seen else silent_since,
            lat=fix[0] if fix else None,
            lon=fix[1] if fix else None,
            speed_kmh=live.speed_kmh if live else None,
            stopped_since=live.stopped_since if live else None,
            planned_path=roads.along(self._planned_path(route, remaining), v.vehicle_type),
            shift_end=shift_end,
            predicted_route_end=(
                from_plan_seconds(evaluation.end_time, origin) if evaluation else None
            ),
            load=evaluation.max_load if evaluation else 0.0,
            capacity=float(v.capacity) if v.capacity > 0 else None,
            on_duty=now >= shift_start and (bool(remaining) or now <= shift_end),
        )

    @staticmethod
    def _planned_path(route: _Route, remaining: list[StopView]) -> list[LatLon]:
        """From the last finished stop (or the depot) through what is left, back to the depot."""
        v = route.vehicle
        depot: list[LatLon] = []
        if v.depot_lat is not None and v.depot_lon is not None:
            depot.append((v.depot_lat, v.depot_lon))
        done = [s for s in route.view.stops if s not in remaining]
        start = [(done[-1].lat, done[-1].lon)] if done else list(depot)
        return [*start, *((s.lat, s.lon) for s in remaining), *depot]

    @staticmethod
    def _event_fact(
        e: alert_repo.EventRecord, order_to_stop: dict[str, str]
    ) -> VehicleEventFact | None:
        stop_id = order_to_stop.get(e.stop_ref) if e.stop_ref else None
        try:
            return VehicleEventFact(
                event_id=e.event_id,
                vehicle_id=e.vehicle_id,
                ts=e.ts,
                kind=EVENT_KINDS[e.kind],
                reason=e.reason or None,
                stop_id=stop_id,
                note=e.note or (f"order {e.stop_ref}" if e.stop_ref and not stop_id else None),
            )
        except ValidationError as exc:
            log.warning("vehicle event %s left out of the alert rules: %s", e.event_id, exc)
            return None

    def _depots(self, routes: list[_Route]) -> list[Geofence]:
        """Depot circles: the idle rule does not count standing at a depot as idling."""
        places = sorted(
            {
                (r.vehicle.depot_lat, r.vehicle.depot_lon)
                for r in routes
                if r.vehicle.depot_lat is not None and r.vehicle.depot_lon is not None
            }
        )
        return [
            Geofence(
                fence_id=f"depot-{i + 1}",
                name=f"Depot {i + 1}",
                kind=FenceKind.DEPOT,
                center=(lat, lon),
                radius_m=self._depot_radius_m,
                alert_on_enter=False,
                alert_on_exit=False,
            )
            for i, (lat, lon) in enumerate(places)
        ]


class _PassRoads:
    """One rule pass's road paths: kept ones always, new ones until the engine first fails.

    A dead engine costs one request (its ``timeout_s``) per pass, not one per vehicle; the
    rest of the pass measures against straight lines, and the next pass asks again.
    """

    def __init__(self, roads: RoadLines | None) -> None:
        self._roads = roads if roads is not None and roads.enabled else None
        self._ask = True

    def along(self, places: list[LatLon], vehicle_type: str | None) -> list[LatLon]:
        """The road path through ``places`` in order, or ``places`` themselves (straight)."""
        if self._roads is None or len(places) < 2:
            return places
        path = self._roads.cached(places, vehicle_type or None)
        if path is None and self._ask:
            path = self._roads.path(places, vehicle_type or None)
            if path.source == "straight":
                self._ask = False
                return places
        if path is None:
            return places
        # from the places themselves: the engine starts and ends on the nearest street, and a
        # van in the depot's yard is not off its route
        ends = [places[0], *path.points, places[-1]]
        return [p for i, p in enumerate(ends) if i == 0 or p != ends[i - 1]]


def _remaining(view: RouteView) -> list[StopView]:
    """Stops still to serve, the one in progress (arrived) first."""
    left = [s for s in view.stops if not _status(s.status).is_final]
    return sorted(left, key=lambda s: (s.status != StopStatus.ARRIVED.value, s.sequence or 0))


def _status(text: str) -> StopStatus:
    try:
        return StopStatus(text)
    except ValueError:
        return StopStatus.PENDING


def _plan_stop(s: StopView, origin: datetime) -> PlanStop | None:
    try:
        kind = StopKind(s.kind)
    except ValueError:
        kind = StopKind.DELIVERY
    try:
        return PlanStop(
            id=str(s.id),
            location=(s.lat, s.lon),
            window_start=to_plan_seconds(s.window_start, origin) if s.window_start else 0.0,
            window_end=to_plan_seconds(s.window_end, origin) if s.window_end else INF,
            service_s=float(max(0, s.service_s)),
            demand=max(0, s.demand),
            kind=kind,
            status=_status(s.status),
        )
    except ValidationError as exc:
        log.warning("stop %s left out of the prediction: %s", s.order_ref, exc)
        return None


def _precise(live: VehicleSnapshot | None) -> LatLon | None:
    """The last precise fix: a coarse one (a phone's cell fix) is kept out of ETAs and the
    deviation rule, which then work from the last good fix."""
    if live is None or live.precise_lat is None or live.precise_lon is None:
        return None
    return (live.precise_lat, live.precise_lon)
