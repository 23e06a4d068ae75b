"""The SQL side of devices: sightings and health, the quarantine, binding and unbinding.

Sightings arrive in batches from the device registry's flusher (one transaction every few
seconds, never per message). Counts in a batch are increments and are added to the stored
ones; positions, accuracy, battery and drift are the newest values. Both tables are bounded:
the quarantine keeps the newest ``per_device`` messages of each device and ``total`` in all,
the unknown devices the ``unknown_rows`` most recently heard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from dispatcher.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from dispatcher.model.alerts import Role
from dispatcher.model.devices import MAX_KEY, DeviceSighting, QuarantinedMessage, RegistryLimits
from dispatcher.persistence import device_profile_repo
from dispatcher.persistence.alert_repo import user_for_os_account
from dispatcher.persistence.orm import (
    AuditEntry,
    DeviceBinding,
    DeviceSeenRow,
    QuarantineRow,
    Vehicle,
)

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class DeviceView:
    """One device as the Devices dock and ``dispatcher devices list`` show it."""

    device_key: str
    format: str
    topic: str
    first_seen: datetime | None
    last_seen: datetime | None
    messages: int
    unknown: bool
    vehicle_id: str | None
    lat: float | None
    lon: float | None
    fix_ts: datetime | None
    accuracy_m: float | None
    battery_pct: float | None
    drift_s: float | None
    rejections: dict[str, int]
    #: Its own profile (``battery``, ``speed``, ``volts_empty``, ``volts_full``), or None: it
    #: reads as its format's default (docs/mqtt.md, device profiles).
    profile: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 UTC)."""
        return _as_dict(self, self.__slots__)


