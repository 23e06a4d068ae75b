"""The driver app's storage: paired phones, run sheets, actions with their POD, messages.

:func:`store_action` is the driver app's side of the exactly-once event storage of
:mod:`dispatcher.persistence.telemetry_repo`: the same ``INSERT ... ON CONFLICT (event_id)
DO NOTHING`` and the same move of the stop, in **one transaction** with the route check and
the proof-of-delivery row, so an action is either wholly stored or not at all, and a
replayed one (same idempotency key) changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatcher.clock import system_now
from dispatcher.geo import haversine_m
from dispatcher.model.core import DeliveryEventKind, EventReport, StopStatus
from dispatcher.model.driver import (
    ActionOutcome,
    ActionRefused,
    DeviceView,
    MessageView,
    PodInput,
    PodView,
    RunSheet,
    SheetStop,
)
from dispatcher.persistence.orm import (
    AuditEntry,
    Customer,
    DeviceBinding,
    DeviceCredential,
    DriverAppDevice,
    DriverMessage,
    PodRecord,
    Route,
    Stop,
    Vehicle,
    VehicleEventRow,
)
from dispatcher.persistence.telemetry_repo import _apply_to_stop, _insert_ignore

# -- paired phones ----------------------------------------------------------------------------


def _device_view(row: DriverAppDevice) -> DeviceView:
    return DeviceView(
        row.id,
        row.vehicle_id,
        row.label,
        row.secret_hash,
        row.created_at,
        row.created_by,
        row.last_seen,
        row.revoked_at,
    )


def add_device(
    session: Session, device_id: str, vehicle_id: str, label: str, secret_hash: str, actor: str
) -> None:
    if session.get(Vehicle, vehicle_id) is None:
        raise ActionRefused("unknown_vehicle", f"vehicle {vehicle_id} does not exist")
    session.add(
        DriverAppDevice(
            id=device_id,
            vehicle_id=vehicle_id,
            label=label,
            secret_hash=secret_hash,
            created_by=actor,
        )
    )
    _audit(session, actor, "driver_app.pair", device_id, None, {"vehicle": vehicle_id})


def revoke_device(session: Session, device_id: str, actor: str) -> bool:
    row = session.get(DriverAppDevice, device_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at, row.revoked_by = system_now(), actor
    _audit(session, actor, "driver_app.revoke", device_id, {"vehicle": row.vehicle_id}, None)
    return True


def get_device(session: Session, device_id: str) -> DeviceView | None:
    row = session.get(DriverAppDevice, device_id)
    return None if row is None else _device_view(row)


def touch_device(session: Session, device_id: str, now: datetime) -> None:
    session.execute(
        update(DriverAppDevice).where(DriverAppDevice.id == device_id).values(last_seen=now)
    )


def devices_of(session: Session, vehicle_id: str | None = None) -> list[DeviceView]:
    query = select(DriverAppDevice).order_by(DriverAppDevice.created_at)
    if vehicle_id is not None:
        query = query.where(DriverAppDevice.vehicle_id == vehicle_id)
    return [_device_view(row) for row in session.scalars(query)]


# -- run sheet --------------------------------------------------------------------------------


def run_sheet(session: Session, vehicle_id: str, day: date) -> RunSheet:
    vehicle = session.get(Vehicle, vehicle_id)
    route = session.scalar(
        select(Route).where(Route.vehicle_id == vehicle_id, Route.service_date == day)
    )
    stops: list[SheetStop] = []
    if route is not None:
        rows = session.execute(
            select(Stop, Customer)
            .outerjoin(Customer, Customer.id == Stop.customer_id)
            .where(Stop.route_id == route.id)
            .order_by(Stop.sequence, Stop.id)
        )
        for n, (stop, customer) in enumerate(rows, start=1):
            stops.append(
                SheetStop(
                    stop.order_ref,
                    n,
                    stop.kind,
                    stop.status,
                    stop.address,
                    stop.lat,
                    stop.lon,
                    customer.name if customer else "",
                    customer.phone if customer else "",
                    stop.notes,
                    stop.window_start,
                    stop.window_end,
                )
            )
    fingerprint = json.dumps([[str(getattr(s, f)) for f in s.__slots__] for s in stops]).encode()
    version = hashlib.sha256(fingerprint).hexdigest()[:16]
    name = vehicle.name if vehicle is not None else vehicle_id
    return RunSheet(vehicle_id, name, day, tuple(stops), version)


# -- actions ----------------------------------------------------------------------------------


def store_action(
    session: Session,
    event: EventReport,
    pod: PodInput | None,
    *,
    max_pod_distance_m: float,
    received_at: datetime,
    required: Mapping[str, frozenset[str]] | None = None,
    provided: frozenset[str] = frozenset(),
) -> ActionOutcome:
    """Store one driver action exactly once, or refuse it whole (see the module)."""
    known = session.scalar(
        select(VehicleEventRow.id).where(VehicleEventRow.event_id == event.event_id)
    )
    stop = session.scalar(select(Stop).where(Stop.order_ref == event.stop_id))
    if known is not None:  # a replay: answered like the first time, nothing written
        return ActionOutcome(True, stop.status if stop is not None else "")
    if stop is None:
        raise ActionRefused("unknown_stop", f"order {event.stop_id} no longer exists")
    route = session.get(Route, stop.route_id) if stop.route_id is not None else None
    if route is None or route.vehicle_id != event.vehicle_id:
        raise ActionRefused(
            "not_on_route",
            f"order {stop.order_ref} is no longer on your route (the desk moved it): "
            "nothing was recorded",
        )
    if StopStatus(stop.status).is_final and event.kind is not DeliveryEventKind.ARRIVED:
        raise ActionRefused(
            "already_final", f"order {stop.order_ref} is already {stop.status}: nothing recorded"
        )
    missing = sorted((required or {}).get(stop.kind, frozenset()) - provided)
    if missing:
        raise ActionRefused(
            "pod_missing",
            f"order {stop.order_ref} needs {' and '.join(missing)} as proof of delivery: "
            "nothing was recorded",
        )
    stmt = _insert_ignore(session.get_bind().dialect.name).values(
        event_id=event.event_id,
        vehicle_id=event.vehicle_id,
        kind=event.kind.value,
        ts=event.ts,
        stop_ref=event.stop_id,
        reason=event.reason or "",
        pod_ref=event.event_id if pod is not None else "",
        note=event.note or "",
        lat=event.lat,
        lon=event.lon,
        source=event.source[:16],
        received_at=received_at,
    )
    inserted: Any = session.execute(stmt)
    if not inserted.rowcount:  # the same action, stored by a racing request
        return ActionOutcome(True, stop.status)
    _apply_to_stop(session, event)
    distance = far = None
    if pod is not None:
        if event.lat is not None and event.lon is not None:
            distance = haversine_m(event.lat, event.lon, stop.lat, stop.lon)
        far = distance is not None and distance > max_pod_distance_m
        session.add(
            PodRecord(
                event_id=event.event_id,
                stop_ref=stop.order_ref,
                vehicle_id=event.vehicle_id,
                device_id=event.device_id or "",
                recipient=pod.recipient,
                taken_at=event.ts,
                received_at=received_at,
                lat=event.lat,
                lon=event.lon,
                distance_m=distance,
                files=list(pod.files),
            )
        )
        session.execute(
            update(Stop).where(Stop.id == stop.id).values(pod_ref=f"pod:{event.event_id}"[:256])
        )
        if far:
            assert distance is not None
            _far_issue(session, event, distance, max_pod_distance_m)
    _audit(
        session,
        f"driver:{event.device_id}",
        f"driver.{event.kind.value}",
        str(stop.id),
        None,
        {
            "order": stop.order_ref,
            "event": event.event_id,
            "reason": event.reason,
            "pod": pod is not None,
            "far": far,
        },
    )
    session.flush()
    session.refresh(stop)
    return ActionOutcome(False, stop.status, distance, bool(far))


def _far_issue(session: Session, event: EventReport, distance: float, limit: float) -> None:
    """An ``issue`` event the exception queue turns into a driver-issue exception."""
    stmt = _insert_ignore(session.get_bind().dialect.name).values(
        event_id=f"{event.event_id}:far"[:128],
        vehicle_id=event.vehicle_id,
        kind=DeliveryEventKind.ISSUE.value,
        ts=event.ts,
        stop_ref=event.stop_id,
        reason=f"proof of delivery taken {distance:.0f} m from the stop (limit {limit:.0f} m)",
        pod_ref="",
        note="",
        lat=event.lat,
        lon=event.lon,
        source=event.source[:16],
    )
    session.execute(stmt)


# -- proof of delivery ------------------------------------------------------------------------


def pods_for_stop(session: Session, stop_ref: str) -> list[PodView]:
    rows = session.scalars(
        select(PodRecord).where(PodRecord.stop_ref == stop_ref).order_by(PodRecord.id)
    )
    return [_pod_view(r) for r in rows]


def _pod_view(r: PodRecord) -> PodView:
    return PodView(
        r.event_id,
        r.stop_ref,
        r.vehicle_id,
        r.recipient,
        r.taken_at,
        r.lat,
        r.lon,
        r.distance_m,
        tuple(r.files),
        r.purged_at,
    )


def latest_pods(session: Session, stop_refs: list[str]) -> dict[str, PodView]:
    """The newest POD of each of ``stop_refs`` that has one (the day report)."""
    found: dict[str, PodView] = {}
    for chunk in range(0, len(stop_refs), 500):
        refs = stop_refs[chunk : chunk + 500]
        rows = session.scalars(
            select(PodRecord).where(PodRecord.stop_ref.in_(refs)).order_by(PodRecord.id)
        )
        for r in rows:
            found[r.stop_ref] = _pod_view(r)
    return found


def expired_pods(
    session: Session, cutoff: datetime, *, after_id: int = 0, limit: int = 200
) -> list[tuple[int, list[dict[str, Any]]]]:
    """``(id, files)`` of PODs taken before ``cutoff`` whose files are not purged yet, by id
    from ``after_id`` on (the retention job walks them in batches)."""
    rows = session.execute(
        select(PodRecord.id, PodRecord.files)
        .where(
            PodRecord.purged_at.is_(None),
            PodRecord.taken_at < cutoff,
            PodRecord.id > after_id,
        )
        .order_by(PodRecord.id)
        .limit(limit)
    )
    return [(pod_id, list(files or [])) for pod_id, files in rows]


def hashes_kept(session: Session, cutoff: datetime) -> set[str]:
    """The file hashes of PODs taken from ``cutoff`` on (kept): a file is content-addressed,
    so the same photo sent twice is one file of two records, and it stays while one of them
    does. One pass over the retained PODs' file lists per purge."""
    kept: set[str] = set()
    query = select(PodRecord.files).where(
        PodRecord.purged_at.is_(None), PodRecord.taken_at >= cutoff
    )
    for files in session.scalars(query.execution_options(yield_per=1000)):
        kept.update(str(f.get("sha256")) for f in files or [] if isinstance(f, dict))
    return kept


