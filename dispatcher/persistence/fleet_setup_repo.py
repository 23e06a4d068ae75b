"""Storing the fleet setup: depots, vehicles, drivers and who drives what on a day.

Every function runs inside the caller's unit of work and checks its actor's role first
(:func:`~dispatcher.persistence.users_repo.acting_user`), so a refused or invalid change leaves
nothing behind, and every change writes one audit row with the real actor. Checks that need
the database are here: duplicate names and plates, references to depots and drivers that
exist, a driver on two vans a day, a vehicle deleted while it is on the road.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, time
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dispatcher.errors import DispatcherError, NotFoundError, ValidationError
from dispatcher.model.fleet_setup import (
    AssignmentSpec,
    DepotSpec,
    DriverSpec,
    FieldErrors,
    VehicleSpec,
)
from dispatcher.model.users import Permission
from dispatcher.persistence.orm import (
    AuditEntry,
    Depot,
    DeviceBinding,
    Driver,
    Route,
    Stop,
    Vehicle,
    VehicleAssignment,
)
from dispatcher.persistence.users_repo import acting_user


def _allowed(session: Session, actor: str) -> None:
    acting_user(session, actor, Permission.FLEET_SETUP)


def _audit(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=_json(before),
            after=_json(after),
        )
    )


def _json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {k: v.isoformat() if isinstance(v, time | date) else v for k, v in value.items()}


def _unique(session: Session, model: Any, column: Any, value: str, own_id: str, label: str) -> None:
    """Refuse ``value`` when another row (not ``own_id``) already uses it, case-insensitively."""
    if not value:
        return
    other = session.scalar(
        select(model.id).where(func.lower(column) == value.lower(), model.id != own_id)
    )
    if other is not None:
        raise FieldErrors({label: f"{value!r} is already used by {other}"})


# -- depots -----------------------------------------------------------------------------------


def save_row(session: Session, entity: str, actor: str, spec: Any) -> bool:
    """Store one imported row (``entity``: depot, vehicle, driver) in a savepoint of its own.

    Returns whether the row was new. A row the database or a check refuses is rolled back to
    its savepoint and its :class:`~dispatcher.errors.DispatcherError` raised, so the rows
    before it stay in the caller's unit of work (dispatcher/importing/fleet_csv.py).
    """
    model, save = _ROW_SAVERS[entity]
    new = session.get(model, spec.id) is None
    savepoint = session.begin_nested()
    try:
        save(session, actor, spec, new=new)
    except DispatcherError:
        savepoint.rollback()
        raise
    savepoint.commit()
    return new


def depot_dict(d: Depot) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "address": d.address,
        "lat": d.lat,
        "lon": d.lon,
        "opens_at": d.opens_at.strftime("%H:%M") if d.opens_at else None,
        "closes_at": d.closes_at.strftime("%H:%M") if d.closes_at else None,
        "active": d.active,
    }


def save_depot(session: Session, actor: str, spec: DepotSpec, *, new: bool) -> dict[str, Any]:
    """Create (``new``) or update a depot; returns it as stored."""
    _allowed(session, actor)
    row = session.get(Depot, spec.id)
    if new and row is not None:
        raise FieldErrors({"id": f"{spec.id!r} already exists"})
    if not new and row is None:
        raise NotFoundError(f"no depot {spec.id!r}")
    _unique(session, Depot, Depot.name, spec.name, spec.id, "name")
    before = None if row is None else depot_dict(row)
    if row is None:
        row = Depot(id=spec.id)
        session.add(row)
    values = asdict(spec)
    for key in ("name", "address", "lat", "lon", "opens_at", "closes_at"):
        setattr(row, key, values[key])
    row.active = True
    session.flush()
    after = depot_dict(row)
    _audit(session, actor, "depot.create" if new else "depot.edit", "depot", spec.id, before, after)
    return after


# -- drivers ----------------------------------------------------------------------------------


def driver_dict(d: Driver) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "phone": d.phone,
        "device_key": d.device_key,
        "active": d.active,
    }


def save_driver(session: Session, actor: str, spec: DriverSpec, *, new: bool) -> dict[str, Any]:
    _allowed(session, actor)
    row = session.get(Driver, spec.id)
    if new and row is not None:
        raise FieldErrors({"id": f"{spec.id!r} already exists"})
    if not new and row is None:
        raise NotFoundError(f"no driver {spec.id!r}")
    _unique(session, Driver, Driver.name, spec.name, spec.id, "name")
    _unique(session, Driver, Driver.device_key, spec.device_key, spec.id, "device_key")
    before = None if row is None else driver_dict(row)
    if row is None:
        row = Driver(id=spec.id)
        session.add(row)
    row.name, row.phone, row.device_key, row.active = spec.name, spec.phone, spec.device_key, True
    session.flush()
    after = driver_dict(row)
    action = "driver.create" if new else "driver.edit"
    _audit(session, actor, action, "driver", spec.id, before, after)
    return after


# -- vehicles ---------------------------------------------------------------------------------


def vehicle_dict(v: Vehicle) -> dict[str, Any]:
    return {
        "id": v.id,
        "name": v.name,
        "plate": v.plate,
        "vehicle_type": v.vehicle_type,
        "capacity": v.capacity,
        "skills": list(v.skills or []),
        "cost_per_km": v.cost_per_km,
        "cost_per_hour": v.cost_per_hour,
        "depot_id": v.depot_id,
        "end_depot_id": v.end_depot_id,
        "driver_id": v.driver_id,
        "shift_start": v.shift_start.strftime("%H:%M"),
        "shift_end": v.shift_end.strftime("%H:%M"),
        "break_after_min": v.break_after_min,
        "break_min": v.break_min,
        "break_latest_min": v.break_latest_min,
        "fixed_cost": v.fixed_cost,
        "max_weight_kg": v.max_weight_kg,
        "max_volume_l": v.max_volume_l,
        "max_route_min": v.max_route_min,
        "active": v.active,
    }


def save_vehicle(session: Session, actor: str, spec: VehicleSpec, *, new: bool) -> dict[str, Any]:
    _allowed(session, actor)
    row = session.get(Vehicle, spec.id)
    if new and row is not None:
        raise FieldErrors({"id": f"{spec.id!r} already exists"})
    if not new and row is None:
        raise NotFoundError(f"no vehicle {spec.id!r}")
    _unique(session, Vehicle, Vehicle.name, spec.name, spec.id, "name")
    _unique(session, Vehicle, Vehicle.plate, spec.plate, spec.id, "plate")
    missing = {}
    for field, ref, model in (
        ("depot_id", spec.depot_id, Depot),
        ("end_depot_id", spec.end_depot_id, Depot),
        ("driver_id", spec.driver_id, Driver),
    ):
        if ref is not None and session.get(model, ref) is None:
            missing[field] = f"no {model.__tablename__[:-1]} {ref!r}"
    if missing:
        raise FieldErrors(missing)
    before = None if row is None else vehicle_dict(row)
    if row is None:
        row = Vehicle(id=spec.id)
        session.add(row)
    values = asdict(spec)
    values["skills"] = list(spec.skills)
    for key, value in values.items():
        if key != "id":
            setattr(row, key, value)
    row.active = True
    session.flush()
    after = vehicle_dict(row)
    action = "vehicle.create" if new else "vehicle.edit"
    _audit(session, actor, action, "vehicle", spec.id, before, after)
    return after


_ROW_SAVERS: dict[str, tuple[Any, Any]] = {
    "depot": (Depot, save_depot),
    "vehicle": (Vehicle, save_vehicle),
    "driver": (Driver, save_driver),
}


def retire(session: Session, actor: str, entity: str, entity_id: str) -> None:
    """Take a depot, vehicle or driver out of service; its history stays readable."""
    _allowed(session, actor)
    model, to_dict = _ENTITIES[entity]
    row = session.get(model, entity_id)
    if row is None:
        raise NotFoundError(f"no {entity} {entity_id!r}")
    before = to_dict(row)
    row.active = False
    session.flush()
    _audit(session, actor, f"{entity}.retire", entity, entity_id, before, to_dict(row))


def delete_vehicle(session: Session, actor: str, vehicle_id: str, today: date) -> None:
    """Delete a vehicle that never drove; one on the road or with history must be retired."""
    _allowed(session, actor)
    row = session.get(Vehicle, vehicle_id)
    if row is None:
        raise NotFoundError(f"no vehicle {vehicle_id!r}")
    started = session.scalar(
        select(func.count())
        .select_from(Stop)
        .join(Route, Stop.route_id == Route.id)
        .where(Route.vehicle_id == vehicle_id, Route.service_date == today)
        .where(Stop.status != "pending")
    )
    if started:
        raise ValidationError(
            f"{vehicle_id} is on the road: today's route has {started} stops under way or "
            "done. Retire it instead (it then gets no new routes)."
        )
    routes = session.scalar(
        select(func.count()).select_from(Route).where(Route.vehicle_id == vehicle_id)
    )
    if routes:
        raise ValidationError(
            f"{vehicle_id} has {routes} routes on record; retire it instead so that its "
            "history stays readable"
        )
    before = vehicle_dict(row)
    for binding in session.scalars(
        select(DeviceBinding).where(DeviceBinding.vehicle_id == vehicle_id)
    ):
        session.delete(binding)
    session.execute(delete(VehicleAssignment).where(VehicleAssignment.vehicle_id == vehicle_id))
    session.delete(row)
    session.flush()
    _audit(session, actor, "vehicle.delete", "vehicle", vehicle_id, before, None)


# -- who drives what --------------------------------------------------------------------------


def assignment_dict(a: VehicleAssignment) -> dict[str, Any]:
    return {
        "date": a.service_date.isoformat(),
        "vehicle_id": a.vehicle_id,
        "driver_id": a.driver_id,
    }


def assign(session: Session, actor: str, spec: AssignmentSpec) -> dict[str, Any]:
    """Put a driver on a vehicle for a day (replacing that vehicle's driver of that day)."""
    _allowed(session, actor)
    vehicle = session.get(Vehicle, spec.vehicle_id)
    driver = session.get(Driver, spec.driver_id)
    errors = {}
    if vehicle is None or not vehicle.active:
        errors["vehicle_id"] = f"no vehicle {spec.vehicle_id!r} in service"
    if driver is None or not driver.active:
        errors["driver_id"] = f"no driver {spec.driver_id!r} in service"
    if errors:
        raise FieldErrors(errors)
    elsewhere = session.scalar(
        select(VehicleAssignment).where(
            VehicleAssignment.service_date == spec.service_date,
            VehicleAssignment.driver_id == spec.driver_id,
            VehicleAssignment.vehicle_id != spec.vehicle_id,
        )
    )
    if elsewhere is not None:
        raise FieldErrors(
            {
                "driver_id": f"{spec.driver_id} already drives {elsewhere.vehicle_id} on "
                f"{spec.service_date}: unassign them there first"
            }
        )
    row = session.scalar(
        select(VehicleAssignment).where(
            VehicleAssignment.service_date == spec.service_date,
            VehicleAssignment.vehicle_id == spec.vehicle_id,
        )
    )
    before = None if row is None else assignment_dict(row)
    if row is None:
        row = VehicleAssignment(service_date=spec.service_date, vehicle_id=spec.vehicle_id)
        session.add(row)
    row.driver_id = spec.driver_id
    session.flush()
    after = assignment_dict(row)
    key = f"{spec.vehicle_id}@{spec.service_date}"
    _audit(session, actor, "assignment.set", "assignment", key, before, after)
    return after


def unassign(session: Session, actor: str, vehicle_id: str, day: date) -> None:
    _allowed(session, actor)
    row = session.scalar(
        select(VehicleAssignment).where(
            VehicleAssignment.service_date == day, VehicleAssignment.vehicle_id == vehicle_id
        )
    )
    if row is None:
        raise NotFoundError(f"nobody is assigned to {vehicle_id} on {day}")
    before = assignment_dict(row)
    session.delete(row)
    session.flush()
    key = f"{vehicle_id}@{day}"
    _audit(session, actor, "assignment.clear", "assignment", key, before, None)


# -- reading ----------------------------------------------------------------------------------


def list_fleet(
    session: Session, *, include_retired: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """``{"depots": [...], "vehicles": [...], "drivers": [...], "assignments": [...]}``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key, (model, to_dict) in (
        ("depots", _ENTITIES["depot"]),
        ("vehicles", _ENTITIES["vehicle"]),
        ("drivers", _ENTITIES["driver"]),
    ):
        query = select(model).order_by(model.id)
        if not include_retired:
            query = query.where(model.active.is_(True))
        out[key] = [to_dict(r) for r in session.scalars(query)]
    out["assignments"] = [
        assignment_dict(a)
        for a in session.scalars(
            select(VehicleAssignment).order_by(
                VehicleAssignment.service_date, VehicleAssignment.vehicle_id
            )
        )
    ]
    return out


_ENTITIES: dict[str, tuple[Any, Any]] = {
    "depot": (Depot, depot_dict),
    "vehicle": (Vehicle, vehicle_dict),
    "driver": (Driver, driver_dict),
}
