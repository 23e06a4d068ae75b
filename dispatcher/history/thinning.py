"""Thinning: store a fix only when it tells something new about where the vehicle went.

A vehicle reporting at 1 Hz sends 36,000 fixes a ten-hour day; most say "a few metres further
on the same street". :class:`PositionThinner` keeps a fix when the vehicle moved more than D
metres, turned more than H degrees or N seconds passed since the last *stored* fix, so tracks
keep their shape and stops keep a fix every N seconds (what proof of visit needs), at a
fraction of the rows. :class:`ThinningSink` applies it on the writer thread, just before the
SQL sink; delivery events always pass, and the first fix after an event is always stored so
the track shows where the event happened.

Late fixes (a device flushing its buffer after a tunnel) are older than the last stored fix;
they are thinned among themselves against a second anchor, so a replayed burst is kept in the
same shape without disturbing the live stream's anchor.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from dispatcher.geo import haversine_m
from dispatcher.history.settings import ThinningPolicy
from dispatcher.model.core import EventReport, PositionReport
from dispatcher.telemetry.sink import TelemetrySink


@dataclass(slots=True)
class _Anchor:
    """The last stored fix of one vehicle (in one of its two streams)."""

    ts: float
    lat: float
    lon: float
    heading: float | None


def heading_change_deg(a: float, b: float) -> float:
    """The smaller angle between two compass headings (0..180)."""
    diff = abs(a - b) % 360.0
    return 360.0 - diff if diff > 180.0 else diff


class PositionThinner:
    """Decides, fix by fix and per vehicle, whether a fix is stored. Not thread-safe."""

    def __init__(self, policy: ThinningPolicy) -> None:
        self.policy = policy
        self._live: dict[str, _Anchor] = {}
        self._late: dict[str, _Anchor] = {}
        self._forced: set[str] = set()
        self.seen = 0
        self.kept = 0

    def force_next(self, vehicle_id: str) -> None:
        """Store the next fix of ``vehicle_id`` whatever the rules say (after an event)."""
        self._forced.add(vehicle_id)

    def keep(self, p: PositionReport) -> bool:
        """Whether to store ``p``; a stored fix becomes the vehicle's new anchor."""
        self.seen += 1
        ts = p.ts.timestamp()
        vid = p.vehicle_id
        live = self._live.get(vid)
        if live is None or ts > live.ts or vid in self._forced:
            store = live is None or vid in self._forced or self._worth_storing(live, p, ts)
            if store:
                self._forced.discard(vid)
                if live is None or ts > live.ts:
                    self._live[vid] = _Anchor(ts, p.lat, p.lon, p.heading_deg)
        elif ts == live.ts and p.lat == live.lat and p.lon == live.lon:
            store = False  # a redelivered duplicate of the last stored fix
        else:  # a late fix: judged against the last stored late fix
            late = self._late.get(vid)
            store = late is None or ts < late.ts or self._worth_storing(late, p, ts)
            if store:
                self._late[vid] = _Anchor(ts, p.lat, p.lon, p.heading_deg)
        if store:
            self.kept += 1
        return store

    def _worth_storing(self, last: _Anchor, p: PositionReport, ts: float) -> bool:
        policy = self.policy
        if ts - last.ts >= policy.max_interval_s > 0:
            return True
        if ts == last.ts and p.lat == last.lat and p.lon == last.lon:
            return False  # an exact duplicate says nothing new
        moved = haversine_m(last.lat, last.lon, p.lat, p.lon)
        if moved >= policy.min_distance_m:
            return True
        return (
            policy.min_heading_deg > 0
            and moved >= policy.heading_min_move_m
            and p.heading_deg is not None
            and last.heading is not None
            and heading_change_deg(p.heading_deg, last.heading) >= policy.min_heading_deg
        )

    def thin(self, batch: Sequence[PositionReport]) -> list[PositionReport]:
        """The fixes of ``batch`` worth storing, in their order."""
        if self.policy.stores_everything:
            self.seen += len(batch)
            self.kept += len(batch)
            return list(batch)
        keep = self.keep
        return [p for p in batch if keep(p)]

    def forget(self, vehicle_id: str) -> None:
        """Drop a vehicle's anchors (its next fix is stored)."""
        self._live.pop(vehicle_id, None)
        self._late.pop(vehicle_id, None)

    def evict_silent(self, cut: float) -> int:
        """Forget vehicles whose last stored fix is older than ``cut`` (epoch seconds)."""
        silent = [vid for vid, anchor in self._live.items() if anchor.ts < cut]
        for vid in silent:
            self.forget(vid)
            self._forced.discard(vid)
        for vid in [vid for vid, anchor in self._late.items() if anchor.ts < cut]:
            del self._late[vid]
        return len(silent)

    def __len__(self) -> int:
        return len(self._live)


class ThinningSink:
    """A :class:`TelemetrySink` that thins positions before handing them to ``inner``.

    The batch writer calls it from one thread; a lock still guards the thinner so a second
    caller (a test, a bench) cannot corrupt the anchors. A batch the inner sink fails to
    write is not lost: the writer retries the whole batch (or its halves, when one record is
    refused), and the decision made for it is remembered until it commits, so a retry stores
    the same fixes and no anchor moves twice.
    """

    def __init__(self, inner: TelemetrySink, policy: ThinningPolicy) -> None:
        self.inner = inner
        self.thinner = PositionThinner(policy)
        self._lock = threading.Lock()
        self._pending: tuple[Sequence[PositionReport], list[PositionReport]] | None = None

    def evict_silent(self, cut: float) -> int:
        """Forget the anchors of vehicles silent since ``cut`` (epoch seconds)."""
        with self._lock:
            return self.thinner.evict_silent(cut)

    def write_positions(self, batch: Sequence[PositionReport]) -> None:
        with self._lock:
            kept = self._decided(batch)
            if kept is None:
                kept = self.thinner.thin(batch)
                self._pending = (batch, kept)
        if kept:
            self.inner.write_positions(kept)
        with self._lock:
            if self._pending is not None and self._pending[0] is batch:
                self._pending = None

    def _decided(self, batch: Sequence[PositionReport]) -> list[PositionReport] | None:
        """The fixes kept of ``batch`` if it is the failed batch again, or a part of it (the
        writer splits a batch the database refused, to set the bad record aside)."""
        pending = self._pending
        if pending is None:
            return None
        whole, kept = pending
        if whole is batch:
            return kept
        members = {id(p) for p in whole}  # ``whole`` holds them: no id is reused meanwhile
        if not all(id(p) in members for p in batch):
            return None
        chosen = {id(p) for p in kept}
        return [p for p in batch if id(p) in chosen]

    def write_events(self, batch: Sequence[EventReport]) -> None:
        self.inner.write_events(batch)
        with self._lock:
            for event in batch:
                self.thinner.force_next(event.vehicle_id)