@dataclass(frozen=True, slots=True)
class QuarantineView:
    """One quarantined message as stored."""

    id: int
    device_key: str
    received_at: datetime
    topic: str
    reason: str
    detail: str
    excerpt: str
    payload_size: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 UTC)."""
        return _as_dict(self, self.__slots__)


def _as_dict(obj: object, names: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


# -- the flusher's batch -------------------------------------------------------------------
def flush(
    session: Session,
    sightings: Sequence[DeviceSighting],
    messages: Sequence[QuarantinedMessage],
    limits: RegistryLimits | None = None,
) -> None:
    """Store one batch from the registry and keep both tables within their bounds."""
    limits = limits or RegistryLimits()
    _upsert(session, sightings)
    if messages:
        session.execute(
            QuarantineRow.__table__.insert(),  # type: ignore[attr-defined]  # SA: FromClause, a Table
            [
                {
                    "device_key": m.device_key,
                    "received_at": m.received_at,
                    "topic": m.topic,
                    "reason": m.reason,
                    "detail": m.detail,
                    "excerpt": m.excerpt,
                    "payload_size": m.payload_size,
                }
                for m in messages
            ],
        )
        _prune_quarantine(session, limits.quarantine_per_device, limits.quarantine_total)
    if sightings:
        bound = select(DeviceBinding.device_key)
        session.execute(
            update(DeviceSeenRow)
            .where(DeviceSeenRow.unknown.is_(True), DeviceSeenRow.device_key.in_(bound))
            .values(unknown=False)
        )
        _prune_unknown(session, limits.unknown_rows)


def _upsert(session: Session, sightings: Sequence[DeviceSighting]) -> None:
    by_key = {s.key: s for s in sightings}
    keys = list(by_key)
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        rows = {
            r.device_key: r
            for r in session.scalars(
                select(DeviceSeenRow).where(DeviceSeenRow.device_key.in_(chunk))
            )
        }
        for key in chunk:
            s = by_key[key]
            row = rows.get(key)
            if row is None:
                row = DeviceSeenRow(
                    device_key=key,
                    format=s.format[:16],
                    topic=s.topic,
                    first_seen=s.first_seen,
                    last_seen=s.last_seen,
                    messages=0,
                    rejections={},
                )
                session.add(row)
            _merge(row, s)
    session.flush()


def _merge(row: DeviceSeenRow, s: DeviceSighting) -> None:
    row.format = s.format[:16] or row.format
    row.topic = s.topic or row.topic
    row.first_seen = min(row.first_seen, s.first_seen)
    row.last_seen = max(row.last_seen, s.last_seen)
    row.messages = (row.messages or 0) + s.messages
    row.unknown = s.unknown
    if s.fix_ts is not None and (row.fix_ts is None or s.fix_ts >= row.fix_ts):
        row.lat, row.lon, row.fix_ts = s.lat, s.lon, s.fix_ts
        row.drift_s = s.drift_s
    if s.accuracy_m is not None:
        row.accuracy_m = s.accuracy_m
    if s.battery_pct is not None:
        row.battery_pct = s.battery_pct
    if s.rejections:
        counts = dict(row.rejections or {})
        for reason, n in s.rejections.items():
            counts[reason] = int(counts.get(reason, 0)) + n
        row.rejections = counts  # a new dict: JSON columns do not track in-place changes


def _prune_quarantine(session: Session, per_device: int, total: int) -> None:
    ranked = select(
        QuarantineRow.id,
        func.row_number()
        .over(partition_by=QuarantineRow.device_key, order_by=QuarantineRow.id.desc())
        .label("rn"),
    ).subquery()
    session.execute(
        delete(QuarantineRow).where(
            QuarantineRow.id.in_(select(ranked.c.id).where(ranked.c.rn > per_device))
        )
    )
    cutoff = session.scalar(
        select(QuarantineRow.id).order_by(QuarantineRow.id.desc()).offset(total).limit(1)
    )
    if cutoff is not None:
        session.execute(delete(QuarantineRow).where(QuarantineRow.id <= cutoff))


def _prune_unknown(session: Session, keep: int) -> None:
    cutoff = session.scalar(
        select(DeviceSeenRow.last_seen)
        .where(DeviceSeenRow.unknown.is_(True))
        .order_by(DeviceSeenRow.last_seen.desc())
        .offset(keep)
        .limit(1)
    )
    if cutoff is not None:
        session.execute(
            delete(DeviceSeenRow).where(
                DeviceSeenRow.unknown.is_(True), DeviceSeenRow.last_seen <= cutoff
            )
        )


# -- reading -------------------------------------------------------------------------------
def list_devices(session: Session, *, unbound_only: bool = False) -> list[DeviceView]:
    """Every device seen (and every binding, even before its device spoke), newest first."""
    bindings = {b.device_key: b.vehicle_id for b in session.scalars(select(DeviceBinding))}
    profiles = device_profile_repo.device_profiles(session)
    query = select(DeviceSeenRow).order_by(DeviceSeenRow.last_seen.desc())
    if unbound_only:
        query = query.where(DeviceSeenRow.unknown.is_(True))
    views = [
        _view(r, bindings.get(r.device_key), profiles.get(r.device_key))
        for r in session.scalars(query)
    ]
    if unbound_only:
        return [v for v in views if v.vehicle_id is None]
    seen = {v.device_key for v in views}
    for key, vehicle in sorted(bindings.items()):
        if key not in seen:
            views.append(_empty_view(key, vehicle, profiles.get(key)))
    return views


def get_device(session: Session, device_key: str) -> DeviceView | None:
    """One device's line (``None`` if it never spoke and is not bound)."""
    row = session.get(DeviceSeenRow, device_key)
    binding = session.get(DeviceBinding, device_key)
    vehicle = binding.vehicle_id if binding is not None else None
    profile = device_profile_repo.device_profile(session, device_key)
    if row is None:
        return None if vehicle is None else _empty_view(device_key, vehicle, profile)
    return _view(row, vehicle, profile)


def quarantine(
    session: Session, device_key: str | None = None, *, limit: int = 200
) -> list[QuarantineView]:
    """Quarantined messages, newest first (of one device, or of all)."""
    query = select(QuarantineRow).order_by(QuarantineRow.id.desc()).limit(limit)
    if device_key is not None:
        query = query.where(QuarantineRow.device_key == device_key)
    return [
        QuarantineView(
            r.id,
            r.device_key,
            r.received_at,
            r.topic,
            r.reason,
            r.detail,
            r.excerpt,
            r.payload_size,
        )
        for r in session.scalars(query)
    ]


def known_vehicle_ids(session: Session) -> set[str]:
    """Vehicles whose native topics are accepted: every vehicle in the table."""
    return set(session.scalars(select(Vehicle.id)))


def _view(r: DeviceSeenRow, vehicle: str | None, profile: dict[str, Any] | None) -> DeviceView:
    return DeviceView(
        r.device_key,
        r.format,
        r.topic,
        r.first_seen,
        r.last_seen,
        int(r.messages or 0),
        bool(r.unknown) and vehicle is None,
        vehicle,
        r.lat,
        r.lon,
        r.fix_ts,
        r.accuracy_m,
        r.battery_pct,
        r.drift_s,
        {str(k): int(v) for k, v in (r.rejections or {}).items()},
        profile,
    )


