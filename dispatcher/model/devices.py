"""What the device registry stores: its bounds, the quarantined messages, the devices heard.

The registry (:mod:`dispatcher.devices.registry`) fills these in memory on the MQTT thread;
the repository (:mod:`dispatcher.persistence.device_repo`) writes them; the telemetry settings
read the bounds from the ``[telemetry]`` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

MAX_KEY = 200
"""Longest device key kept (the binding table's column): longer keys are cut."""


@dataclass(frozen=True, slots=True)
class RegistryLimits:
    """How much the registry keeps; the ``[telemetry]`` settings map onto these.

    Attributes:
        max_unknown: unknown devices remembered in memory (least recently heard dropped).
        max_known: bound devices with a health line in memory (least recently heard dropped).
        quarantine_per_device: quarantined messages kept per device in the database.
        quarantine_total: quarantined messages kept in all (the oldest go first).
        excerpt_bytes: bytes of a rejected payload kept as its excerpt.
        pending_quarantine: rejected messages waiting for the next flush (oldest dropped).
        unknown_rows: unknown devices kept in the database (the least recently heard go).
    """

    max_unknown: int = 1000
    max_known: int = 50_000
    quarantine_per_device: int = 20
    quarantine_total: int = 5000
    excerpt_bytes: int = 512
    pending_quarantine: int = 2000
    unknown_rows: int = 1000


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    """One rejected message as stored: its device, reason, and a truncated payload excerpt."""

    device_key: str
    received_at: datetime
    topic: str
    reason: str
    detail: str
    excerpt: str
    payload_size: int


@dataclass(frozen=True, slots=True)
class DeviceSighting:
    """What changed about one device since the last flush (counts are increments)."""

    key: str
    format: str
    topic: str
    first_seen: datetime
    last_seen: datetime
    messages: int
    unknown: bool
    lat: float | None = None
    lon: float | None = None
    fix_ts: datetime | None = None
    accuracy_m: float | None = None
    battery_pct: float | None = None
    drift_s: float | None = None
    rejections: dict[str, int] = field(default_factory=dict)
