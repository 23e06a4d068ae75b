"""One leg of a simulated drive on the roads: the engine's polyline and when each point is
reached, so a van slows where the engine says the streets are slow.

OSRM's route service gives, with ``annotations=duration``, the time of each piece of its
polyline; those are the free-flow times of the streets and leave out the turns and signals,
which the leg's total (``duration``) has. The pieces' times are scaled to that total, so the
van arrives when the engine says it would, and in between spends on each street its share.
Without them (another server, a fake) the leg is driven at one even speed.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from dispatcher.geo import haversine_m

Point = tuple[float, float]


def bearing(a: Point, b: Point) -> float:
    """Compass heading from ``a`` to ``b`` in degrees (0 = north, 90 = east)."""
    la1, la2 = math.radians(a[0]), math.radians(b[0])
    dl = math.radians(b[1] - a[1])
    x = math.sin(dl) * math.cos(la2)
    y = math.cos(la1) * math.sin(la2) - math.sin(la1) * math.cos(la2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


@dataclass(frozen=True, slots=True)
class RoadLeg:
    """The road between two places as the engine drives it: a polyline and its time.

    ``points`` begins and ends at the places themselves (the engine's path starts and ends
    where it snapped them to the street: the few metres between are driven too, at the leg's
    mean speed, so a vehicle never jumps to the kerb). ``duration_s`` is the engine's time
    for the leg; ``cum_s``, when the engine gave each piece's time, the instant (from the
    leg's start, in the engine's seconds) each point is reached.
    """

    points: tuple[Point, ...]
    cum_m: tuple[float, ...]
    duration_s: float
    cum_s: tuple[float, ...] | None = None

    @classmethod
    def through(
        cls,
        a: Point,
        b: Point,
        road: Sequence[Point],
        duration_s: float,
        piece_s: Sequence[float] | None = None,
    ) -> RoadLeg:
        """The leg from ``a`` along ``road`` to ``b``; ``piece_s`` the time of each of
        ``road``'s pieces (ignored unless there is one per piece, all finite and >= 0)."""
        timed = (
            piece_s is not None
            and len(piece_s) == len(road) - 1
            and all(math.isfinite(t) and t >= 0 for t in piece_s)
            and sum(piece_s) > 0
            and duration_s > 0
        )
        if not timed:
            points = [a]
            for p in (*road, b):
                if p != points[-1]:
                    points.append(p)
            if len(points) == 1:
                points.append(b)
            return cls(tuple(points), _cum_m(points), duration_s)
        assert piece_s is not None
        points = [a, *road, b]
        cum_m = _cum_m(points)
        road_m = cum_m[-2] - cum_m[1]
        mean = road_m / sum(piece_s) if road_m > 0 else 0.0  # m per engine second
        kerb_in, kerb_out = cum_m[1], cum_m[-1] - cum_m[-2]
        times = [kerb_in / mean if mean > 0 else 0.0, *piece_s]
        times.append(kerb_out / mean if mean > 0 else 0.0)
        scale = duration_s / sum(times)
        return cls(
            tuple(points),
            cum_m,
            duration_s,
            tuple(itertools.accumulate((t * scale for t in times), initial=0.0)),
        )

    @property
    def length_m(self) -> float:
        return self.cum_m[-1]

    def at(self, fraction: float) -> tuple[float, float, float, float]:
        """``(lat, lon, heading_deg, m_per_s)`` after ``fraction`` of the leg's time, the
        speed in the engine's time (at even speed without the pieces' times)."""
        f = min(1.0, max(0.0, fraction))
        mean = self.length_m / self.duration_s if self.duration_s > 0 else 0.0
        if self.cum_s is None:
            cum, at = self.cum_m, self.length_m * f
        else:
            cum, at = self.cum_s, self.duration_s * f
        i = min(max(bisect_right(cum, at) - 1, 0), len(self.points) - 2)
        p, q = self.points[i], self.points[i + 1]
        span = cum[i + 1] - cum[i]
        g = (at - cum[i]) / span if span > 0 else 1.0
        piece_m = self.cum_m[i + 1] - self.cum_m[i]
        speed = mean if self.cum_s is None or span <= 0 else piece_m / span
        heading = bearing(p, q) if p != q else 0.0
        return p[0] + (q[0] - p[0]) * g, p[1] + (q[1] - p[1]) * g, heading, speed


def _cum_m(points: Sequence[Point]) -> tuple[float, ...]:
    cum = [0.0]
    for p, q in itertools.pairwise(points):
        cum.append(cum[-1] + haversine_m(*p, *q))
    return tuple(cum)