def mark_purged(session: Session, pod_ids: list[int], at: datetime) -> None:
    """The files of ``pod_ids`` are gone; the rows (who, when, where, which files) stay. A row
    another recorder marked meanwhile keeps its time (every recorder purges, docs/deploy.md)."""
    if pod_ids:
        session.execute(
            update(PodRecord)
            .where(PodRecord.id.in_(pod_ids), PodRecord.purged_at.is_(None))
            .values(purged_at=at)
        )


def audit_purge(session: Session, actor: str, summary: dict[str, Any]) -> None:
    """One audit row per purge that removed something (not one per POD)."""
    _audit(session, actor, "pod.purge", "pod_records", None, summary, entity="pod")


def stop_photo(session: Session, stop_id: int, name: str) -> tuple[str, str] | None:
    """``(sha256, format)`` when ``name`` (``<sha256>.<ext>``) is a POD *photo* of stop
    ``stop_id`` (what its tracking link may show: never a signature), else None."""
    ref = session.scalar(select(Stop.order_ref).where(Stop.id == stop_id))
    if ref is None:
        return None
    for pod in pods_for_stop(session, ref):
        for f in pod.files:
            if f.get("role") == "photo" and f"{f.get('sha256')}.{f.get('format')}" == name:
                return str(f["sha256"]), str(f["format"])
    return None


