"""Travel matrices: straight-line providers, the speed profile and the matrix builder.

Time convention (shared with :mod:`dispatcher.planning`): a time is a float number of seconds
since the plan's origin, the local midnight of the planning day. ``t % 86400`` is therefore the
time of day, which is what the :class:`SpeedProfile` looks up.

A :class:`TravelMatrix` holds *free-flow* durations; the slowdown for the time of day is applied
per leg at its departure time by the evaluator (and as a mean factor by the optimizer, whose
matrices cannot depend on time). Keeping the two apart lets one matrix serve a whole day.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from dispatcher.errors import ValidationError
from dispatcher.geo import EARTH_RADIUS_M

FloatArray = npt.NDArray[np.float64]
Location = tuple[float, float]
"""``(lat, lon)`` in decimal degrees for geographic providers, ``(x, y)`` for Euclidean ones."""

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """Travel-time multiplier by time of day, piecewise constant.

    ``factors[i]`` applies from ``boundaries_s[i]`` (seconds after midnight) to the next
    boundary. A factor of 1.4 means a leg takes 40 % longer than free flow (rush hour).

    Args:
        boundaries_s: Start of each period, strictly increasing, the first one 0.
        factors: Positive multiplier of each period.
    """

    boundaries_s: tuple[float, ...] = (0.0,)
    factors: tuple[float, ...] = (1.0,)
    _bounds: FloatArray = field(init=False, repr=False, compare=False)
    _facts: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.boundaries_s) != len(self.factors) or not self.factors:
            raise ValidationError("a speed profile needs one factor per period")
        if self.boundaries_s[0] != 0.0:
            raise ValidationError("the first speed-profile period must start at midnight")
        if any(b2 <= b1 for b1, b2 in zip(self.boundaries_s, self.boundaries_s[1:], strict=False)):
            raise ValidationError("speed-profile periods must be in increasing order")
        if self.boundaries_s[-1] >= DAY_S:
            raise ValidationError("speed-profile periods must start within the day")
        if any(not (f > 0 and math.isfinite(f)) for f in self.factors):
            raise ValidationError("speed-profile factors must be positive")
        object.__setattr__(self, "_bounds", np.asarray(self.boundaries_s, dtype=np.float64))
        object.__setattr__(self, "_facts", np.asarray(self.factors, dtype=np.float64))

    @classmethod
    def flat(cls) -> SpeedProfile:
        """No time-of-day effect (Solomon instances, road engines with their own traffic)."""
        return cls()

    @classmethod
    def urban_rush_hours(cls, morning: float = 1.4, evening: float = 1.35) -> SpeedProfile:
        """A default city profile: slower 07:00-09:30 and 16:30-19:00 until calibrated."""
        h = 3600.0
        return cls((0.0, 7 * h, 9.5 * h, 16.5 * h, 19 * h), (1.0, morning, 1.0, evening, 1.0))

    @property
    def is_flat(self) -> bool:
        """True when every period has factor 1 (lets the evaluator skip the profile)."""
        return all(f == 1.0 for f in self.factors)

    def factor_at(self, t_s: FloatArray) -> FloatArray:
        """Multiplier for legs departing at the given plan times (vectorized)."""
        tod = np.mod(t_s, DAY_S)
        idx = np.searchsorted(self._bounds, tod, side="right") - 1
        return self._facts[idx]

    def factor_at_scalar(self, t_s: float) -> float:
        """Scalar :meth:`factor_at`, for reference code and single legs."""
        tod = t_s % DAY_S
        i = 0
        for k, b in enumerate(self.boundaries_s):
            if b <= tod:
                i = k
        return self.factors[i]

    def period_at(self, t_s: float) -> tuple[float, float]:
        """Factor at plan time ``t_s`` and the plan time at which the next period starts."""
        day0 = t_s - t_s % DAY_S
        tod = t_s - day0
        i = bisect.bisect_right(self.boundaries_s, tod) - 1
        nxt = self.boundaries_s[i + 1] if i + 1 < len(self.boundaries_s) else DAY_S
        return self.factors[i], day0 + nxt

    def mean_factor(self, start_s: float, end_s: float, samples: int = 97) -> float:
        """Time-averaged factor over ``[start_s, end_s]``: what the optimizer's matrix uses."""
        if end_s <= start_s:
            return self.factor_at_scalar(start_s)
        grid = np.linspace(start_s, end_s, samples)
        return float(np.mean(self.factor_at(grid)))


