"""OSRM ``table`` and ``route`` services, with a straight-line fallback.

A road engine is better than straight lines but it is a network dependency: when it is down,
slow or answers nonsense, planning must go on. Every failure falls back to the
:class:`~dispatcher.eta.travel.HaversineProvider` (logged, and visible as ``source``), and
unreachable pairs (``null`` in the answer) are filled from the fallback matrix.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dispatcher.eta.travel import (
    FloatArray,
    HaversineProvider,
    Location,
    RoadPath,
    SpeedProfile,
    TravelMatrix,
    TravelTimeProvider,
    straight_path,
)

log = logging.getLogger(__name__)

Fetch = Callable[[str, float], bytes]
"""``fetch(url, timeout_s) -> body``; injectable so tests need no server."""


def urllib_fetch(url: str, timeout_s: float) -> bytes:
    """GET ``url`` with the standard library: the default :data:`Fetch` of every OSRM client
    (the provider here and the routing layer's router), which tests replace with a fake."""
    req = urllib.request.Request(url, headers={"User-Agent": "dispatcher"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        body: bytes = resp.read()
        return body


@dataclass(frozen=True, slots=True)
class OsrmProvider:
    """Durations and distances from an OSRM server's table service.

    Args:
        base_url: e.g. ``http://localhost:5000``.
        profile: OSRM profile name in the URL (``driving``).
        timeout_s: Per-request timeout; a drag must never wait on a dead server for long.
        max_locations: Server's ``--max-table-size``; larger matrices are fetched in blocks.
        fallback: Provider used when the server fails.
        speed_profile: Time-of-day factor on top of OSRM's static speeds (flat by default).
        fetch: HTTP GET function (tests inject a fake).
    """

    base_url: str
    profile: str = "driving"
    timeout_s: float = 5.0
    max_locations: int = 100
    fallback: TravelTimeProvider = field(default_factory=HaversineProvider)
    speed_profile: SpeedProfile = field(default_factory=SpeedProfile.flat)
    fetch: Fetch = urllib_fetch

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        backup = self.fallback.matrix(locations)
        try:
            dist, dur = self._fetch_all(locations)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("OSRM table failed (%s); using %s", exc, backup.source)
            return TravelMatrix(backup.distance, backup.duration, backup.profile, backup.source)
        holes = ~(np.isfinite(dist) & np.isfinite(dur))
        if holes.any():
            log.warning("OSRM left %d pairs unreachable; filled from fallback", int(holes.sum()))
            dist[holes] = backup.distance[holes]
            dur[holes] = backup.duration[holes]
        return TravelMatrix(dist, dur, self.speed_profile, "osrm")

    def route(self, points: Sequence[Location]) -> RoadPath:
        """The road path through ``points`` in order (route service, full GeoJSON geometry).

        Fewer than two places, or any failure, gives straight segments (logged), so the map
        always has a line to draw.
        """
        if len(points) < 2:
            return straight_path(points)
        coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
        url = (
            f"{self.base_url.rstrip('/')}/route/v1/{self.profile}/{coords}"
            "?overview=full&geometries=geojson&steps=false"
        )
        try:
            body: Any = json.loads(self.fetch(url, self.timeout_s))
            if body.get("code") != "Ok":
                raise ValueError(f"OSRM answered {body.get('code')}: {body.get('message', '')}")
            best = body["routes"][0]
            line = tuple((float(lat), float(lon)) for lon, lat in best["geometry"]["coordinates"])
            if len(line) < 2:
                raise ValueError("OSRM route has no geometry")
            return RoadPath(line, float(best["distance"]), float(best["duration"]), "osrm")
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("OSRM route failed (%s); drawing straight lines", exc)
            return straight_path(points)

    def _fetch_all(self, locations: Sequence[Location]) -> tuple[FloatArray, FloatArray]:
        n = len(locations)
        dist = np.full((n, n), np.nan)
        dur = np.full((n, n), np.nan)
        half = max(1, self.max_locations // 2)
        blocks = [list(range(i, min(n, i + half))) for i in range(0, n, half)]
        for src in blocks:
            for dst in blocks:
                idx = src if src == dst else src + dst
                d, t = self._fetch_block(
                    [locations[i] for i in idx],
                    list(range(len(src))),
                    [idx.index(j) for j in dst],
                )
                dist[np.ix_(src, dst)] = d
                dur[np.ix_(src, dst)] = t
        return dist, dur

    def _fetch_block(
        self, locs: list[Location], sources: list[int], dests: list[int]
    ) -> tuple[FloatArray, FloatArray]:
        coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in locs)
        url = (
            f"{self.base_url.rstrip('/')}/table/v1/{self.profile}/{coords}"
            f"?annotations=duration,distance"
            f"&sources={';'.join(map(str, sources))}"
            f"&destinations={';'.join(map(str, dests))}"
        )
        body: Any = json.loads(self.fetch(url, self.timeout_s))
        if body.get("code") != "Ok":
            raise ValueError(f"OSRM answered {body.get('code')}: {body.get('message', '')}")
        shape = (len(sources), len(dests))
        return _grid(body["distances"], shape), _grid(body["durations"], shape)


def _grid(rows: Any, shape: tuple[int, int]) -> FloatArray:
    arr = np.array(
        [[np.nan if v is None else float(v) for v in row] for row in rows], dtype=np.float64
    )
    if arr.shape != shape:
        raise ValueError(f"OSRM table has shape {arr.shape}, expected {shape}")
    return arr
