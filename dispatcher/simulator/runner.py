"""Drive the scripted fleet: publish positions, delivery events and status over MQTT.

The runner knows nothing of paho: it is handed a ``publish(topic, payload, qos, retain)``
function (the telemetry client's), so the simulator speaks exactly the protocol documented in
docs/mqtt.md and a real broker carries it. Some vehicles report as OwnTracks phones, the way a
small fleet without trackers would run.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from dispatcher.clock import Clock
from dispatcher.simulator.roads import SimRoads
from dispatcher.simulator.script import (
    SimEvent,
    SimStop,
    VehicleScript,
    build_script,
    choose_trouble,
)

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, int, bool], None]
#: Seconds the simulator waits for its way to the console before the first step.
READY_TIMEOUT_S = 10.0
#: Spacing (metres of road) and most fixes a leg of the morning's replayed track gets.
TRACK_STEP_M = 250.0
TRACK_FIXES = 8
#: Maps the script's (simulated) time to the timestamp a message carries.
Stamp = Callable[[datetime], datetime]


def wall_clock_stamp(sim_start: datetime, wall_start: datetime, speed: float) -> Stamp:
    """Stamp messages with wall-clock time while the script runs ``speed`` times faster.

    A console running on real time rejects fixes dated in the future; a time-lapse simulation
    (``dispatcher simulate --speed 10``) therefore maps simulated instants onto the wall clock,
    keeping their order and spacing (divided by ``speed``).
    """

    def stamp(ts: datetime) -> datetime:
        return wall_start + (ts - sim_start) / speed

    return stamp


@dataclass(frozen=True, slots=True)
class SimVehicle:
    vehicle_id: str
    shift_start: time
    stops: tuple[SimStop, ...]
    pickups: frozenset[str] = frozenset()
    #: ``(user, device)`` when this vehicle reports as an OwnTracks phone.
    owntracks: tuple[str, str] | None = None
    #: Its type (``van``, ``cargo_bike``…): the road profile it drives (``[routing.profiles]``).
    vehicle_type: str = "van"


def build_scripts(
    vehicles: list[SimVehicle],
    depot: tuple[float, float],
    day: date,
    timezone: str,
    seed: int,
    trouble_from: datetime | None = None,
    roads: SimRoads | None = None,
) -> dict[str, VehicleScript]:
    """Each vehicle's scripted day; ``trouble_from`` anchors the trouble (see ``Trouble``).

    With ``roads`` every vehicle drives its profile's roads: the legs between its stops are
    fetched first, all at once (see :mod:`dispatcher.simulator.roads`).
    """
    if roads is not None:
        roads.prefetch(_legs(vehicles, depot))
    rng = random.Random(seed)
    tz = ZoneInfo(timezone)
    trouble = choose_trouble(rng, {v.vehicle_id: list(v.stops) for v in vehicles}, trouble_from)
    return {
        v.vehicle_id: build_script(
            v.vehicle_id,
            depot,
            list(v.stops),
            datetime.combine(day, v.shift_start, tz),
            random.Random(f"{seed}:{v.vehicle_id}"),
            trouble,
            v.pickups,
            roads.for_type(v.vehicle_type) if roads is not None else None,
        )
        for v in vehicles
    }


def _legs(
    vehicles: list[SimVehicle], depot: tuple[float, float]
) -> list[tuple[str | None, tuple[float, float], tuple[float, float]]]:
    """Every leg the vehicles drive: depot, stops in order, depot."""
    legs: list[tuple[str | None, tuple[float, float], tuple[float, float]]] = []
    for v in vehicles:
        places = [depot, *((s.lat, s.lon) for s in v.stops), depot]
        legs += [(v.vehicle_type, a, b) for a, b in itertools.pairwise(places)]
    return legs


class FleetSimulator:
    """Publishes every vehicle's position ``rate_hz`` times per wall-clock second."""

    def __init__(
        self,
        vehicles: list[SimVehicle],
        scripts: dict[str, VehicleScript],
        publish: Publish,
        clock: Clock,
        *,
        prefix: str = "fleet",
        rate_hz: float = 1.0,
        stamp: Stamp | None = None,
        ready: Callable[[float], bool] | None = None,
        prepare: Callable[[], dict[str, VehicleScript]] | None = None,
    ) -> None:
        #: Builds the scripts on the simulator's thread before its first step (the demo's
        #: road legs: asking the engine for each would hold up the console's start-up).
        self._prepare = prepare
        self._stamp: Stamp = stamp or (lambda ts: ts)
        #: Waits (up to the seconds given) until what is published reaches the console: the
        #: first step's catch-up is a burst of QoS 0 fixes that a client still connecting
        #: drops (its QoS 1 events it keeps and sends later), which left the demo's history
        #: with the morning's deliveries and none of its driving.
        self._ready = ready
        #: The morning's track is replayed only on the simulated clock (the demo): squeezed
        #: onto the wall clock (``stamp``) its legs would read as jumps at 20 times the speed.
        self._replay_track = stamp is None
        self._vehicles = {v.vehicle_id: v for v in vehicles}
        self._scripts = scripts
        self._publish = publish
        self._clock = clock
        self._prefix = prefix
        self._period = 1.0 / rate_hz
        self._last: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._event_seq = 0
        self.published = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fleet-simulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        if self._prepare is not None:
            try:
                self._scripts = self._prepare()
            except Exception:  # no scripts, no fleet: said once, the console goes on
                log.exception("simulator: the day's scripts could not be built")
                return
        if self._ready is not None and not self._ready(READY_TIMEOUT_S):
            log.warning("simulator: the broker is not ready; the morning's fixes may be lost")
        while not self._stop.is_set():
            try:
                self.step(self._clock.now())
            except Exception:  # a publish failure must not kill the demo fleet
                log.exception("simulator step failed")
            self._stop.wait(self._period)

    def step(self, now: datetime) -> None:
        """Publish positions at ``now`` and every event since the previous step."""
        first = self._last is None
        since = self._last or now
        self._last = now
        for vid, script in self._scripts.items():
            if first:
                self._catch_up(vid, script, now)
                continue
            for event in script.events_between(since, now):
                self._event(vid, event)
            pos = script.position_at(now)
            if pos is not None:
                self._position(vid, now, *pos)

    def _catch_up(self, vid: str, script: VehicleScript, now: datetime) -> None:
        """Start mid-day like a real console would find it: what already happened is reported.

        The demo starts at 09:30 while shifts start at 07:00; the morning's deliveries, failures
        and status changes are sent first (with their own times, in order), so the day's
        figures and the route boards begin where the drivers really are. So is the morning's
        track, as a tracker replays what it buffered: one fix where each leg of the script
        began (the depot, each stop), so the position history has the morning's driving and
        the boards' "km driven" counts it. Without it the history began at 09:30 and a van
        with a dozen stops done showed 0.0 km driven. (Not in a time lapse: see ``stamp``.)
        On the roads a leg also gets a fix for about every :data:`TRACK_STEP_M` of its road
        (evenly in time, at most :data:`TRACK_FIXES` a leg), so the km driven are the
        streets', not the crow's.
        """
        past = [e for e in script.events if e.ts <= now]
        # a fix before an event of the same instant: the van is at the door when it delivers
        items: list[tuple[datetime, int, SimEvent | None]] = [(e.ts, 1, e) for e in past]
        if self._replay_track:
            items += [(ts, 0, None) for ts in _track_instants(script, now)]
        for ts, _, event in sorted(items, key=lambda item: (item[0], item[1])):
            if event is not None:
                self._event(vid, event)
                continue
            pos = script.position_at(ts)
            if pos is not None:  # offline legs are silent
                self._position(vid, ts, *pos)
        if not any(e.kind.startswith("status_") for e in past):
            self._status(vid, online=True, ts=now)
        pos = script.position_at(now)
        if pos is not None:
            self._position(vid, now, *pos)

    def _position(
        self, vid: str, ts: datetime, lat: float, lon: float, speed: float, heading: float
    ) -> None:
        vehicle = self._vehicles[vid]
        ts = self._stamp(ts)
        if vehicle.owntracks:
            user, device = vehicle.owntracks
            payload: dict[str, object] = {
                "_type": "location",
                "tid": vid[-2:],
                "tst": int(ts.timestamp()),
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "acc": 12,
                "batt": 80,
            }
            if speed > 0:  # OwnTracks leaves out fields that are zero
                payload.update(vel=round(speed), cog=round(heading))
            self._send(f"owntracks/{user}/{device}", payload, 0, retain=False)
            return
        self._send(
            f"{self._prefix}/vehicles/{vid}/position",
            {
                "v": 1,
                "ts": ts.isoformat(),
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "speed_kmh": round(speed, 1),
                "heading_deg": round(heading),
                "accuracy_m": 8,
                "battery_pct": 90,
            },
            0,
            retain=False,
        )

    def _event(self, vid: str, event: SimEvent) -> None:
        if event.kind.startswith("status_"):
            self._status(vid, online=event.kind == "status_online", ts=event.ts)
            return
        self._event_seq += 1
        payload: dict[str, object] = {
            "v": 1,
            "ts": self._stamp(event.ts).isoformat(),
            "kind": event.kind,
            "event_id": f"sim-{vid}-{event.order_ref}-{event.kind}",
            "stop_id": event.order_ref,
        }
        if event.reason:
            payload["reason"] = event.reason
        self._send(f"{self._prefix}/vehicles/{vid}/event", payload, 1, retain=False)

    def _status(self, vid: str, *, online: bool, ts: datetime) -> None:
        self._send(
            f"{self._prefix}/vehicles/{vid}/status",
            {
                "v": 1,
                "state": "online" if online else "offline",
                "ts": self._stamp(ts).isoformat(),
            },
            1,
            retain=True,
        )

    def _send(self, topic: str, payload: dict[str, object], qos: int, *, retain: bool) -> None:
        self._publish(topic, json.dumps(payload, separators=(",", ":")).encode(), qos, retain)
        self.published += 1


def _track_instants(script: VehicleScript, now: datetime) -> list[datetime]:
    """When the morning's replayed track has a fix: where each leg began, and along a road
    leg every :data:`TRACK_STEP_M` metres (reached before ``now``)."""
    out: list[datetime] = []
    for seg in script.segments:
        if seg.start >= now:
            continue
        out.append(seg.start)
        if seg.road is None or seg.kind != "drive":
            continue
        n = min(TRACK_FIXES, int(seg.road.length_m // TRACK_STEP_M))
        span = seg.end - seg.start
        out += [t for k in range(1, n + 1) if (t := seg.start + span * (k / (n + 1))) < now]
    return out