@dataclass(frozen=True, slots=True)
class TravelMatrix:
    """Distances and free-flow durations between locations, plus the speed profile to apply.

    Attributes:
        distance: ``(n, n)`` metres (or plane units for Euclidean instances).
        duration: ``(n, n)`` free-flow seconds (or time units).
        profile: Time-of-day slowdown; flat when the source already includes traffic.
        source: Which provider produced it (shown in the UI when a fallback was used).
    """

    distance: FloatArray
    duration: FloatArray
    profile: SpeedProfile = field(default_factory=SpeedProfile.flat)
    source: str = "unknown"

    def __post_init__(self) -> None:
        n = self.distance.shape[0]
        if self.distance.shape != (n, n) or self.duration.shape != (n, n):
            raise ValidationError("travel matrices must be square and of the same size")

    @property
    def size(self) -> int:
        """Number of locations."""
        return int(self.distance.shape[0])

    def scaled_int(self, which: str, scale: float, factor: float = 1.0) -> npt.NDArray[np.int64]:
        """Rounded integer matrix for OR-Tools (``which`` is ``"distance"`` or ``"duration"``)."""
        m = self.distance if which == "distance" else self.duration * factor
        return np.rint(m * scale).astype(np.int64)


@dataclass(frozen=True, slots=True)
class RoadPath:
    """The way a vehicle drives through some places, for the map and for distances.

    Attributes:
        points: ``(lat, lon)`` along the road, first and last at the first and last place
            (straight segments between the places when no road engine answered).
        distance_m: Length driven, metres.
        duration_s: Free-flow time, seconds.
        source: Who drew it (``osrm`` or ``straight``), so the map can say so.
    """

    points: tuple[Location, ...]
    distance_m: float
    duration_s: float
    source: str


def straight_path(points: Sequence[Location], speed_kmh: float = 30.0) -> RoadPath:
    """Straight segments through ``points``: the path when there is no road engine."""
    arr = _as_array(points)
    legs = [
        float(haversine_m(arr[i : i + 1], arr[i + 1 : i + 2])[0, 0]) for i in range(len(arr) - 1)
    ]
    dist = sum(legs)
    return RoadPath(
        tuple((float(a), float(b)) for a, b in arr), dist, dist / (speed_kmh / 3.6), "straight"
    )


class TravelTimeProvider(Protocol):
    """Anything that can produce a :class:`TravelMatrix` for a list of locations."""

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        """Return distances and free-flow durations between all pairs of ``locations``."""
        ...


@runtime_checkable
class LazyMatrixProvider(Protocol):
    """A provider that can also answer a matrix computed per entry when read, for days too
    large to hold every pair (a 500-vehicle day has 11,000 places: 1 GB per full matrix)."""

    def lazy_matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        """The same matrix as ``matrix``, with entries computed when indexed."""
        ...


def _as_array(locations: Sequence[Location]) -> FloatArray:
    arr = np.asarray(locations, dtype=np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(arr)):
        raise ValidationError("a location has a missing or non-numeric coordinate")
    return arr


