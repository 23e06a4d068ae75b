"""Which vehicle a foreign device speaks for.

OwnTracks phones, Traccar devices and Home Assistant trackers do not know our vehicle ids; a
dispatcher binds each device key (``"owntracks:alice/phone"``, ``"traccar:356938035643809"``)
to a vehicle. The table lives in the database (the persistence layer owns it); this is the
in-memory view the paho thread reads on every message. Unknown devices are never turned into
vehicles automatically: that is how a stray phone would end up on the live map.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from dispatcher.clock import Clock, SystemClock

log = logging.getLogger(__name__)

UnknownDeviceCallback = Callable[[str], None]


def device_key(source: str, ident: str) -> str:
    """The binding key of a device: adapter name and the device's own identifier."""
    return f"{source}:{ident}"


@dataclass(frozen=True, slots=True)
class UnknownDevice:
    """A device that spoke without a binding: what the dispatcher needs to bind it."""

    key: str
    first_seen: datetime
    last_seen: datetime
    messages: int


class DeviceBindings:
    """Thread-safe map device key → vehicle id, with a memory of unknown devices.

    Reads (``resolve``) happen on the paho thread at full message rate and take no lock:
    writers replace the whole dict, which is atomic. ``on_unknown`` and the warning are
    rate-limited per device (first sighting, then once per ``log_interval_s``), and run on the
    caller's thread, so a UI must marshal the callback to its own thread.

    Args:
        bindings: initial table.
        on_unknown: called with the device key of an unbound device (rate-limited).
        clock: for the rate limit and the unknown-device list.
        log_interval_s: minimum seconds between two log lines / callbacks for one device.
        passthrough: resolve every device to its own key (``dispatcher decode`` preview).
        max_unknown: how many unknown devices to remember (oldest forgotten first).
        known_vehicles: vehicle ids whose native topics are accepted as they are (the
            vehicles table); ``None`` accepts every well-formed id (tests, previews).
        max_warnings_per_min: log lines about unbound devices per minute in all; a flood of
            made-up ids gives one summary line instead of one line per id.
    """

    def __init__(
        self,
        bindings: Mapping[str, str] | None = None,
        *,
        on_unknown: UnknownDeviceCallback | None = None,
        clock: Clock | None = None,
        log_interval_s: float = 300.0,
        passthrough: bool = False,
        max_unknown: int = 1000,
        known_vehicles: frozenset[str] | set[str] | None = None,
        max_warnings_per_min: int = 20,
    ) -> None:
        self._table: dict[str, str] = dict(bindings or {})
        #: Read on the MQTT thread without a lock: replaced whole, never mutated.
        self.known_vehicles: frozenset[str] | None = (
            None if known_vehicles is None else frozenset(known_vehicles)
        )
        self._max_warnings = max_warnings_per_min
        self._warn_window = float("-inf")
        self._warned_in_window = 0
        self._on_unknown = on_unknown
        self._clock: Clock = clock or SystemClock()
        self._interval = log_interval_s
        self._passthrough = passthrough
        self._max_unknown = max_unknown
        self._lock = threading.Lock()
        self._unknown: OrderedDict[str, UnknownDevice] = OrderedDict()
        self._last_warned: dict[str, float] = {}

    @property
    def passthrough(self) -> bool:
        """True when every device resolves to its own key (preview mode)."""
        return self._passthrough

    def resolve(self, key: str) -> str | None:
        """The vehicle bound to ``key``, or ``None`` (and a rate-limited notice)."""
        vehicle = self._table.get(key)
        if vehicle is not None:
            return vehicle
        if self._passthrough:
            return key
        self._note_unknown(key)
        return None

    def bind(self, key: str, vehicle_id: str) -> None:
        """Bind a device to a vehicle (replacing any previous binding of that device)."""
        with self._lock:
            table = dict(self._table)
            table[key] = vehicle_id
            self._table = table
            self._unknown.pop(key, None)

    def unbind(self, key: str) -> None:
        """Forget a device's binding; its messages are rejected as unknown again."""
        with self._lock:
            table = dict(self._table)
            table.pop(key, None)
            self._table = table

    def replace(
        self, bindings: Mapping[str, str], known_vehicles: set[str] | frozenset[str] | None = None
    ) -> None:
        """Swap the whole table at once (after the persistence layer reloaded it).

        ``known_vehicles`` (the vehicles table) replaces the set of native ids accepted as
        they are; ``None`` leaves it as it was.
        """
        with self._lock:
            self._table = dict(bindings)
            if known_vehicles is not None:
                self.known_vehicles = frozenset(known_vehicles)
            for key in bindings:
                self._unknown.pop(key, None)

    def unknown_devices(self) -> list[UnknownDevice]:
        """Devices heard without a binding, oldest first: the "bind a device" list."""
        with self._lock:
            return list(self._unknown.values())

    def _log_budget(self, mono: float) -> tuple[bool, int]:
        """(log this one, how many were kept quiet in the last window). Caller holds the lock."""
        summary = 0
        if mono - self._warn_window >= 60.0:
            summary = max(0, self._warned_in_window - self._max_warnings)
            self._warn_window, self._warned_in_window = mono, 0
        self._warned_in_window += 1
        return self._warned_in_window <= self._max_warnings, summary

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, key: object) -> bool:
        return key in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._table))

    def note_unknown(self, key: str) -> None:
        """Count a message from an unbound device (the native adapter's unknown ids)."""
        self._note_unknown(key)

    def _note_unknown(self, key: str) -> None:
        now = self._clock.now()
        mono = self._clock.monotonic()
        with self._lock:
            seen = self._unknown.pop(key, None)
            if seen is None:
                seen = UnknownDevice(key, now, now, 1)
            else:
                seen = UnknownDevice(key, seen.first_seen, now, seen.messages + 1)
            self._unknown[key] = seen
            while len(self._unknown) > self._max_unknown:
                old, _ = self._unknown.popitem(last=False)
                self._last_warned.pop(old, None)
            last = self._last_warned.get(key)
            due = last is None or mono - last >= self._interval
            if due:
                self._last_warned[key] = mono
            loud, summary = self._log_budget(mono) if due else (False, 0)
        if summary:
            log.warning("%d more unbound devices were heard in the last minute", summary)
        if loud:
            log.warning("message from unbound device %s ignored (bind it to a vehicle)", key)
        # Every time, not only when the warning is due: a device bound a minute after it
        # first spoke must be taken from its next message on (the refresher coalesces).
        if self._on_unknown is not None:
            try:
                self._on_unknown(key)
            except Exception:
                log.exception("unknown-device callback failed for %s", key)
