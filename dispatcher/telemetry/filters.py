"""Filters in the spirit of Traccar's: what a good fix looks like, and what we do with others.

Stateless checks (:meth:`Policy.check`) look at one report against the receive time:
timestamps too far in the future or the past, poor accuracy, absurd reported speed.
:class:`PositionFilter` remembers each vehicle's last accepted fix to catch duplicates,
implied-speed jumps and out-of-order fixes. Out-of-order fixes are *accepted* (they belong in
the history) but flagged, because the live position only moves forward in time.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.geo import haversine_m
from dispatcher.model.core import EventReport, PositionReport, StatusReport
from dispatcher.telemetry.rejection import Rejection, RejectReason


@dataclass(frozen=True, slots=True)
class FilterConfig:
    """Thresholds of the ingest filters; the config layer maps its keys onto these fields.

    Attributes:
        max_payload_bytes: larger payloads are rejected before parsing.
        max_future_s: a fix this far ahead of the receive time is a broken device clock.
        max_age_s: a fix older than this is rejected (phones replay buffered fixes; a day or
            two of backlog is still history worth storing).
        coarse_accuracy_m: fixes with a worse horizontal accuracy are kept but marked
            coarse (``None``: never); they show where the phone roughly is, and are kept
            out of ETA and deviation rules.
        max_accuracy_m: fixes with a worse horizontal accuracy are rejected (``None``, the
            default: keep them all as coarse).
        max_reported_speed_kmh: a reported speed above this is a broken sensor.
        max_implied_speed_kmh: moving faster than this between two fixes is a jump.
        min_jump_distance_m: shorter hops are GPS jitter, never jumps (tiny dt inflates speed).
        jump_confirmations: consecutive mutually consistent "jumped" fixes after which the new
            place is believed (the vehicle really is there: tunnel, ferry, GPS cold start).
        duplicate_memory: how many recent timestamps per vehicle identify a duplicate.
        quarantine_size: rejected messages kept for inspection.
        quarantine_payload_bytes: raw bytes kept per quarantined message.
        evict_after_s: a vehicle's filter memory is forgotten after this long without an
            accepted fix (bounded memory; its next fix starts a new track).
    """

    max_payload_bytes: int = 16_384
    max_future_s: float = 300.0
    max_age_s: float = 48 * 3600.0
    coarse_accuracy_m: float | None = 500.0
    max_accuracy_m: float | None = None
    max_reported_speed_kmh: float = 400.0
    max_implied_speed_kmh: float = 250.0
    min_jump_distance_m: float = 250.0
    jump_confirmations: int = 3
    duplicate_memory: int = 8
    quarantine_size: int = 500
    quarantine_payload_bytes: int = 2048
    evict_after_s: float = 6 * 3600.0


Report = PositionReport | EventReport | StatusReport


class Policy:
    """Stateless checks of one report against its receive time and the thresholds.

    Status reports are exempt from the time checks: a retained "online" is as old as the
    device's connection, and a last will is stamped with its receive time anyway.
    """

    __slots__ = ("_coarse", "_max_accuracy", "_max_age", "_max_future", "_max_speed")

    def __init__(self, cfg: FilterConfig) -> None:
        self._max_future = timedelta(seconds=cfg.max_future_s)
        self._max_age = timedelta(seconds=cfg.max_age_s)
        self._max_accuracy = cfg.max_accuracy_m
        self._coarse = cfg.coarse_accuracy_m
        self._max_speed = cfg.max_reported_speed_kmh

    def check(self, report: Report, received_at: datetime) -> Rejection | None:
        """``None`` when the report passes, else the first broken rule.

        A fix less accurate than ``coarse_accuracy_m`` passes, marked ``coarse``.
        """
        if type(report) is StatusReport:
            return None
        ts = report.ts
        if ts - received_at > self._max_future:
            ahead = (ts - received_at).total_seconds()
            return Rejection(
                RejectReason.IN_FUTURE,
                f"timestamp {ts.isoformat()} is {ahead:.0f} s ahead of the console: "
                "set the device's clock (network time) or its time zone",
            )
        if received_at - ts > self._max_age:
            hours = (received_at - ts).total_seconds() / 3600
            return Rejection(
                RejectReason.TOO_OLD,
                f"timestamp {ts.isoformat()} is {hours:.0f} h old (limit max_age_s): a replayed "
                "buffer, or a device clock that is wrong",
            )
        if type(report) is PositionReport:
            acc = report.accuracy_m
            if acc is not None:
                if self._max_accuracy is not None and acc > self._max_accuracy:
                    return Rejection(
                        RejectReason.POOR_ACCURACY,
                        f"accuracy {acc:.0f} m, worse than max_accuracy_m "
                        f"{self._max_accuracy:.0f} m: the device has no GPS fix",
                    )
                if self._coarse is not None and acc > self._coarse:
                    report.coarse = True
            speed = report.speed_kmh
            if speed is not None and speed > self._max_speed:
                return Rejection(
                    RejectReason.OUT_OF_RANGE,
                    f"reported speed {speed:.0f} km/h: a broken sensor, or the device's speed "
                    "unit is not its profile's (km/h, m/s, knots)",
                )
        return None


class _Track:
    """Per-vehicle memory of the filter: last accepted fix, recent stamps, jump candidate."""

    __slots__ = ("cand", "lat", "lon", "recent", "streak", "ts")

    def __init__(self, ts: float, lat: float, lon: float, memory: int) -> None:
        self.ts = ts
        self.lat = lat
        self.lon = lon
        self.recent: deque[float] = deque((ts,), maxlen=memory)
        self.cand: tuple[float, float, float] | None = None
        self.streak = 0


class PositionFilter:
    """Stateful duplicate / out-of-order / jump filter, one track per vehicle.

    Not thread-safe on purpose: it runs on the single paho network thread.
    """

    def __init__(self, cfg: FilterConfig) -> None:
        self._cfg = cfg
        self._tracks: dict[str, _Track] = {}

    def check(self, report: PositionReport) -> tuple[Rejection | None, bool]:
        """Return ``(rejection, out_of_order)`` for ``report`` and remember it if accepted."""
        t = report.ts.timestamp()
        track = self._tracks.get(report.vehicle_id)
        if track is None:
            self._tracks[report.vehicle_id] = _Track(
                t, report.lat, report.lon, self._cfg.duplicate_memory
            )
            return None, False
        if t in track.recent:
            return Rejection(RejectReason.DUPLICATE, "same timestamp already received"), False
        if t < track.ts:
            track.recent.append(t)
            return None, True
        fix = (t, report.lat, report.lon)
        jump = self._implied_jump((track.ts, track.lat, track.lon), fix)
        if jump is not None and not self._confirmed(track, fix):
            return Rejection(RejectReason.JUMP, jump), False
        track.ts, track.lat, track.lon = t, report.lat, report.lon
        track.recent.append(t)
        track.cand = None
        track.streak = 0
        return None, False

    def forget(self, vehicle_id: str) -> None:
        """Drop a vehicle's memory (e.g. after it was unbound)."""
        self._tracks.pop(vehicle_id, None)

    def evict_silent(self, now: float) -> int:
        """Forget vehicles whose last accepted fix is older than ``evict_after_s`` before
        ``now`` (epoch seconds); returns how many. Walks every track: call it rarely."""
        cut = now - self._cfg.evict_after_s
        silent = [vid for vid, track in self._tracks.items() if track.ts < cut]
        for vid in silent:
            del self._tracks[vid]
        return len(silent)

    def __len__(self) -> int:
        return len(self._tracks)

    def _implied_jump(
        self, a: tuple[float, float, float], b: tuple[float, float, float]
    ) -> str | None:
        """Describe the jump from fix ``a`` to fix ``b`` (``(t, lat, lon)``), or ``None``."""
        t0, lat0, lon0 = a
        t1, lat1, lon1 = b
        # Cheap bound first (a degree is at most ~111.2 km in either axis): most fixes are a
        # few metres apart and need no trigonometry.
        near = self._cfg.min_jump_distance_m / (111_195.0 * 1.5)
        if abs(lat1 - lat0) <= near and abs(lon1 - lon0) <= near:
            return None
        distance = haversine_m(lat0, lon0, lat1, lon1)
        if distance <= self._cfg.min_jump_distance_m:
            return None
        dt = t1 - t0
        speed = math.inf if dt <= 0 else distance / dt * 3.6
        if speed <= self._cfg.max_implied_speed_kmh:
            return None
        return f"{distance:.0f} m in {dt:.0f} s implies {speed:.0f} km/h"

    def _confirmed(self, track: _Track, fix: tuple[float, float, float]) -> bool:
        cand = track.cand
        consistent = cand is not None and self._implied_jump(cand, fix) is None
        track.streak = track.streak + 1 if consistent else 1
        track.cand = fix
        return track.streak >= self._cfg.jump_confirmations


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """One rejected message as the dispatcher can inspect it (raw bytes capped)."""

    received_at: datetime
    topic: str
    reason: RejectReason
    detail: str
    payload: bytes
    payload_size: int


