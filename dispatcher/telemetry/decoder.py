"""From topic and bytes to an accepted report or a counted, quarantined rejection.

:class:`Decoder` is what the paho thread calls for every message: size check, the adapter
that owns the topic, stateless policy checks, then the stateful position filter. It is also
what ``dispatcher decode`` runs on one payload (:func:`run_decode`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TextIO

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

EXIT_OK = 0
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
        NativeAdapter(prefix),
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
    """

    def __init__(
        self,
        adapters: Sequence[Adapter],
        *,
        config: FilterConfig | None = None,
        clock: Clock | None = None,
        quarantine: Quarantine | None = None,
        stateful: bool = True,
    ) -> None:
        self._adapters = list(adapters)
        self.config = config or FilterConfig()
        self._clock: Clock = clock or SystemClock()
        self.quarantine = quarantine or Quarantine(
            self.config.quarantine_size, self.config.quarantine_payload_bytes
        )
        self._policy = Policy(self.config)
        self._max_payload = self.config.max_payload_bytes
        self._filter = PositionFilter(self.config) if stateful else None
        self._read = ", ".join(topic for topic, _ in self.subscriptions())
        self.accepted = 0

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
        else:
            self.accepted += 1
        return result

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
) -> Decoder:
    """A decoder with the default adapters (bindings default to an empty table).

    ``config`` defaults to ``telemetry``'s filter limits.
    """
    clock = clock or SystemClock()
    bindings = bindings if bindings is not None else DeviceBindings(clock=clock)
    telemetry = telemetry or TelemetrySettings()
    adapters = default_adapters(bindings, prefix=prefix, telemetry=telemetry, profiles=profiles)
    config = config or telemetry.filters
    return Decoder(adapters, config=config, clock=clock, stateful=stateful)


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
