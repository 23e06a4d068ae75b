"""ETAs that learn: speed factors by hour of day and area, from the fleet's own history.

The built-in :meth:`SpeedProfile.urban_rush_hours` is a guess. What the fleet really drove is
in the position history: every stretch of a vehicle moving between two fixes is an observed
leg (where, when, how long) that can be compared with the provider's free-flow time for the
same leg. :func:`learn` turns those ratios into a :class:`LearnedSpeeds` table, a
multiplicative factor per (hour of day in the fleet's zone, grid cell of ``cell_deg`` degrees).

The estimate is hierarchical in log space so that thin data never produces wild factors:
overall level, then an hour effect, then a cell effect, then the (hour, cell) interaction, each
shrunk toward zero by ``prior`` pseudo-observations. A cell seen ten times keeps mostly the
hour's factor; a cell seen a thousand times gets its own. Ratios outside ``[1/5, 5]`` (a GPS
jump, a vehicle parked mid-stretch) are dropped and counted, never an error.

:class:`LearnedProvider` wraps any provider. The evaluator applies one time-of-day profile per
matrix (dispatcher/eta/travel.py), so the table is applied in its separable form: the learned
hourly factors become the matrix's profile, and each free-flow duration is multiplied by the
leg's area factor (the cells along the straight line, averaged, relative to the hour's factor,
weighted by how much each hour was driven). The full (hour, cell) table is kept for
:meth:`LearnedSpeeds.factor` and a future evaluator that applies it per leg.

The table is a small JSON file (``dispatcher eta learn``, docs/eta.md): recomputed from the
history whenever wanted, no schema change, and readable without a database.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from dispatcher.errors import ValidationError
from dispatcher.eta.travel import (
    FloatArray,
    Location,
    SpeedProfile,
    TravelMatrix,
    TravelTimeProvider,
)
from dispatcher.geo import EARTH_RADIUS_M

HOURS = 24
#: Ratios observed / free-flow outside ``[1 / MAX_RATIO, MAX_RATIO]`` are not traffic.
MAX_RATIO = 5.0
#: Points sampled along a matrix leg to average the area factor.
LEG_SAMPLES = 7
FORMAT = 1


@dataclass(frozen=True, slots=True)
class Leg:
    """One observed stretch of driving.

    Attributes:
        start, end: ``(lat, lon)`` of the two fixes.
        depart: When it started (aware; converted to the fleet's zone for the hour).
        duration_s: Seconds it took.
    """

    start: Location
    end: Location
    depart: datetime
    duration_s: float


def legs_from_track(
    fixes: Iterable[tuple[datetime, float, float]],
    *,
    min_leg_s: float = 120.0,
    max_gap_s: float = 300.0,
    min_step_m: float = 30.0,
) -> list[Leg]:
    """Cut one vehicle's fixes (time order) into legs of moving.

    A step between consecutive fixes counts as moving when it covers ``min_step_m``; runs of
    moving steps are cut into legs of at least ``min_leg_s``. The first and last step of a run
    are dropped: they hold part of a stop (arriving, leaving), which is not travel time. A gap
    longer than ``max_gap_s`` ends a run. Fixes without a time zone, with missing or
    out-of-range coordinates, or out of order are skipped.
    """
    clean: list[tuple[datetime, float, float]] = []
    for ts, lat, lon in fixes:
        if not isinstance(ts, datetime) or ts.tzinfo is None or not _valid(lat, lon):
            continue
        if clean and ts <= clean[-1][0]:
            continue
        clean.append((ts, float(lat), float(lon)))
    runs: list[list[tuple[datetime, float, float]]] = []
    run: list[tuple[datetime, float, float]] = []
    for prev, cur in itertools.pairwise(clean):
        gap = (cur[0] - prev[0]).total_seconds()
        moving = gap <= max_gap_s and _dist_m(prev[1:], cur[1:]) >= min_step_m
        if moving:
            if not run:
                run = [prev]
            run.append(cur)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    legs: list[Leg] = []
    for r in runs:
        inner = r[1:-1]
        anchor = 0
        for k in range(1, len(inner)):
            dt = (inner[k][0] - inner[anchor][0]).total_seconds()
            if dt >= min_leg_s:
                a, b = inner[anchor], inner[k]
                legs.append(Leg((a[1], a[2]), (b[1], b[2]), a[0], dt))
                anchor = k
    return legs


def _key(row: Any, col: Any) -> Any:
    """One sortable integer per grid cell (rows and columns stay well within ±10⁶)."""
    return (row + 1_000_000) * 4_000_000 + (col + 1_000_000)


def _valid(lat: object, lon: object) -> bool:
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return False
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


def _dist_m(a: Sequence[float], b: Sequence[float]) -> float:
    """Scalar haversine (called once per fix; numpy's per-call cost would dominate)."""
    la1, la2 = math.radians(a[0]), math.radians(b[0])
    dlon = math.radians(b[1] - a[1])
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, h))))