# -- messages ---------------------------------------------------------------------------------


def _message_view(r: DriverMessage) -> MessageView:
    return MessageView(r.id, r.vehicle_id, r.stop_ref, r.direction, r.author, r.body, r.created_at)


def add_message(
    session: Session,
    *,
    client_key: str,
    vehicle_id: str,
    stop_ref: str | None,
    direction: str,
    author: str,
    body: str,
    at: datetime,
) -> tuple[MessageView, bool]:
    """Store a message once per ``client_key``: (the message, whether it is new)."""
    old = session.scalar(select(DriverMessage).where(DriverMessage.client_key == client_key))
    if old is not None:
        return _message_view(old), False
    row = DriverMessage(
        client_key=client_key,
        vehicle_id=vehicle_id,
        stop_ref=stop_ref,
        direction=direction,
        author=author,
        body=body,
        created_at=at,
    )
    session.add(row)
    session.flush()
    stop_id = None
    if stop_ref is not None:
        stop_id = session.scalar(select(Stop.id).where(Stop.order_ref == stop_ref))
    _audit(  # a stop's message is in the stop's history, like its other audit rows
        session,
        author,
        f"driver_message.{direction}",
        str(stop_id) if stop_id is not None else vehicle_id,
        None,
        {"vehicle": vehicle_id, "order": stop_ref, "message": row.id, "body": body[:500]},
        entity="stop" if stop_id is not None else "vehicle",
    )
    return _message_view(row), True