class Quarantine:
    """Bounded, thread-safe store of rejected messages plus per-reason counters.

    Written from the paho thread, read from the GUI thread; the counters are never reset by
    the bound, so "how many (0,0) fixes today" stays true after the entries rolled over.
    """

    def __init__(self, capacity: int = 500, payload_cap: int = 2048, topic_cap: int = 256) -> None:
        self._entries: deque[QuarantineEntry] = deque(maxlen=capacity)
        self._counts: Counter[RejectReason] = Counter()
        self._payload_cap = payload_cap
        self._topic_cap = topic_cap
        self._lock = threading.Lock()

    def add(self, topic: str, payload: bytes, rejection: Rejection, received_at: datetime) -> None:
        """Count the rejection and keep a capped copy of the message."""
        entry = QuarantineEntry(
            received_at=received_at,
            topic=topic[: self._topic_cap],
            reason=rejection.reason,
            detail=rejection.detail[:300],
            payload=bytes(payload[: self._payload_cap]),
            payload_size=len(payload),
        )
        with self._lock:
            self._entries.append(entry)
            self._counts[rejection.reason] += 1

    def entries(self) -> list[QuarantineEntry]:
        """The kept entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def counts(self) -> dict[RejectReason, int]:
        """Rejections per reason since start (or the last :meth:`clear`)."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        """All rejections counted, including those rolled out of the bounded store."""
        with self._lock:
            return sum(self._counts.values())

    def clear(self) -> None:
        """Forget entries and counters (the dispatcher's "clear quarantine")."""
        with self._lock:
            self._entries.clear()
            self._counts.clear()
