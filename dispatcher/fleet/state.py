"""Live fleet state: where every vehicle is, how it is doing, and what changed this tick.

Fed from the ingest drain on the GUI thread (single-threaded by design, no locks), it keeps
per vehicle the last good position, speed, heading, battery, when it was last heard of, a
status, and a short trail. Status rules:

* ``offline`` — its last will (or an OwnTracks lwt) said so, until it speaks again;
* ``stale`` — nothing heard for ``stale_after_s``;
* ``moving`` — speed (reported, or implied by the last two fixes) at least ``moving_kmh``;
* ``idle`` — not moving for more than ``idle_after_s``; ``stopped`` before that;
* ``unknown`` — heard of, but no position yet.

A **coarse** fix (a phone's cell fix, see docs/mqtt.md) moves the vehicle and counts as
heard, but never decides moving/stopped, never joins the trail, and leaves the last precise
fix (``precise_lat``/``precise_lon``) for the ETA and deviation rules.

Time-driven transitions (stopped → idle, → stale) are found by :meth:`FleetState.sweep`, which
the ingest drain calls every tick and which walks the fleet at most every ``sweep_interval_s``.
The same walk forgets a vehicle silent for ``evict_after_s`` (its record and trail), so the
live state holds the vehicles heard lately, never every id ever heard.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.fleet.trail import Trail
from dispatcher.geo import haversine_m
from dispatcher.model.core import EventReport, PositionReport, StatusReport, VehicleState


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Thresholds of the status rules (the config layer maps its keys onto these)."""

    moving_kmh: float = 3.0
    idle_after_s: float = 300.0
    stale_after_s: float = 600.0
    trail_length: int = 100
    sweep_interval_s: float = 1.0
    evict_after_s: float = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class FleetChanged:
    """Published once per tick with every vehicle that changed (position, status, ...)."""

    vehicle_ids: frozenset[str]
    state_changed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class VehicleSnapshot:
    """An immutable view of one vehicle for the UI, alert rules and the map bridge."""

    vehicle_id: str
    state: VehicleState
    lat: float | None
    lon: float | None
    fix_time: datetime | None
    speed_kmh: float | None
    heading_deg: float | None
    accuracy_m: float | None
    battery_pct: float | None
    last_seen: datetime | None
    stopped_since: datetime | None
    source: str | None
    #: The newest fix is coarse (accuracy worse than the coarse threshold): ``lat``/``lon``
    #: show it on the map, ``precise_lat``/``precise_lon`` are the last good fix that ETA
    #: and deviation rules use (``None`` when there never was one).
    coarse: bool = False
    tracking_mode: str | None = None
    precise_lat: float | None = None
    precise_lon: float | None = None


class _Vehicle:
    """Mutable per-vehicle record; slots keep 10,000 of them small."""

    __slots__ = (
        "battery",
        "fix_t",
        "heading",
        "last_seen",
        "lat",
        "lon",
        "moving",
        "offline",
        "plat",
        "plon",
        "report",
        "speed",
        "state",
        "stopped_since",
        "trail",
    )

    def __init__(self, trail_length: int) -> None:
        self.report: PositionReport | None = None
        self.lat = self.lon = 0.0
        self.fix_t = 0.0
        self.speed: float | None = None
        self.heading: float | None = None
        self.battery: float | None = None
        self.last_seen: datetime | None = None
        self.stopped_since: datetime | None = None
        self.moving = False
        self.offline = False
        self.plat: float | None = None
        self.plon: float | None = None
        self.state = VehicleState.UNKNOWN
        self.trail = Trail(trail_length)


