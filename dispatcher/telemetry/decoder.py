"""From topic and bytes to an accepted report or a counted, quarantined rejection.

:class:`Decoder` is what the paho thread calls for every message: size check, the adapter
that owns the topic, stateless policy checks, then the stateful position filter. It is also
what ``dispatcher decode`` runs on one payload (:func:`run_decode`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TextIO

from dispatcher.clock import Clock, SystemClock
from dispatcher.fleet.health import coarse_note
from dispatcher.model.core import PositionReport
from dispatcher.telemetry.adapters import (
    Adapter,
    HomeAssistantAdapter,
    NativeAdapter,
    OwnTracksAdapter,
    Report,
    TraccarAdapter,
)
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.filters import FilterConfig, Policy, PositionFilter, Quarantine
from dispatcher.telemetry.profiles import ProfileBook
from dispatcher.telemetry.rejection import Rejection, RejectReason
from dispatcher.telemetry.settings import TelemetrySettings


class DeviceLog(Protocol):
    """Where the decoder counts unbound devices and each device's rejections.

    :class:`~dispatcher.devices.registry.DeviceRegistry` is the one in use; telemetry names
    only what it calls, since the devices room is built on telemetry (docs/architecture.md).
    """

    def unknown(
        self,
        key: str,
        fmt: str,
        topic: str,
        received_at: datetime,
        report: PositionReport | None = None,
    ) -> None: ...

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
    ) -> None: ...


EXIT_OK = 0
SWEEP_EVERY = timedelta(seconds=60)
"""How often the position filter looks for silent vehicles to forget."""
EXIT_REJECTED = 2


@dataclass(slots=True)
class Accepted:
    """A report the console uses; ``out_of_order`` ones go to history, not the live map.

    Read-only by convention (not frozen: it is created for every message, and a frozen
    dataclass costs twice as much to build).
    """

    report: Report
    adapter: str
    out_of_order: bool = False


def default_adapters(
    bindings: DeviceBindings,
    *,
    prefix: str = "fleet",
    telemetry: TelemetrySettings | None = None,
    profiles: ProfileBook | None = None,
) -> list[Adapter]:
    """The adapters the console ships with, native first (it carries most traffic).

    Topics and per-format profiles come from ``telemetry`` (the ``[telemetry]`` section;
    stock device defaults without one). ``profiles`` carries the per-device profiles; a
    fresh book with ``telemetry``'s format defaults is made when none is given.
    """
    telemetry = telemetry or TelemetrySettings()
    if profiles is None:
        profiles = ProfileBook(telemetry.profiles)
    # Traccar's exact topics before the root-based formats, so a forward topic set under
    # another format's root still reaches Traccar.
    return [
        NativeAdapter(prefix, bindings),
        TraccarAdapter(
            bindings, telemetry.traccar_topics, telemetry.traccar_event_topics, profiles
        ),
        OwnTracksAdapter(bindings, telemetry.owntracks_root, profiles),
        HomeAssistantAdapter(bindings, telemetry.homeassistant_root, profiles),
    ]


class Decoder:
    """Adapters + filters + quarantine. Call :meth:`decode` from one thread only.

    Args:
        adapters: tried in order; the first that accepts the topic parses the message.
        config: filter thresholds.
        clock: stamps receive times when the caller gives none.
        quarantine: where rejections are counted and kept (a fresh one by default).
        stateful: ``False`` skips duplicate/jump/out-of-order memory (one-shot decoding).
        registry: where unknown devices, rejections per device and their health are
            counted (the console and the recorder); ``None`` keeps only the quarantine.
        preview: the same adapters with every device resolving to its own key: they read
            what an unbound device said (its position for the unknown-devices list).
        bindings: tells bound devices from unbound ones when a message is rejected for
            another reason (an unbound device then still joins the unknown list only).
    """

    def __init__(
        self,
        adapters: Sequence[Adapter],
        *,
        config: FilterConfig | None = None,
        clock: Clock | None = None,
        quarantine: Quarantine | None = None,
        stateful: bool = True,
        registry: DeviceLog | None = None,
        preview: Sequence[Adapter] = (),
        bindings: DeviceBindings | None = None,
    ) -> None:
        self._adapters = list(adapters)
        self.registry = registry
        self._bindings = bindings
        self._preview = {a.name: a for a in preview}
        self.config = config or FilterConfig()
        self._clock: Clock = clock or SystemClock()
        self.quarantine = quarantine or Quarantine(
            self.config.quarantine_size, self.config.quarantine_payload_bytes
        )
        self._policy = Policy(self.config)
        self._max_payload = self.config.max_payload_bytes
        self._filter = PositionFilter(self.config) if stateful else None
        self._read = ", ".join(topic for topic, _ in self.subscriptions())
        self._next_sweep = datetime.min.replace(tzinfo=UTC)
        self.accepted = 0

    @property
    def position_filter(self) -> PositionFilter | None:
        """The stateful filter (its size is what bounded-memory tests look at)."""
        return self._filter

    @property
    def adapters(self) -> list[Adapter]:
        """The adapters in matching order."""
        return list(self._adapters)

    def subscriptions(self) -> list[tuple[str, int]]:
        """Every ``(topic filter, qos)`` the adapters need, for the MQTT client."""
        subs: list[tuple[str, int]] = []
        for adapter in self._adapters:
            spec = getattr(adapter, "subscriptions", None)
            if spec is not None:
                subs.extend(spec())
        return subs

    def decode(
        self, topic: str, payload: bytes, received_at: datetime | None = None
    ) -> Accepted | Rejection:
        """Normalize and filter one message; rejections are counted and quarantined."""
        result = self.decode_fast(topic, payload, received_at or self._clock.now())
        if isinstance(result, Rejection):
            return result
        report, adapter, out_of_order = result
        return Accepted(report, adapter, out_of_order)

    def decode_fast(
        self, topic: str, payload: bytes, received_at: datetime
    ) -> tuple[Report, str, bool] | Rejection:
        """:meth:`decode` answering ``(report, adapter name, out_of_order)``.

        The ingest path's entry point: a plain tuple instead of an :class:`Accepted` saves an
        object per message.
        """
        result = self._decode(topic, payload, received_at)
        if type(result) is Rejection:
            self.quarantine.add(topic, payload, result, received_at)
            if self.registry is not None:
                self._register(topic, payload, result, received_at)
        else:
            self.accepted += 1
            if not self.accepted & 0x3FF and received_at >= self._next_sweep:
                self._sweep(received_at)  # looked at once every 1,024 accepted messages
        return result

    def _sweep(self, now: datetime) -> None:
        """Forget the filter memory of vehicles silent for ``evict_after_s`` (paho thread)."""
        self._next_sweep = now + SWEEP_EVERY
        if self._filter is not None:
            self._filter.evict_silent(now.timestamp())

    def _register(
        self, topic: str, payload: bytes, rejection: Rejection, received_at: datetime
    ) -> None:
        """Count a rejection on its device; an unbound device also joins the unknown list."""
        registry = self.registry
        assert registry is not None
        adapter = next((a for a in self._adapters if a.accepts(topic)), None)
        if adapter is None:
            registry.rejected(None, "", topic, payload, rejection, received_at)
            return
        key_of = getattr(adapter, "device_key", None)
        key: str | None = key_of(topic, payload) if key_of is not None else None
        unbound = rejection.reason is RejectReason.UNKNOWN_DEVICE
        if unbound:
            seen = self._preview_report(adapter.name, topic, payload, received_at)
            if seen is not None and adapter.name != "native":
                key = seen.vehicle_id  # the preview resolves a device to its own key
            if key is not None:
                registry.unknown(key, adapter.name, topic, received_at, seen)
        elif key is not None and not self._is_bound(key):
            unbound = True  # e.g. broken JSON from a phone nobody bound: still unknown only
            registry.unknown(key, adapter.name, topic, received_at)
        registry.rejected(
            key, adapter.name, topic, payload, rejection, received_at, bound=not unbound
        )

    def _is_bound(self, key: str) -> bool:
        """Whether ``key`` speaks for a vehicle (a bound device, a vehicle's native id)."""
        bindings = self._bindings
        if bindings is None or bindings.passthrough or key in bindings:
            return True
        fmt, _, ident = key.partition(":")
        known = bindings.known_vehicles
        return fmt == "native" and (known is None or ident in known)

    def _preview_report(
        self, name: str, topic: str, payload: bytes, received_at: datetime
    ) -> PositionReport | None:
        preview = self._preview.get(name)
        if preview is None:
            return None
        report = preview.parse(topic, payload, received_at)
        return report if type(report) is PositionReport else None

    def _decode(
        self, topic: str, payload: bytes, now: datetime
    ) -> tuple[Report, str, bool] | Rejection:
        if len(payload) > self._max_payload:
            return Rejection(RejectReason.OVERSIZED, f"{len(payload)} bytes")
        for adapter in self._adapters:
            if adapter.accepts(topic):
                break
        else:
            return Rejection(
                RejectReason.UNKNOWN_TOPIC,
                f"no device format reads {topic[:120]!r}; the console reads {self._read} "
                "(topics are set in [telemetry] and [broker] prefix)",
            )
        report = adapter.parse(topic, payload, now)
        if isinstance(report, Rejection):
            return report
        rejection = self._policy.check(report, now)
        if rejection is not None:
            return rejection
        if self._filter is not None and type(report) is PositionReport:
            rejection, out_of_order = self._filter.check(report)
            if rejection is not None:
                return rejection
            return report, adapter.name, out_of_order
        return report, adapter.name, False


def build_decoder(
    *,
    prefix: str = "fleet",
    bindings: DeviceBindings | None = None,
    config: FilterConfig | None = None,
    clock: Clock | None = None,
    stateful: bool = True,
    telemetry: TelemetrySettings | None = None,
    profiles: ProfileBook | None = None,
    registry: DeviceLog | None = None,
) -> Decoder:
    """A decoder with the default adapters (bindings default to an empty table).

    ``config`` defaults to ``telemetry``'s filter limits. With a ``registry``, unbound devices
    are read once more through preview adapters so the unknown-devices list can show where
    they are.
    """
    clock = clock or SystemClock()
    bindings = bindings if bindings is not None else DeviceBindings(clock=clock)
    telemetry = telemetry or TelemetrySettings()
    adapters = default_adapters(bindings, prefix=prefix, telemetry=telemetry, profiles=profiles)
    preview: list[Adapter] = []
    if registry is not None:
        passthrough = DeviceBindings(clock=clock, passthrough=True)
        preview = default_adapters(
            passthrough, prefix=prefix, telemetry=telemetry, profiles=profiles
        )
        preview[0] = NativeAdapter(prefix, id_cache=0)  # unknown ids never repeat: no cache
    return Decoder(
        adapters,
        config=config or telemetry.filters,
        clock=clock,
        stateful=stateful,
        registry=registry,
        preview=preview,
        bindings=bindings,
    )


def report_to_dict(report: Report) -> dict[str, Any]:
    """A JSON-ready dict of any report (datetimes as ISO 8601, enums as their value)."""
    out: dict[str, Any] = {"type": type(report).__name__}
    for field in fields(report):
        value = getattr(report, field.name)
        out[field.name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def decode(
    topic: str,
    payload: bytes,
    *,
    prefix: str = "fleet",
    bindings: DeviceBindings | None = None,
    config: FilterConfig | None = None,
    clock: Clock | None = None,
    telemetry: TelemetrySettings | None = None,
    profiles: ProfileBook | None = None,
) -> dict[str, Any]:
    """What the console makes of one message, as a JSON-ready dict.

    Without ``bindings`` every device resolves to its own key (``"owntracks:alice/phone"``),
    so a payload can be checked before the device is bound.
    """
    clock = clock or SystemClock()
    if bindings is None:
        bindings = DeviceBindings(clock=clock, passthrough=True)
    decoder = build_decoder(
        prefix=prefix,
        bindings=bindings,
        config=config,
        clock=clock,
        stateful=False,
        telemetry=telemetry,
        profiles=profiles,
    )
    result = decoder.decode(topic, payload)
    if isinstance(result, Rejection):
        return {"accepted": False, "reason": result.reason.value, "detail": result.detail}
    out = {
        "accepted": True,
        "adapter": result.adapter,
        "binding": "preview (device key as vehicle id)" if bindings.passthrough else "table",
        "report": report_to_dict(result.report),
    }
    report = result.report
    if type(report) is PositionReport and report.coarse:
        out["note"] = coarse_note(report.accuracy_m, report.tracking_mode)
    return out


def run_decode(topic: str, payload: bytes, out: TextIO, **options: Any) -> int:
    """``dispatcher decode --topic TOPIC``: print the decoded JSON; exit 2 when rejected.

    ``options`` are passed to :func:`decode` (``prefix``, ``bindings``, ``config``, ``clock``,
    ``telemetry``, ``profiles``).
    """
    result = decode(topic, payload, **options)
    json.dump(result, out, indent=2, sort_keys=True, default=str)
    out.write("\n")
    return EXIT_OK if result["accepted"] else EXIT_REJECTED