@dataclass(frozen=True, slots=True)
class LearnedSpeeds:
    """Travel-time factors by hour of day (fleet zone) and grid cell, learned from legs.

    Attributes:
        zone: The fleet's time zone the hours are in.
        cell_deg: Grid size in degrees (cell = floor(lat / cell_deg), floor(lon / cell_deg)).
        hourly: 24 factors for a place with no data of its own.
        cells: Per cell, 24 factors.
        hour_weight: Legs seen per hour (weights the area factor of a matrix leg).
        legs: Legs learned from; ``dropped``: legs ignored as not traffic.
    """

    zone: str
    cell_deg: float
    hourly: tuple[float, ...]
    cells: dict[tuple[int, int], tuple[float, ...]] = field(default_factory=dict)
    hour_weight: tuple[float, ...] = (1.0,) * HOURS
    legs: int = 0
    dropped: int = 0
    _keys: npt.NDArray[np.int64] = field(init=False, repr=False, compare=False)
    _ratios: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the area ratio of every cell, sorted by key: a matrix looks up n² × 7 points
        w = np.asarray(self.hour_weight, float)
        w = w / w.sum() if w.sum() > 0 else np.full(HOURS, 1.0 / HOURS)
        hourly = np.asarray(self.hourly, float)
        items = sorted(
            (_key(a, b), float(np.dot(w, np.asarray(f) / hourly)))
            for (a, b), f in self.cells.items()
        )
        object.__setattr__(self, "_keys", np.asarray([k for k, _ in items], np.int64))
        object.__setattr__(self, "_ratios", np.asarray([r for _, r in items], float))

    def cell_of(self, lat: float, lon: float) -> tuple[int, int]:
        """Grid cell of a point."""
        return math.floor(lat / self.cell_deg), math.floor(lon / self.cell_deg)

    def factor(self, lat: float, lon: float, hour: int) -> float:
        """Full-table factor for a leg through ``(lat, lon)`` departing at ``hour``."""
        row = self.cells.get(self.cell_of(lat, lon), self.hourly)
        return row[hour % HOURS]

    def profile(self) -> SpeedProfile:
        """The hourly factors as the evaluator's time-of-day profile (plan seconds are
        wall-clock seconds since local midnight, so hour ``h`` starts at ``h × 3600``)."""
        return SpeedProfile(tuple(h * 3600.0 for h in range(HOURS)), self.hourly)

    def area_ratio(self, points: FloatArray) -> FloatArray:
        """Per point, the cell's factor relative to the hour's, weighted over the hours
        (1 outside the cells seen)."""
        rows = np.floor(points[:, 0] / self.cell_deg).astype(np.int64)
        cols = np.floor(points[:, 1] / self.cell_deg).astype(np.int64)
        out = np.ones(len(rows))
        if len(self._keys) == 0:
            return out
        keys = _key(rows, cols)
        at = np.clip(np.searchsorted(self._keys, keys), 0, len(self._keys) - 1)
        hit = self._keys[at] == keys
        out[hit] = self._ratios[at[hit]]
        return out

    def relative(self) -> LearnedSpeeds:
        """The same shape with the driven hours' mean factor 1: for a base (OSRM) whose own
        durations already carry the level the straight-line factors were learned against."""
        w = np.asarray(self.hour_weight, float)
        mean = float(np.dot(w, self.hourly) / w.sum()) if w.sum() > 0 else 1.0
        return replace(
            self,
            hourly=tuple(f / mean for f in self.hourly),
            cells={k: tuple(f / mean for f in v) for k, v in self.cells.items()},
        )

    def to_json(self) -> str:
        """The file ``dispatcher eta learn`` writes."""
        return json.dumps(
            {
                "format": FORMAT,
                "zone": self.zone,
                "cell_deg": self.cell_deg,
                "hourly": list(self.hourly),
                "hour_weight": list(self.hour_weight),
                "legs": self.legs,
                "dropped": self.dropped,
                "cells": [[a, b, list(f)] for (a, b), f in sorted(self.cells.items())],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> LearnedSpeeds:
        """Read :meth:`to_json`; anything malformed is a :class:`ValidationError`."""
        try:
            raw = json.loads(text)
            if raw.get("format") != FORMAT:
                raise ValidationError("unknown ETA profile format")
            hourly = tuple(float(x) for x in raw["hourly"])
            cells = {(int(a), int(b)): tuple(float(x) for x in f) for a, b, f in raw["cells"]}
            out = cls(
                str(raw["zone"]),
                float(raw["cell_deg"]),
                hourly,
                cells,
                tuple(float(x) for x in raw.get("hour_weight", [1.0] * HOURS)),
                int(raw.get("legs", 0)),
                int(raw.get("dropped", 0)),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValidationError(f"the ETA profile is not readable: {exc}") from None
        rows = [out.hourly, out.hour_weight, *out.cells.values()]
        if any(len(r) != HOURS for r in rows) or not out.cell_deg > 0:
            raise ValidationError("the ETA profile needs 24 factors per row")
        if not all(
            math.isfinite(x) and x > 0 for r in [out.hourly, *out.cells.values()] for x in r
        ):
            raise ValidationError("the ETA profile has a factor that is not positive")
        ZoneInfo(out.zone)
        return out

    @classmethod
    def load(cls, path: Path) -> LearnedSpeeds:
        """Read a profile file (:class:`ValidationError` when missing or malformed)."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot read the ETA profile {path}: {exc}") from None
        return cls.from_json(text)


def _free_flow(
    starts: FloatArray, ends: FloatArray, speed_kmh: float, circuity: float
) -> FloatArray:
    """Straight-line free-flow seconds of each leg (row-wise haversine, vectorized)."""
    la1, la2 = np.radians(starts[:, 0]), np.radians(ends[:, 0])
    dlon = np.radians(ends[:, 1] - starts[:, 1])
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin(dlon / 2) ** 2
    d = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    out: FloatArray = d * circuity / (speed_kmh / 3.6)
    return out


def learn(
    legs: Iterable[Leg],
    zone: str,
    *,
    speed_kmh: float = 30.0,
    circuity: float = 1.3,
    cell_deg: float = 0.02,
    prior: float = 20.0,
) -> LearnedSpeeds:
    """Learn factors from observed legs against the straight-line free flow
    (``speed_kmh``, ``circuity``: the :class:`HaversineProvider` the factors will multiply).

    Each ratio observed / free-flow is attributed to the leg's departure hour in ``zone`` and
    the cell of its midpoint. Legs with a missing time zone, bad coordinates, a non-positive
    duration, less than 50 m or an absurd ratio are dropped and counted.
    """
    tz = ZoneInfo(zone)
    if not (cell_deg > 0 and prior >= 0 and speed_kmh > 0 and circuity > 0):
        raise ValidationError("cell size, speed and circuity must be positive")
    keep: list[tuple[int, float, float, float, float, float, float]] = []
    dropped = 0
    for leg in legs:
        ok = (
            isinstance(leg.depart, datetime)
            and leg.depart.tzinfo is not None
            and _valid(*leg.start)
            and _valid(*leg.end)
            and isinstance(leg.duration_s, int | float)
            and math.isfinite(leg.duration_s)
            and leg.duration_s > 0
        )
        if not ok:
            dropped += 1
            continue
        hour = leg.depart.astimezone(tz).hour
        keep.append((hour, *leg.start, *leg.end, float(leg.duration_s), 0.0))
    if not keep:
        return LearnedSpeeds(zone, cell_deg, (1.0,) * HOURS, legs=0, dropped=dropped)
    arr = np.asarray(keep, float)
    starts, ends = arr[:, 1:3], arr[:, 3:5]
    free = _free_flow(starts, ends, speed_kmh, circuity)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = arr[:, 5] / free
    good = (free * (speed_kmh / 3.6) / circuity >= 50.0) & (ratio >= 1 / MAX_RATIO)
    good &= ratio <= MAX_RATIO
    dropped += int((~good).sum())
    if not good.any():
        return LearnedSpeeds(zone, cell_deg, (1.0,) * HOURS, legs=0, dropped=dropped)
    hours = arr[good, 0].astype(np.int64)
    mid = (starts[good] + ends[good]) / 2
    rows = np.floor(mid[:, 0] / cell_deg).astype(np.int64)
    cols = np.floor(mid[:, 1] / cell_deg).astype(np.int64)
    r = np.log(ratio[good])
    n = len(r)
    g = r.sum() / (n + 1.0)
    a = _shrunk(hours, r - g, prior, HOURS)
    keys = [(int(x), int(y)) for x, y in zip(rows, cols, strict=True)]
    index = {k: i for i, k in enumerate(sorted(set(keys)))}
    ci = np.fromiter((index[k] for k in keys), np.int64, n)
    b = _shrunk(ci, r - g - a[hours], prior, len(index))
    inter = _shrunk(ci * HOURS + hours, r - g - a[hours] - b[ci], prior, len(index) * HOURS)
    hourly = tuple(float(x) for x in np.exp(g + a))
    cells = {
        k: tuple(float(x) for x in np.exp(g + a + b[i] + inter[i * HOURS : (i + 1) * HOURS]))
        for k, i in index.items()
    }
    weight = tuple(float(x) for x in np.bincount(hours, minlength=HOURS))
    return LearnedSpeeds(zone, cell_deg, hourly, cells, weight, n, dropped)


def _shrunk(group: np.ndarray, resid: FloatArray, prior: float, size: int) -> FloatArray:
    """Per group, sum of residuals / (count + prior): the mean pulled toward 0."""
    s = np.bincount(group, weights=resid, minlength=size)
    c = np.bincount(group, minlength=size)
    out: FloatArray = s / (c + prior) if prior > 0 else np.where(c > 0, s / np.maximum(c, 1), 0.0)
    return out


@dataclass(frozen=True, slots=True)
class LearnedProvider:
    """Any provider, with the learned factors applied (separable form, see the module)."""

    base: TravelTimeProvider
    speeds: LearnedSpeeds

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        tm = self.base.matrix(locations)
        arr = np.asarray(locations, dtype=np.float64).reshape(-1, 2)
        n = len(arr)
        if n == 0:
            return tm
        ts = np.linspace(0.0, 1.0, LEG_SAMPLES)
        pts = (
            arr[:, None, None, :] * (1 - ts)[None, None, :, None]
            + arr[None, :, None, :] * ts[None, None, :, None]
        )
        ratio = self.speeds.area_ratio(pts.reshape(-1, 2)).reshape(n, n, LEG_SAMPLES).mean(axis=2)
        # the source names who gave the distances; callers compare it ("osrm"), so it stays
        return TravelMatrix(tm.distance, tm.duration * ratio, self.speeds.profile(), tm.source)