def haversine_m(a: FloatArray, b: FloatArray) -> FloatArray:
    """Great-circle distances in metres between ``(lat, lon)`` rows of ``a`` and ``b``."""
    la1 = np.radians(a[:, 0])[:, None]
    la2 = np.radians(b[:, 0])[None, :]
    dlat = la2 - la1
    dlon = np.radians(b[:, 1])[None, :] - np.radians(a[:, 1])[:, None]
    h = np.sin(dlat / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin(dlon / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return out


@dataclass(frozen=True, slots=True)
class HaversineProvider:
    """Straight line x circuity at a free-flow speed: the offline default.

    Args:
        speed_kmh: Free-flow speed on the road network (before the time-of-day factor).
        circuity: Road distance / straight-line distance; ~1.3 in European cities.
        profile: Time-of-day slowdown applied by the evaluator.
    """

    speed_kmh: float = 30.0
    circuity: float = 1.3
    profile: SpeedProfile = field(default_factory=SpeedProfile.urban_rush_hours)

    def __post_init__(self) -> None:
        if not (self.speed_kmh > 0 and self.circuity >= 1.0):
            raise ValidationError("speed must be positive and circuity at least 1")

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        arr = _as_array(locations)
        if np.any(np.abs(arr[:, 0]) > 90) or np.any(np.abs(arr[:, 1]) > 180):
            raise ValidationError("a latitude/longitude is out of range")
        dist = haversine_m(arr, arr) * self.circuity
        return TravelMatrix(dist, dist / (self.speed_kmh / 3.6), self.profile, "haversine")

    def lazy_matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        """The same matrix as :meth:`matrix`, computed per entry when read
        (:class:`PairwiseHaversine`): for days too large to hold every pair."""
        arr = _as_array(locations)
        if np.any(np.abs(arr[:, 0]) > 90) or np.any(np.abs(arr[:, 1]) > 180):
            raise ValidationError("a latitude/longitude is out of range")
        dist = PairwiseHaversine(arr, self.circuity)
        duration = dist.scaled(1 / (self.speed_kmh / 3.6))
        # Duck-typed arrays: indexing is all the evaluator and the optimizer do with them.
        return TravelMatrix(
            cast(FloatArray, dist), cast(FloatArray, duration), self.profile, "haversine"
        )


class PairwiseHaversine:
    """An ``(n, n)`` matrix of great-circle metres x ``scale`` that computes only the entries
    it is asked for: ``m[rows, cols]`` with integers or integer arrays, broadcast as numpy's
    own fancy indexing does (``m[np.ix_(idx, idx)]`` gives the sub-matrix).

    Why: a day of 500 vehicles and 10,000 stops has ~11,000 places; its full matrix is
    121 million entries (~1 GB each for distance and duration, several GB while computed),
    rebuilt on the GUI thread at every live refresh. Evaluating the routes reads only their
    consecutive legs, a few per stop (bench/console.py).
    """

    __slots__ = ("_cos", "_lat", "_lon", "_scale", "shape")

    def __init__(self, locations: FloatArray, scale: float) -> None:
        rad = np.radians(locations)
        self._lat, self._lon = rad[:, 0], rad[:, 1]
        self._cos = np.cos(self._lat)
        self._scale = scale
        self.shape = (len(locations), len(locations))

    def scaled(self, factor: float) -> PairwiseHaversine:
        """The same places, every entry times ``factor`` (durations from distances)."""
        other = object.__new__(PairwiseHaversine)
        other._lat, other._lon, other._cos = self._lat, self._lon, self._cos
        other._scale, other.shape = self._scale * factor, self.shape
        return other

    def __getitem__(self, key: Any) -> Any:
        rows, cols = (np.asarray(k, dtype=np.int64) for k in key)
        dlat = self._lat[cols] - self._lat[rows]
        dlon = self._lon[cols] - self._lon[rows]
        h = np.sin(dlat / 2) ** 2 + self._cos[rows] * self._cos[cols] * np.sin(dlon / 2) ** 2
        out = 2 * EARTH_RADIUS_M * self._scale * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        return float(out) if out.ndim == 0 else out

    def __array__(self, dtype: Any = None, copy: Any = None) -> FloatArray:
        """The whole matrix, for code that needs it (a small plan's optimizer)."""
        idx = np.arange(self.shape[0])
        return np.asarray(self[np.ix_(idx, idx)], dtype=dtype)


@dataclass(frozen=True, slots=True)
class EuclideanProvider:
    """Plane coordinates, time = distance / speed (Solomon: speed 1, no profile)."""

    speed: float = 1.0
    profile: SpeedProfile = field(default_factory=SpeedProfile.flat)

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        arr = _as_array(locations)
        diff = arr[:, None, :] - arr[None, :, :]
        dist = np.sqrt(np.sum(diff * diff, axis=2))
        return TravelMatrix(dist, dist / self.speed, self.profile, "euclidean")


def build_matrix(provider: TravelTimeProvider, locations: Sequence[Location]) -> TravelMatrix:
    """Build the matrix both the evaluator and the optimizer use, checking what came back.

    Non-finite or negative entries (an engine answering "unreachable") are a
    :class:`ValidationError` rather than silently poisoning the solver.
    """
    if not locations:
        raise ValidationError("no locations to build a travel matrix for")
    tm = provider.matrix(locations)
    if tm.size != len(locations):
        raise ValidationError("travel provider returned a matrix of the wrong size")
    for m in (tm.distance, tm.duration):
        if not np.all(np.isfinite(m)) or np.any(m < 0):
            raise ValidationError("travel provider returned unreachable or negative entries")
    return tm
