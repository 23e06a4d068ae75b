"""Replay: the whole fleet's stored positions in a time range, turned into frames.

:func:`load_replay` reads one window (plus where each vehicle stood when it starts) in three
queries; :class:`ReplayPlayer` turns it into frames at 1x-60x with scrubbing. A frame places
each vehicle at its last stored fix at or before the frame time, interpolated towards the
next one when the two are close in time (thinned history has gaps of up to N seconds while
driving), so a 60x replay glides instead of jumping.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dispatcher.errors import ValidationError
from dispatcher.persistence import history_repo
from dispatcher.persistence.database import Database

SPEEDS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MIN_SPEED, MAX_SPEED = 1.0, 60.0
#: Where each vehicle stood at the start: its last fix up to this long before the window.
SEED_LOOKBACK = timedelta(hours=2)
#: Gaps longer than this are not bridged by interpolation (the vehicle was offline).
MAX_INTERPOLATION_GAP_S = 300.0
#: The longest window one replay loads (a day of a large fleet is about a million fixes).
MAX_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ReplayPosition:
    """One vehicle in one frame; ``age_s`` is how old the stored fix behind it is."""

    vehicle_id: str
    lat: float
    lon: float
    heading_deg: float | None
    speed_kmh: float | None
    age_s: float


@dataclass(frozen=True, slots=True)
class ReplayFrame:
    """The fleet at ``at``: what the map shows in replay."""

    at: datetime
    positions: list[ReplayPosition]


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """A delivery event of the window, for the event list next to the replay bar."""

    ts: datetime
    vehicle_id: str
    kind: str
    stop_ref: str | None
    reason: str
    lat: float | None
    lon: float | None


@dataclass(slots=True)
class _Track:
    ts: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    heading: list[float | None] = field(default_factory=list)
    speed: list[float | None] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    """What one replay shows: stored fixes of ``[start, end]`` in time order, seeds, events."""

    start: datetime
    end: datetime
    #: (vehicle, epoch seconds, lat, lon, speed km/h, heading) in time order.
    positions: list[history_repo.ReplayTuple]
    #: Each vehicle's last fix before ``start`` (up to :data:`SEED_LOOKBACK` earlier).
    seeds: list[history_repo.ReplayTuple]
    events: list[ReplayEvent]

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()

    def vehicle_ids(self) -> list[str]:
        return sorted({p[0] for p in self.positions} | {p[0] for p in self.seeds})


def check_range(start: datetime, end: datetime) -> None:
    """A replay range must be aware, ordered and at most :data:`MAX_WINDOW` long."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("replay times must carry a time zone")
    if end <= start:
        raise ValidationError("the replay must end after it starts")
    if end - start > MAX_WINDOW:
        raise ValidationError("a replay covers at most 24 hours; pick a shorter range")


def load_replay(db: Database, start: datetime, end: datetime) -> ReplayWindow:
    """Read the window from the database (one session, three indexed queries)."""
    check_range(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    with db.session() as session:
        positions = history_repo.replay_positions(session, start, end)
        seeds = history_repo.replay_seeds(session, start, start - SEED_LOOKBACK)
        events = [ReplayEvent(*e) for e in history_repo.events_between(session, start, end)]
    return ReplayWindow(start, end, positions, seeds, events)


class ReplayPlayer:
    """Plays a :class:`ReplayWindow`: a cursor in time, a speed, frames on demand.

    The player has no timer: the UI calls :meth:`advance` with the wall-clock seconds since
    the last call (so tests drive it without sleeping) and :meth:`seek` when scrubbing.
    """

    def __init__(self, window: ReplayWindow, speed: float = 10.0) -> None:
        self.window = window
        self._t0 = window.start.timestamp()
        self._t1 = window.end.timestamp()
        self._cursor = self._t0
        self.playing = False
        self.speed = speed
        self._tracks: dict[str, _Track] = {}
        for rows in (window.seeds, window.positions):
            for vid, ts, lat, lon, speed_kmh, heading in rows:
                track = self._tracks.setdefault(vid, _Track())
                track.ts.append(ts)
                track.lat.append(lat)
                track.lon.append(lon)
                track.heading.append(heading)
                track.speed.append(speed_kmh)

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if not MIN_SPEED <= value <= MAX_SPEED:
            raise ValidationError(f"replay speed must be 1x to 60x, not {value:g}x")
        self._speed = float(value)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self._cursor, UTC)

    @property
    def fraction(self) -> float:
        """How far the cursor is through the window (0..1), for the slider."""
        span = self._t1 - self._t0
        return (self._cursor - self._t0) / span if span > 0 else 1.0

    @property
    def finished(self) -> bool:
        return self._cursor >= self._t1

    def play(self) -> None:
        if self.finished:
            self._cursor = self._t0
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def seek(self, at: datetime) -> ReplayFrame:
        """Jump to ``at`` (clamped into the window) and return that frame."""
        self._cursor = min(max(at.timestamp(), self._t0), self._t1)
        return self.frame()

    def seek_fraction(self, fraction: float) -> ReplayFrame:
        self._cursor = self._t0 + min(max(fraction, 0.0), 1.0) * (self._t1 - self._t0)
        return self.frame()

    def advance(self, wall_s: float) -> ReplayFrame:
        """Move ``wall_s`` wall seconds forward at the current speed (when playing)."""
        if self.playing:
            self._cursor = min(self._cursor + max(wall_s, 0.0) * self._speed, self._t1)
            if self._cursor >= self._t1:
                self.playing = False
        return self.frame()

    def frame(self) -> ReplayFrame:
        """The fleet at the cursor."""
        t = self._cursor
        out = []
        for vid, track in self._tracks.items():
            i = bisect.bisect_right(track.ts, t) - 1
            if i < 0:
                continue  # no fix yet: the vehicle appears with its first one
            lat, lon = track.lat[i], track.lon[i]
            j = i + 1
            if j < len(track.ts):
                gap = track.ts[j] - track.ts[i]
                if 0 < gap <= MAX_INTERPOLATION_GAP_S:
                    f = (t - track.ts[i]) / gap
                    lat += (track.lat[j] - lat) * f
                    lon += (track.lon[j] - lon) * f
            out.append(
                ReplayPosition(vid, lat, lon, track.heading[i], track.speed[i], t - track.ts[i])
            )
        out.sort(key=lambda p: p.vehicle_id)
        return ReplayFrame(self.at, out)

    def events_until(self, at: datetime | None = None) -> list[ReplayEvent]:
        """Events of the window up to ``at`` (default: the cursor), for the event list."""
        limit = at or self.at
        return [e for e in self.window.events if e.ts <= limit]