def speaks_native(session: Session, vehicle_id: str) -> bool:
    """Does a device of the native MQTT protocol speak for ``vehicle_id``? (a binding
    ``native:<id>`` to it, or a live broker user ``native:<vehicle_id>``: either can read
    the vehicle's ``cmd`` topic, docs/mqtt.md)."""
    bound = session.scalar(
        select(DeviceBinding.device_key)
        .where(DeviceBinding.vehicle_id == vehicle_id, DeviceBinding.device_key.like("native:%"))
        .limit(1)
    )
    if bound is not None:
        return True
    user = session.scalar(
        select(DeviceCredential.id)
        .where(
            DeviceCredential.device_key == f"native:{vehicle_id}",
            DeviceCredential.revoked_at.is_(None),
        )
        .limit(1)
    )
    return user is not None


def messages(
    session: Session,
    *,
    vehicle_id: str | None = None,
    stop_ref: str | None = None,
    after_id: int = 0,
    limit: int = 200,
) -> list[MessageView]:
    query = select(DriverMessage).where(DriverMessage.id > after_id)
    if vehicle_id is not None:
        query = query.where(DriverMessage.vehicle_id == vehicle_id)
    if stop_ref is not None:
        query = query.where(DriverMessage.stop_ref == stop_ref)
    rows = session.scalars(query.order_by(DriverMessage.id.desc()).limit(limit))
    return [_message_view(r) for r in reversed(list(rows))]


def _audit(
    session: Session,
    actor: str,
    action: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    entity: str | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor[:80],
            action=action[:60],
            entity=entity or ("stop" if action.startswith("driver.") else "device"),
            entity_id=entity_id[:120],
            before=before,
            after=after,
        )
    )
