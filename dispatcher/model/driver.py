"""The driver app's value objects (issue 20), shared by storage, the service, web and UI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


class ActionRefused(Exception):
    """The action cannot be applied; ``reason`` is shown to the driver as it is."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DeviceView:
    id: str
    vehicle_id: str
    label: str
    secret_hash: str
    created_at: datetime
    created_by: str
    last_seen: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class SheetStop:
    order_ref: str
    sequence: int
    kind: str
    status: str
    address: str
    lat: float
    lon: float
    customer: str
    phone: str
    notes: str
    window_start: datetime | None
    window_end: datetime | None


@dataclass(frozen=True, slots=True)
class RunSheet:
    vehicle_id: str
    vehicle_name: str
    day: date
    stops: tuple[SheetStop, ...]
    #: Changes whenever anything the driver sees changes (order, place, status, notes).
    version: str


@dataclass(frozen=True, slots=True)
class PodInput:
    """What a POD adds to a delivered action (its files are already in the file store)."""

    recipient: str
    files: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    duplicate: bool
    stop_status: str
    distance_m: float | None = None
    far: bool = False


@dataclass(frozen=True, slots=True)
class PodView:
    event_id: str
    stop_ref: str
    vehicle_id: str
    recipient: str
    taken_at: datetime
    lat: float | None
    lon: float | None
    distance_m: float | None
    files: tuple[dict[str, Any], ...]
    #: When retention deleted the files (None: they are kept); the metadata stays.
    purged_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    vehicle_id: str
    stop_ref: str | None
    direction: str
    author: str
    body: str
    created_at: datetime