class FleetState:
    """The live fleet. Not thread-safe: touch it from the thread that drains ingest."""

    def __init__(self, config: FleetConfig | None = None) -> None:
        self.config = config or FleetConfig()
        self._vehicles: dict[str, _Vehicle] = {}
        self._idle_after = timedelta(seconds=self.config.idle_after_s)
        self._stale_after = timedelta(seconds=self.config.stale_after_s)
        self._evict_after = timedelta(seconds=self.config.evict_after_s)
        self._last_sweep: datetime | None = None
        #: Vehicles forgotten after a silence, since start.
        self.evicted = 0
        # Cut-offs derived from the current tick's "now" (the drain passes the same object
        # for a whole batch, so they are computed once per tick, not once per fix).
        self._now: datetime | None = None
        self._stale_cut = self._idle_cut = datetime.min

    # -- updates --------------------------------------------------------------------------
    def apply_position(
        self, report: PositionReport, now: datetime, *, out_of_order: bool = False
    ) -> bool:
        """Take one accepted fix; an out-of-order one only proves the vehicle is alive.

        Returns True when the vehicle's state (status) changed.
        """
        _, state_changed = self.apply_positions(((report, out_of_order),), now)
        return bool(state_changed)

    def apply_positions(
        self, fixes: Iterable[tuple[PositionReport, bool]], now: datetime
    ) -> tuple[set[str], set[str]]:
        """Take a tick's worth of ``(fix, out_of_order)``; returns (changed, state changed).

        The per-fix work of the ingest drain lives here, in one loop with local names: it
        runs for every message the console receives.
        """
        vehicles = self._vehicles
        moving_kmh = self.config.moving_kmh
        self._cutoffs(now)
        idle_cut = self._idle_cut
        changed: set[str] = set()
        state_changed: set[str] = set()
        for report, out_of_order in fixes:
            vid = report.vehicle_id
            changed.add(vid)
            v = vehicles.get(vid)
            if v is None:
                v = vehicles[vid] = _Vehicle(self.config.trail_length)
            v.last_seen = now
            v.offline = False
            t = report.ts.timestamp()
            last = v.report
            if out_of_order or (last is not None and t <= v.fix_t):
                if self._restate(v, now):  # alive again (stale/offline → a live state)
                    state_changed.add(vid)
                continue
            speed = report.speed_kmh
            coarse = report.coarse
            if coarse:
                # A cell fix kilometres wide says nothing about moving: keep what was known
                # (a reported speed still counts), never derive a speed from its jumps.
                moving = v.moving or (speed is not None and speed >= moving_kmh)
            else:
                if speed is None and last is not None and not last.coarse:
                    speed = haversine_m(v.lat, v.lon, report.lat, report.lon) / (t - v.fix_t) * 3.6
                moving = speed is not None and speed >= moving_kmh
                v.plat, v.plon = report.lat, report.lon
            v.moving = moving
            if moving:
                v.stopped_since = None
                state = VehicleState.MOVING
            else:
                if v.stopped_since is None:
                    v.stopped_since = min(report.ts, now)
                state = VehicleState.IDLE if v.stopped_since < idle_cut else VehicleState.STOPPED
            v.report = report
            v.lat, v.lon = report.lat, report.lon
            v.fix_t = t
            v.speed = speed
            if report.heading_deg is not None:
                v.heading = report.heading_deg
            if report.battery_pct is not None:
                v.battery = report.battery_pct
            if not coarse:
                v.trail.append(t, report.lat, report.lon)
            if state is not v.state:
                v.state = state
                state_changed.add(vid)
        return changed, state_changed

    def apply_status(self, report: StatusReport, now: datetime) -> bool:
        """Online/offline announcement (last will); returns True when the status changed."""
        v = self._vehicle(report.vehicle_id)
        v.offline = not report.online
        if report.online:
            v.last_seen = now
        return self._restate(v, now)

    def apply_event(self, report: EventReport, now: datetime) -> bool:
        """A delivery event proves the vehicle is alive (it may also carry a position)."""
        v = self._vehicle(report.vehicle_id)
        v.last_seen = now
        v.offline = False
        return self._restate(v, now)

    def sweep(self, now: datetime, *, force: bool = False) -> set[str]:
        """Re-derive time-driven statuses and forget silent vehicles; returns the vehicles
        whose status changed or that were forgotten."""
        last = self._last_sweep
        if (
            not force
            and last is not None
            and (now - last).total_seconds() < (self.config.sweep_interval_s)
        ):
            return set()
        self._last_sweep = now
        evict_cut = now - self._evict_after
        silent = [
            vid
            for vid, v in self._vehicles.items()
            if v.last_seen is not None and v.last_seen < evict_cut
        ]
        for vid in silent:
            del self._vehicles[vid]
        self.evicted += len(silent)
        changed = {vid for vid, v in self._vehicles.items() if self._restate(v, now)}
        return changed | set(silent)

    def remove(self, vehicle_id: str) -> None:
        """Forget a vehicle (deleted or unbound)."""
        self._vehicles.pop(vehicle_id, None)

    # -- queries --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._vehicles)

    def __contains__(self, vehicle_id: object) -> bool:
        return vehicle_id in self._vehicles

    def vehicle_ids(self) -> list[str]:
        """Every vehicle heard of, in first-heard order."""
        return list(self._vehicles)

    def get(self, vehicle_id: str) -> VehicleSnapshot | None:
        """A snapshot of one vehicle, or ``None`` if never heard of."""
        v = self._vehicles.get(vehicle_id)
        return None if v is None else _snapshot(vehicle_id, v)

    def snapshots(
        self, vehicle_ids: frozenset[str] | set[str] | None = None
    ) -> list[VehicleSnapshot]:
        """Snapshots of ``vehicle_ids`` (all vehicles by default), skipping unknown ids."""
        ids: Iterable[str] = self._vehicles.keys() if vehicle_ids is None else vehicle_ids
        return [_snapshot(vid, self._vehicles[vid]) for vid in ids if vid in self._vehicles]

    def trail(self, vehicle_id: str) -> list[tuple[datetime, float, float]]:
        """Recent fixes ``(time, lat, lon)`` oldest first; empty if unknown."""
        v = self._vehicles.get(vehicle_id)
        return [] if v is None else v.trail.points()

    def counts(self) -> dict[VehicleState, int]:
        """How many vehicles are in each status (for the status bar)."""
        out = dict.fromkeys(VehicleState, 0)
        for v in self._vehicles.values():
            out[v.state] += 1
        return out

    # -- internals ------------------------------------------------------------------------
    def _vehicle(self, vehicle_id: str) -> _Vehicle:
        v = self._vehicles.get(vehicle_id)
        if v is None:
            v = self._vehicles[vehicle_id] = _Vehicle(self.config.trail_length)
        return v

    def _cutoffs(self, now: datetime) -> None:
        if now is not self._now:
            self._now = now
            self._stale_cut = now - self._stale_after
            self._idle_cut = now - self._idle_after

    def _restate(self, v: _Vehicle, now: datetime) -> bool:
        self._cutoffs(now)
        state = self._derive(v)
        if state is v.state:
            return False
        v.state = state
        return True

    def _derive(self, v: _Vehicle) -> VehicleState:
        if v.offline:
            return VehicleState.OFFLINE
        if v.last_seen is not None and v.last_seen < self._stale_cut:
            return VehicleState.STALE
        if v.report is None:
            return VehicleState.UNKNOWN
        if v.moving:
            return VehicleState.MOVING
        if v.stopped_since is not None and v.stopped_since < self._idle_cut:
            return VehicleState.IDLE
        return VehicleState.STOPPED


def _snapshot(vehicle_id: str, v: _Vehicle) -> VehicleSnapshot:
    r = v.report
    return VehicleSnapshot(
        vehicle_id=vehicle_id,
        state=v.state,
        lat=None if r is None else v.lat,
        lon=None if r is None else v.lon,
        fix_time=None if r is None else r.ts,
        speed_kmh=v.speed,
        heading_deg=v.heading,
        accuracy_m=None if r is None else r.accuracy_m,
        battery_pct=v.battery,
        last_seen=v.last_seen,
        stopped_since=v.stopped_since,
        source=None if r is None else r.source,
        coarse=r is not None and r.coarse,
        tracking_mode=None if r is None else r.tracking_mode,
        precise_lat=v.plat,
        precise_lon=v.plon,
    )
