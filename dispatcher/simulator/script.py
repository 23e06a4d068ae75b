"""What each simulated vehicle does all day, computed up front from its route and a seed.

A :class:`VehicleScript` is a timeline of segments (drive, serve, idle, offline) built once;
asking where a vehicle is at time ``t`` is then a lookup plus a linear interpolation, so the
simulator can run far faster than real time. A drive is a straight line at a city speed, or,
given the road engine's legs (:mod:`dispatcher.simulator.roads`), the engine's road path
driven in the engine's time. Trouble is part of the script, chosen by the
seed: traffic slowdowns on some legs, a failed delivery, a vehicle going offline for a while,
and one idling away from its stop. The same seed always gives the same day.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatcher.geo import haversine_m
from dispatcher.simulator.road_leg import Point, RoadLeg
from dispatcher.simulator.road_leg import bearing as _bearing

CIRCUITY = 1.3
CITY_SPEED_KMH = 24.0
FAIL_REASONS = ("customer not at home", "address not found", "customer refused")


@dataclass(frozen=True, slots=True)
class SimStop:
    order_ref: str
    lat: float
    lon: float
    service_s: int


#: A vehicle's roads: the engine's leg from a to b, or None for a straight line.
LegRoads = Callable[[Point, Point], RoadLeg | None]


@dataclass(frozen=True, slots=True)
class Segment:
    """From ``start`` to ``end`` the vehicle goes from point a to point b (equal when still),
    along ``road`` when the engine gave one, else in a straight line."""

    kind: str  # "drive" | "serve" | "idle" | "offline" | "parked"
    start: datetime
    end: datetime
    a: tuple[float, float]
    b: tuple[float, float]
    order_ref: str | None = None
    road: RoadLeg | None = None
    #: The traffic on a drive: its time is the road's (or the straight line's) times this.
    factor: float = 1.0


@dataclass(frozen=True, slots=True)
class SimEvent:
    ts: datetime
    kind: str  # arrived | delivered | failed | picked_up | status_offline | status_online
    order_ref: str | None = None
    reason: str | None = None


@dataclass
class VehicleScript:
    vehicle_id: str
    segments: list[Segment] = field(default_factory=list)
    events: list[SimEvent] = field(default_factory=list)

    def segment_at(self, t: datetime) -> Segment | None:
        lo, hi = 0, len(self.segments)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.segments[mid].end <= t:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self.segments) and self.segments[lo].start <= t:
            return self.segments[lo]
        return None

    def position_at(self, t: datetime) -> tuple[float, float, float, float] | None:
        """``(lat, lon, speed_kmh, heading_deg)`` at ``t``; ``None`` when silent (offline,
        before the shift or after the day)."""
        seg = self.segment_at(t)
        if seg is None or seg.kind == "offline":
            return None
        if seg.kind != "drive" or seg.a == seg.b:
            return seg.a[0], seg.a[1], 0.0, 0.0
        span = (seg.end - seg.start).total_seconds()
        f = min(1.0, max(0.0, (t - seg.start).total_seconds() / span)) if span > 0 else 1.0
        if seg.road is not None:  # the street's speed in the engine's time, slowed by traffic
            lat, lon, heading, mps = seg.road.at(f)
            speed = mps * seg.road.duration_s / span * 3.6 if span > 0 else 0.0
            return lat, lon, speed, heading
        lat = seg.a[0] + (seg.b[0] - seg.a[0]) * f
        lon = seg.a[1] + (seg.b[1] - seg.a[1]) * f
        speed = haversine_m(*seg.a, *seg.b) / span * 3.6 * CIRCUITY if span > 0 else 0.0
        return lat, lon, speed, _bearing(seg.a, seg.b)

    def events_between(self, t0: datetime, t1: datetime) -> list[SimEvent]:
        return [e for e in self.events if t0 < e.ts <= t1]


def drive_seconds(a: tuple[float, float], b: tuple[float, float], factor: float = 1.0) -> float:
    return haversine_m(*a, *b) * CIRCUITY / (CITY_SPEED_KMH / 3.6) * factor


@dataclass(frozen=True)
class Trouble:
    """Which vehicles get which trouble (chosen by the seed unless given)."""

    failed_stops: frozenset[str] = frozenset()
    offline_vehicle: str | None = None
    idle_vehicle: str | None = None
    slow_vehicles: frozenset[str] = frozenset()
    #: When set, the idle detour, the offline gap and one failed stop on each ``failed_vehicles``
    #: happen soon after this instant (the demo's start) instead of at fixed stop indexes, so a
    #: console opened mid-day sees every kind of trouble within minutes.
    anchor: datetime | None = None
    failed_vehicles: frozenset[str] = frozenset()


def choose_trouble(
    rng: random.Random, routes: dict[str, list[SimStop]], anchor: datetime | None = None
) -> Trouble:
    vehicles = sorted(v for v, stops in routes.items() if len(stops) >= 4)
    if not vehicles:
        return Trouble()
    picked = rng.sample(vehicles, k=min(len(vehicles), 4))
    failed = {routes[v][rng.randrange(1, len(routes[v]))].order_ref for v in picked[:2]}
    return Trouble(
        failed_stops=frozenset(failed),
        offline_vehicle=picked[2 % len(picked)],
        idle_vehicle=picked[3 % len(picked)],
        slow_vehicles=frozenset(picked[:2]),
        anchor=anchor,
        failed_vehicles=frozenset(picked[:2]) if anchor is not None else frozenset(),
    )


def build_script(
    vehicle_id: str,
    depot: tuple[float, float],
    stops: list[SimStop],
    shift_start: datetime,
    rng: random.Random,
    trouble: Trouble,
    pickups: frozenset[str] = frozenset(),
    roads: LegRoads | None = None,
) -> VehicleScript:
    """Drive ``stops`` in order from ``depot`` starting at ``shift_start``, then return.

    With ``roads`` each drive follows the engine's leg and takes the engine's time (times
    the leg's traffic factor); a leg it has not (None) is today's straight line.
    """
    script = VehicleScript(vehicle_id)
    t = shift_start + timedelta(minutes=rng.uniform(5, 15))  # loading at the depot
    script.segments.append(Segment("parked", shift_start, t, depot, depot))
    here = depot
    due = _TroubleClock(vehicle_id, len(stops), trouble)
    for i, stop in enumerate(stops):
        factor = rng.lognormvariate(0.05, 0.15)
        if vehicle_id in trouble.slow_vehicles:
            factor *= 1.6  # stuck in traffic all day
        if due.idle(i, t):
            t = _idle_detour(script, here, t, rng, roads)
        if due.offline(i, t):
            t = _offline_gap(script, here, t, rng)
        target = (stop.lat, stop.lon)
        arrive = _drive(script, here, target, t, factor, roads)
        script.events.append(SimEvent(arrive, "arrived", stop.order_ref))
        service = timedelta(seconds=stop.service_s * rng.uniform(0.7, 1.3))
        done = arrive + service
        script.segments.append(Segment("serve", arrive, done, target, target, stop.order_ref))
        if stop.order_ref in trouble.failed_stops or due.fails(done):
            script.events.append(SimEvent(done, "failed", stop.order_ref, rng.choice(FAIL_REASONS)))
        else:
            kind = "picked_up" if stop.order_ref in pickups else "delivered"
            script.events.append(SimEvent(done, kind, stop.order_ref))
        here, t = target, done
    back = _drive(script, here, depot, t, 1.0, roads)
    script.segments.append(Segment("parked", back, back + timedelta(hours=2), depot, depot))
    return script


class _TroubleClock:
    """When one vehicle's scripted trouble happens: at fixed stop indexes, or just after the
    trouble anchor (each kind once)."""

    def __init__(self, vehicle_id: str, n_stops: int, trouble: Trouble) -> None:
        self._anchor = trouble.anchor
        self._idle = vehicle_id == trouble.idle_vehicle
        self._offline = vehicle_id == trouble.offline_vehicle
        self._fails = vehicle_id in trouble.failed_vehicles
        self._idle_at = n_stops // 2
        self._offline_at = n_stops // 3

    def idle(self, index: int, t: datetime) -> bool:
        if not self._idle:
            return False
        if self._anchor is None:
            return index == self._idle_at
        self._idle = t < self._anchor
        return not self._idle

    def offline(self, index: int, t: datetime) -> bool:
        if not self._offline:
            return False
        if self._anchor is None:
            return index == self._offline_at
        self._offline = t < self._anchor + timedelta(minutes=2)
        return not self._offline

    def fails(self, done: datetime) -> bool:
        if not self._fails or self._anchor is None:
            return False
        self._fails = done < self._anchor + timedelta(minutes=1)
        return not self._fails


def _drive(
    script: VehicleScript,
    a: Point,
    b: Point,
    t: datetime,
    factor: float,
    roads: LegRoads | None,
) -> datetime:
    """Append the drive from ``a`` to ``b`` leaving at ``t``; returns the arrival."""
    leg = roads(a, b) if roads is not None and a != b else None
    seconds = leg.duration_s * factor if leg is not None else drive_seconds(a, b, factor)
    arrive = t + timedelta(seconds=seconds)
    script.segments.append(Segment("drive", t, arrive, a, b, road=leg, factor=factor))
    return arrive


def _idle_detour(
    script: VehicleScript,
    here: tuple[float, float],
    t: datetime,
    rng: random.Random,
    roads: LegRoads | None = None,
) -> datetime:
    """Drive ~700 m off the route and stand there for 25 minutes (lunch in the van?)."""
    spot = (here[0] + 0.0045, here[1] - 0.006)
    arrive = _drive(script, here, spot, t, 1.0, roads)
    leave = arrive + timedelta(minutes=25 + rng.uniform(0, 5))
    script.segments.append(Segment("idle", arrive, leave, spot, spot))
    return _drive(script, spot, here, leave, 1.0, roads)


def _offline_gap(
    script: VehicleScript, here: tuple[float, float], t: datetime, rng: random.Random
) -> datetime:
    """The tracker loses power: an offline announcement, 20 silent minutes, then back."""
    script.events.append(SimEvent(t, "status_offline"))
    back = t + timedelta(minutes=20 + rng.uniform(0, 5))
    script.segments.append(Segment("offline", t, back, here, here))
    script.events.append(SimEvent(back, "status_online"))
    return back