def _empty_view(key: str, vehicle: str, profile: dict[str, Any] | None) -> DeviceView:
    fmt = key.partition(":")[0]
    return DeviceView(
        key, fmt, "", None, None, 0, False, vehicle, None, None, None, None, None, None, {}, profile
    )


# -- binding -------------------------------------------------------------------------------
def check_key(device_key: str) -> str:
    """A device key fit to be bound, or :class:`ValidationError` saying why not."""
    key = device_key.strip()
    if not key:
        raise ValidationError("the device key is empty")
    if len(key) > MAX_KEY:
        raise ValidationError(f"the device key is longer than {MAX_KEY} characters")
    if "\x00" in key or not key.isprintable():
        raise ValidationError("the device key contains control characters")
    fmt, sep, ident = key.partition(":")
    if not sep or not fmt or not ident:
        raise ValidationError(
            f"{key!r} is not a device key (expected <format>:<device>, e.g. owntracks:anna/phone)"
        )
    return key


def bind(session: Session, device_key: str, vehicle_id: str, *, actor: str) -> bool:
    """Bind ``device_key`` to ``vehicle_id``; False when it already was (nothing changed).

    Refused, with the reason, when the key is malformed (:class:`ValidationError`), the
    vehicle does not exist (:class:`NotFoundError`) or the device is bound to another
    vehicle (:class:`ConflictError`: unbind it first, so a phone never silently changes van),
    and :class:`PermissionDenied` for a viewer.
    """
    _may_bind(session, actor)
    key = check_key(device_key)
    vehicle = session.get(Vehicle, vehicle_id) if vehicle_id and len(vehicle_id) <= 40 else None
    if vehicle is None:
        raise NotFoundError(f"there is no vehicle {vehicle_id[:60]!r}")
    current = session.get(DeviceBinding, key, with_for_update=True)
    if current is not None:
        if current.vehicle_id == vehicle.id:
            return False
        raise ConflictError(
            f"{key} is already bound to {current.vehicle_id}; unbind it first "
            f"(dispatcher devices unbind {key})"
        )
    session.add(DeviceBinding(device_key=key, vehicle_id=vehicle.id))
    session.execute(
        update(DeviceSeenRow).where(DeviceSeenRow.device_key == key).values(unknown=False)
    )
    _audit(session, actor, "device.bind", key, None, {"vehicle_id": vehicle.id})
    session.flush()
    return True


def unbind(session: Session, device_key: str, *, actor: str) -> str:
    """Remove a binding; returns the vehicle it was bound to (NotFoundError if none)."""
    _may_bind(session, actor)
    key = device_key.strip()
    current = session.get(DeviceBinding, key) if 0 < len(key) <= MAX_KEY else None
    if current is None:
        raise NotFoundError(f"{key[:MAX_KEY]!r} is not bound to a vehicle")
    vehicle = current.vehicle_id
    session.delete(current)
    _audit(session, actor, "device.unbind", key, {"vehicle_id": vehicle}, None)
    session.flush()
    return vehicle


def set_profile(
    session: Session, device_key: str, values: dict[str, Any] | None, *, actor: str
) -> bool:
    """Store (``None``: forget) a device's own profile, audited; False when it was so already.

    Who may: whoever may bind devices (a viewer is refused). The values are validated by the
    telemetry room (:mod:`dispatcher.telemetry.profile_store`) before they get here.
    """
    _may_bind(session, actor)
    key = check_key(device_key)
    before = device_profile_repo.device_profile(session, key)
    if before == values:
        return False
    if values is None:
        device_profile_repo.delete_device_profile(session, key)
    else:
        device_profile_repo.put_device_profile(session, key, values)
    _audit(session, actor, "device.profile", key, before, values)
    session.flush()
    return True


def _may_bind(session: Session, actor: str) -> None:
    """Dispatchers and supervisors bind devices; a viewer only looks."""
    user = user_for_os_account(session, actor)
    if user.role is Role.VIEWER:
        raise PermissionDenied(f"{user.id} has a viewer role and cannot bind or unbind devices")


def _audit(
    session: Session,
    actor: str,
    action: str,
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor[:80],
            action=action,
            entity="device",
            entity_id=key[:120],
            before=before,
            after=after,
        )
    )
