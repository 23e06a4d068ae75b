"""The device registry: every device that spoke, in bounded memory, flushed to the database.

Three kinds of traffic reach it, none on the accepted-message hot path:

* a message from a device that is not bound (or a native vehicle id that is neither bound nor
  in the vehicles table): counted in the **unknown devices** list with its topic, format and
  last position, so a dispatcher can bind it. That list is an LRU of ``max_unknown`` entries:
  a flood of made-up ids costs a fixed amount of memory, never live state;
* a rejected message of any device: kept in the **quarantine** (reason, detail, a truncated
  excerpt of the payload) and counted per reason on the device's health line;
* accepted fixes, once per writer batch and device (the newest one): the health line's clock
  drift, accuracy, battery and last seen.

A :class:`RegistryFlusher` thread moves what changed to the database every few seconds in one
transaction (``dispatcher.persistence.device_repo``), so the database work never runs on the
MQTT thread, the GUI thread or inside the ingest drain.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from dispatcher.model.core import PositionReport
from dispatcher.model.devices import MAX_KEY, DeviceSighting, QuarantinedMessage, RegistryLimits
from dispatcher.telemetry.rejection import Rejection, RejectReason

log = logging.getLogger(__name__)

MAX_TOPIC = 256
MAX_DETAIL = 300
NO_DEVICE = ""
"""Device key of a rejected message no device can be named for (unknown topic, bad JSON...)."""


class _Device:
    """Mutable in-memory record; counts are since the last flush."""

    __slots__ = (
        "accuracy",
        "battery",
        "drift",
        "first_seen",
        "fix_ts",
        "format",
        "key",
        "last_seen",
        "lat",
        "lon",
        "messages",
        "rejections",
        "topic",
        "unknown",
    )

    def __init__(self, key: str, fmt: str, topic: str, now: datetime, unknown: bool) -> None:
        self.key = key
        self.format = fmt
        self.topic = topic
        self.first_seen = self.last_seen = now
        self.messages = 0
        self.unknown = unknown
        self.lat: float | None = None
        self.lon: float | None = None
        self.fix_ts: datetime | None = None
        self.accuracy: float | None = None
        self.battery: float | None = None
        self.drift: float | None = None
        self.rejections: Counter[str] = Counter()

    def take_fix(self, report: PositionReport, received_at: datetime) -> None:
        self.lat, self.lon, self.fix_ts = report.lat, report.lon, report.ts
        if report.accuracy_m is not None:
            self.accuracy = report.accuracy_m
        if report.battery_pct is not None:
            self.battery = report.battery_pct
        self.drift = (received_at - report.ts).total_seconds()

    def sighting(self) -> DeviceSighting:
        return DeviceSighting(
            self.key,
            self.format,
            self.topic,
            self.first_seen,
            self.last_seen,
            self.messages,
            self.unknown,
            self.lat,
            self.lon,
            self.fix_ts,
            self.accuracy,
            self.battery,
            self.drift,
            dict(self.rejections),
        )


def excerpt(payload: bytes, limit: int) -> str:
    """The first ``limit`` bytes as text safe for any column: invalid UTF-8 and NUL escaped.

    PostgreSQL refuses NUL characters in text; SQLite would keep them and then surprise
    whoever reads the row. ``backslashreplace`` keeps the bytes visible for a person.
    """
    text = bytes(payload[:limit]).decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00")


def clean_key(key: str) -> str:
    """A device key as stored: at most :data:`MAX_KEY` characters, NUL escaped."""
    return key.replace("\x00", "\\x00")[:MAX_KEY]


class DeviceRegistry:
    """Bounded, thread-safe memory of devices, quarantine and health, waiting to be flushed.

    Written from the MQTT thread (unknown devices and rejections) and the telemetry writer
    (accepted fixes); read by the flusher and the UI. Every structure has a cap, so the
    memory it takes does not grow with the number of distinct ids a broker lets through.
    """

    def __init__(self, limits: RegistryLimits | None = None) -> None:
        self.limits = limits or RegistryLimits()
        self._lock = threading.Lock()
        self._unknown: OrderedDict[str, _Device] = OrderedDict()
        self._known: OrderedDict[str, _Device] = OrderedDict()
        self._dirty: set[str] = set()
        self._quarantine: deque[QuarantinedMessage] = deque(maxlen=self.limits.pending_quarantine)
        self.unknown_evicted = 0

    # -- writers --------------------------------------------------------------------------
    def unknown(
        self,
        key: str,
        fmt: str,
        topic: str,
        received_at: datetime,
        report: PositionReport | None = None,
    ) -> None:
        """A message from an unbound device (``report``: what it said, read without binding)."""
        key = clean_key(key)
        with self._lock:
            device = self._unknown.pop(key, None)
            if device is None:
                device = _Device(key, fmt, topic[:MAX_TOPIC], received_at, True)
                self._known.pop(key, None)
            self._unknown[key] = device
            while len(self._unknown) > self.limits.max_unknown:
                old, _ = self._unknown.popitem(last=False)
                self._dirty.discard(old)
                self.unknown_evicted += 1
            device.topic = topic[:MAX_TOPIC]
            device.last_seen = received_at
            device.messages += 1
            if report is not None:
                device.take_fix(report, received_at)
            self._dirty.add(key)

    def rejected(
        self,
        key: str | None,
        fmt: str,
        topic: str,
        payload: bytes,
        rejection: Rejection,
        received_at: datetime,
        *,
        bound: bool | None = None,
    ) -> None:
        """Quarantine one rejected message and count it on its device's health line.

        ``bound`` False: the device has no binding (it is on the unknown list, where
        :meth:`unknown` put it); by default only an ``unknown_device`` rejection says so.
        """
        key = NO_DEVICE if key is None else clean_key(key)
        message = QuarantinedMessage(
            key,
            received_at,
            topic[:MAX_TOPIC],
            rejection.reason.value,
            rejection.detail[:MAX_DETAIL],
            excerpt(payload, self.limits.excerpt_bytes),
            len(payload),
        )
        with self._lock:
            self._quarantine.append(message)
            if key == NO_DEVICE:
                return
            if bound is None:
                bound = rejection.reason is not RejectReason.UNKNOWN_DEVICE
            unknown = not bound
            device = (
                self._unknown.get(key)
                if unknown
                else self._touch_known(key, fmt, topic, received_at)
            )
            if device is None:
                return
            device.rejections[rejection.reason.value] += 1
            if not unknown:
                device.last_seen = received_at
                device.messages += 1
            self._dirty.add(key)

    def accepted(
        self, reports: Iterable[tuple[str, PositionReport, int]], received_at: datetime
    ) -> None:
        """The newest accepted fix of each device in a writer batch, and how many it sent:
        ``(key, report, count)``."""
        with self._lock:
            for raw_key, report, count in reports:
                key = clean_key(raw_key)
                device = self._touch_known(key, report.source, "", received_at)
                device.last_seen = received_at
                device.messages += count
                device.take_fix(report, received_at)
                self._dirty.add(key)

    def forget(self, key: str) -> None:
        """Drop a device from the unknown list (it was just bound) and its pending update."""
        key = clean_key(key)
        with self._lock:
            self._unknown.pop(key, None)
            self._dirty.discard(key)

    # -- readers --------------------------------------------------------------------------
    def unknown_devices(self) -> list[DeviceSighting]:
        """Unbound devices heard by this process, least recently heard first."""
        with self._lock:
            return [d.sighting() for d in self._unknown.values()]

    def sizes(self) -> dict[str, int]:
        """How many entries each structure holds (tests assert the caps with this)."""
        with self._lock:
            return {
                "unknown": len(self._unknown),
                "known": len(self._known),
                "dirty": len(self._dirty),
                "quarantine": len(self._quarantine),
            }

    def take_pending(self) -> tuple[list[DeviceSighting], list[QuarantinedMessage]]:
        """What changed since the last call: sightings and quarantined messages.

        Counts restart from zero after this, so a flush adds them up in the database.
        """
        with self._lock:
            sightings = []
            for key in self._dirty:
                device = self._unknown.get(key) or self._known.get(key)
                if device is None:
                    continue
                sightings.append(device.sighting())
                device.messages = 0
                device.rejections.clear()
            self._dirty.clear()
            messages = list(self._quarantine)
            self._quarantine.clear()
        return sightings, messages

    def requeue(
        self, sightings: Sequence[DeviceSighting], messages: Sequence[QuarantinedMessage]
    ) -> None:
        """Put back what a failed flush could not write (counts added to what came since)."""
        with self._lock:
            for s in sightings:
                device = self._unknown.get(s.key) or self._known.get(s.key)
                if device is None:
                    continue
                device.messages += s.messages
                device.rejections.update(s.rejections)
                self._dirty.add(s.key)
            for m in reversed(messages):
                if len(self._quarantine) < (self._quarantine.maxlen or 0):
                    self._quarantine.appendleft(m)

    # -- internals ------------------------------------------------------------------------
    def _touch_known(self, key: str, fmt: str, topic: str, now: datetime) -> _Device:
        device = self._known.pop(key, None)
        if device is None:
            device = self._unknown.pop(key, None)  # it was just bound: keep what we know
            if device is None:
                device = _Device(key, fmt, topic[:MAX_TOPIC], now, False)
            device.unknown = False
        self._known[key] = device
        while len(self._known) > self.limits.max_known:
            old, _ = self._known.popitem(last=False)
            self._dirty.discard(old)
        if topic:
            device.topic = topic[:MAX_TOPIC]
        return device


def report_device_key(report: PositionReport) -> str:
    """The device key of an accepted fix: ``<format>:<device>`` (native: the vehicle id)."""
    if report.source == "native" or not report.device_id:
        return f"{report.source}:{report.vehicle_id}"
    return f"{report.source}:{report.device_id}"


Flush = Callable[[list[DeviceSighting], list[QuarantinedMessage]], None]


class RegistryFlusher:
    """Moves the registry's changes to the database every ``interval_s`` in its own thread.

    ``flush`` is one transaction (``device_repo.flush``); when it fails (database away) the
    changes are put back and tried again next time, so a restart of PostgreSQL loses none.
    """

    def __init__(self, registry: DeviceRegistry, flush: Flush, interval_s: float = 2.0) -> None:
        self._registry = registry
        self._flush = flush
        self._interval = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushes = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="device-registry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Flush once more, then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def flush_now(self) -> bool:
        """Write what is pending on the caller's thread (tests, shutdown); True if it worked."""
        sightings, messages = self._registry.take_pending()
        if not sightings and not messages:
            return True
        try:
            self._flush(sightings, messages)
        except Exception as exc:
            log.warning("could not store device sightings (%s); retrying later", exc)
            self._registry.requeue(sightings, messages)
            return False
        self.flushes += 1
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self.flush_now()
        self.flush_now()
