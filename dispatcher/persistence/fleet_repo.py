"""Reading and writing the day's fleet: depots, vehicles, customers, orders/stops and routes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from dispatcher import limits
from dispatcher.clock import system_now
from dispatcher.errors import ConflictError, ValidationError
from dispatcher.model.stops import RouteView, StopView
from dispatcher.model.users import Permission
from dispatcher.persistence.orm import (
    AuditEntry,
    Customer,
    Depot,
    DeviceBinding,
    Driver,
    Route,
    Stop,
    Vehicle,
    VehicleAssignment,
)
from dispatcher.persistence.users_repo import acting_user
from dispatcher.scenario.records import CustomerRecord, OrderRecord, Scenario


def save_scenario(session: Session, scenario: Scenario) -> None:
    """Store a whole scenario (demo) in an empty or compatible database, in one transaction."""
    for d in scenario.depots:
        session.merge(Depot(id=d.id, name=d.name, address=d.address, lat=d.lat, lon=d.lon))
    for dr in scenario.drivers:
        session.merge(Driver(id=dr.id, name=dr.name, phone=dr.phone))
    for v in scenario.vehicles:
        session.merge(
            Vehicle(
                id=v.id,
                name=v.name,
                plate=v.plate,
                depot_id=v.depot_id,
                driver_id=v.driver_id,
                capacity=v.capacity,
                shift_start=v.shift_start,
                shift_end=v.shift_end,
                skills=list(v.skills),
                vehicle_type=v.vehicle_type,
            )
        )
    session.flush()
    insert_orders(session, scenario.orders)
    stops = {
        s.order_ref: s
        for s in session.scalars(select(Stop).where(Stop.service_date == scenario.service_date))
    }
    for vehicle_id, refs in scenario.routes.items():
        route = _route_for(session, vehicle_id, scenario.service_date)
        for seq, ref in enumerate(refs, start=1):
            stops[ref].route_id = route.id
            stops[ref].sequence = seq


def _route_for(session: Session, vehicle_id: str, day: date) -> Route:
    route = session.scalar(
        select(Route).where(Route.vehicle_id == vehicle_id, Route.service_date == day)
    )
    if route is None:
        route = Route(vehicle_id=vehicle_id, service_date=day)
        session.add(route)
        session.flush()
    return route


def existing_order_refs(session: Session, refs: Iterable[str]) -> set[str]:
    wanted = list(set(refs))
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        found.update(session.scalars(select(Stop.order_ref).where(Stop.order_ref.in_(chunk))))
    return found


def vehicle_ids(session: Session) -> set[str]:
    return set(session.scalars(select(Vehicle.id)))


def insert_orders(session: Session, orders: Iterable[OrderRecord]) -> int:
    """Insert orders whose ref is not stored yet; returns how many were inserted.

    Customers are matched by ``ref`` and created or updated. Orders that name a vehicle are
    appended to that vehicle's route for the day.
    """
    orders = list(orders)
    known = existing_order_refs(session, (o.order_ref for o in orders))
    customers: dict[str, Customer] = {}
    inserted = 0
    for order in orders:
        if order.order_ref in known:
            continue
        known.add(order.order_ref)
        customer = customers.get(order.customer.ref) or _upsert_customer(session, order.customer)
        customers[order.customer.ref] = customer
        stop = Stop(
            order_ref=order.order_ref,
            customer_id=customer.id,
            service_date=order.service_date,
            kind=order.kind,
            address=order.address,
            lat=order.lat,
            lon=order.lon,
            window_start=order.window_start,
            window_end=order.window_end,
            service_s=order.service_s,
            demand=order.demand,
            notes=order.notes,
            required_skills=list(order.skills),
            weight_kg=order.weight_kg,
            volume_l=order.volume_l,
            pair_key=order.pair,
        )
        if order.vehicle_id:
            route = _route_for(session, order.vehicle_id, order.service_date)
            last = session.scalar(select(func.max(Stop.sequence)).where(Stop.route_id == route.id))
            stop.route_id, stop.sequence = route.id, (last or 0) + 1
        session.add(stop)
        session.flush()
        inserted += 1
    return inserted


def create_order(
    session: Session, order: OrderRecord, actor: str, *, placed_by_hand: bool = False
) -> int:
    """Store one new order typed in by ``actor``, audited; returns its stop id.

    ``placed_by_hand``: the dispatcher put it on the map (the audit says so). Raises
    PermissionDenied when ``actor`` may not add orders, ValidationError when the order id is
    taken (nothing is stored).
    """
    acting_user(session, actor, Permission.IMPORT_ORDERS)
    if existing_order_refs(session, [order.order_ref]):
        raise ValidationError(f"order id {order.order_ref!r} is already taken")
    insert_orders(session, [order])
    stop_id = session.scalar(select(Stop.id).where(Stop.order_ref == order.order_ref))
    assert stop_id is not None
    session.add(
        AuditEntry(
            actor=actor,
            action="order.create",
            entity="stop",
            entity_id=str(stop_id),
            before=None,
            after={"order": order.order_ref, "vehicle": order.vehicle_id}
            | ({"position": "placed by hand"} if placed_by_hand else {}),
        )
    )
    return int(stop_id)


def _upsert_customer(session: Session, record: CustomerRecord) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.ref == record.ref))
    if customer is None:
        customer = Customer(ref=record.ref, name=record.name)
        session.add(customer)
    customer.name = record.name or customer.name
    customer.phone = record.phone or customer.phone
    customer.email = record.email or customer.email
    customer.preferred_channel = record.preferred_channel or customer.preferred_channel
    customer.language = record.language or customer.language
    session.flush()
    return customer


def latest_service_date(session: Session) -> date | None:
    return session.scalar(select(func.max(Stop.service_date)))


def day_to_show(session: Session, today: date) -> date:
    """The day a console opens on: ``today`` when it has stops, else the latest day that
    has some (a database of past days), else ``today``. Never simply the highest date: one
    order imported for tomorrow must not hide today's routes."""
    if session.scalar(select(Stop.id).where(Stop.service_date == today).limit(1)) is not None:
        return today
    return latest_service_date(session) or today


def service_days(session: Session, around: date, span: int = 31) -> list[date]:
    """Days within ``span`` days of ``around`` that have stops (the day picker's marks)."""
    low, high = around - timedelta(days=span), around + timedelta(days=span)
    rows = session.scalars(
        select(Stop.service_date)
        .where(Stop.service_date >= low, Stop.service_date <= high)
        .distinct()
        .order_by(Stop.service_date)
    )
    return list(rows)


def load_routes(session: Session, day: date | None = None) -> list[RouteView]:
    """All routes of ``day`` (default: the latest day with routes) with their stops in order."""
    day = day or latest_service_date(session)
    if day is None:
        return []
    routes = session.scalars(
        select(Route)
        .where(Route.service_date == day)
        .options(selectinload(Route.vehicle).selectinload(Vehicle.driver))
        .order_by(Route.vehicle_id)
    ).all()
    drivers = day_drivers(session, day)
    stops = _stops_of_routes(session, [r.id for r in routes])
    views = [_route_view(r, stops[r.id], drivers.get(r.vehicle_id)) for r in routes]
    unassigned = load_unassigned(session, day)
    if unassigned:
        views.append(RouteView(0, "", "Unassigned", "", 0, 0, tuple(unassigned)))
    return views


def day_drivers(session: Session, day: date) -> dict[str, str]:
    """Vehicle id -> name of the driver assigned to it for ``day`` (Fleet setup > Assignments)."""
    rows = session.execute(
        select(VehicleAssignment.vehicle_id, Driver.name)
        .join(Driver, Driver.id == VehicleAssignment.driver_id)
        .where(VehicleAssignment.service_date == day)
    )
    return {str(vehicle_id): str(name) for vehicle_id, name in rows}


#: The stop columns :func:`stop_view` reads (a day's read takes them as columns).
_STOP_FIELDS = (
    Stop.id,
    Stop.route_id,
    Stop.service_date,
    Stop.order_ref,
    Stop.sequence,
    Stop.kind,
    Stop.status,
    Stop.address,
    Stop.lat,
    Stop.lon,
    Stop.window_start,
    Stop.window_end,
    Stop.service_s,
    Stop.demand,
    Stop.pinned,
    Stop.planned_arrival,
    Stop.keep_on_vehicle,
    Stop.lock_group,
    Stop.required_skills,
    Stop.weight_kg,
    Stop.volume_l,
    Stop.pair_key,
    Stop.actual_arrival,
    Stop.completed_at,
    Stop.attempts,
    Stop.failure_reason,
)
#: Routes per ``IN (...)`` of :func:`_stops_of_routes`.
_ROUTES_PER_READ = 500


def _stops_of_routes(session: Session, route_ids: list[int]) -> dict[int, list[StopView]]:
    """Each route's stops in order, read as columns with their customer's name.

    The day's read (the boards' every reload) loaded 10,000 stops and their customers as
    ORM entities at 500 vehicles: ~1 s of a 1.5-s read in the worker, longer while the
    fleet's threads share the interpreter (bench/console.py). Same order as the
    relationship's (``sequence``), same :class:`StopView` (:func:`stop_view`).
    """
    found: dict[int, list[StopView]] = {rid: [] for rid in route_ids}
    for first in range(0, len(route_ids), _ROUTES_PER_READ):
        rows = session.execute(
            select(*_STOP_FIELDS, Customer.name.label("customer_name"))
            .outerjoin(Customer, Customer.id == Stop.customer_id)
            .where(Stop.route_id.in_(route_ids[first : first + _ROUTES_PER_READ]))
            .order_by(Stop.sequence)
        )
        for row in rows:
            found[row.route_id].append(stop_view(row, customer_name=row.customer_name or ""))
    return found


def _route_view(route: Route, stops: list[StopView], day_driver: str | None = None) -> RouteView:
    """The route as shown; the driver is the day's assignment, else the vehicle's usual one."""
    vehicle = route.vehicle
    usual = vehicle.driver.name if vehicle.driver else ""
    return RouteView(
        id=route.id,
        vehicle_id=route.vehicle_id,
        vehicle_name=vehicle.name,
        driver_name=day_driver or usual,
        capacity=vehicle.capacity,
        version=route.version,
        stops=tuple(stops),
        vehicle_type=vehicle.vehicle_type or "",
    )


def _skills(value: object) -> tuple[str, ...]:
    """A stored skill list as text, whatever the JSON column holds (a hand-edited row may
    have a string or numbers in it)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(str(s).strip() for s in value if str(s).strip())


def stop_view(
    s: Stop | Row[Any],
    *,
    customer_name: str | None = None,
    vehicle_id: str | None = None,
    vehicle_name: str = "",
) -> StopView:
    """The one way a stored stop becomes the views' :class:`StopView`.

    ``customer_name``: given by a reader that joined the customer (else read through the
    row's relationship, which the caller should have loaded); ``vehicle_*`` by a reader that
    joined the route.
    """
    if customer_name is None:
        customer_name = s.customer.name if s.customer else ""
    return StopView(
        id=s.id,
        service_date=s.service_date,
        order_ref=s.order_ref,
        sequence=s.sequence,
        kind=s.kind,
        status=s.status,
        customer_name=customer_name,
        address=s.address,
        lat=s.lat,
        lon=s.lon,
        window_start=s.window_start,
        window_end=s.window_end,
        service_s=s.service_s,
        demand=s.demand,
        pinned=s.pinned,
        planned_arrival=s.planned_arrival,
        keep_on_vehicle=s.keep_on_vehicle,
        lock_group=s.lock_group,
        required_skills=_skills(s.required_skills),
        weight_kg=max(0, s.weight_kg or 0),
        volume_l=max(0, s.volume_l or 0),
        pair_key=s.pair_key or None,
        actual_arrival=s.actual_arrival,
        completed_at=s.completed_at,
        attempts=s.attempts,
        failure_reason=s.failure_reason,
        vehicle_id=vehicle_id,
        vehicle_name=vehicle_name,
    )


def count_fleet(session: Session) -> int:
    """Depots and vehicles stored (0 on a fresh install: the first-run assistant's cue)."""
    depots = session.scalar(select(func.count()).select_from(Depot)) or 0
    return depots + (session.scalar(select(func.count()).select_from(Vehicle)) or 0)


def count_stops(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Stop)) or 0


def load_unassigned(session: Session, day: date) -> list[StopView]:
    """Stops of ``day`` on no route yet (imported without a vehicle)."""
    stops = session.scalars(
        select(Stop)
        .where(Stop.service_date == day, Stop.route_id.is_(None))
        .options(selectinload(Stop.customer))
        .order_by(Stop.order_ref)
    )
    return [stop_view(s) for s in stops]


@dataclass(frozen=True, slots=True)
class VehicleView:
    id: str
    name: str
    capacity: int
    shift_start: time
    shift_end: time
    driver_name: str
    depot_lat: float | None
    depot_lon: float | None
    driver_id: str | None = None
    cost_per_km: float = 0.0
    cost_per_hour: float = 0.0
    fixed_cost: float = 0.0
    skills: tuple[str, ...] = ()
    max_weight_kg: int | None = None
    max_volume_l: int | None = None
    max_route_min: int | None = None
    break_after_min: int | None = None
    break_min: int = 0
    break_latest_min: int | None = None
    vehicle_type: str = "van"
    """Which road profile times it (``[routing.profiles]``)."""


def load_vehicles(session: Session, *, active_only: bool = True) -> list[VehicleView]:
    """Vehicles by id with driver and depot (``active_only=False``: also retired ones, whose
    past days still count in reports)."""
    query = (
        select(Vehicle)
        .options(selectinload(Vehicle.driver), selectinload(Vehicle.depot))
        .order_by(Vehicle.id)
    )
    if active_only:
        query = query.where(Vehicle.active.is_(True))
    return [
        VehicleView(
            v.id,
            v.name,
            v.capacity,
            v.shift_start,
            v.shift_end,
            v.driver.name if v.driver else "",
            v.depot.lat if v.depot else None,
            v.depot.lon if v.depot else None,
            v.driver_id,
            v.cost_per_km or 0.0,
            v.cost_per_hour or 0.0,
            v.fixed_cost or 0.0,
            _skills(v.skills),
            v.max_weight_kg,
            v.max_volume_l,
            v.max_route_min,
            v.break_after_min,
            v.break_min or 0,
            v.break_latest_min,
            v.vehicle_type or "van",
        )
        for v in session.scalars(query)
    ]


def device_bindings(session: Session) -> dict[str, str]:
    """The device key → vehicle id table the telemetry adapters resolve devices with."""
    return {b.device_key: b.vehicle_id for b in session.scalars(select(DeviceBinding))}


def bind_device(session: Session, device_key: str, vehicle_id: str) -> None:
    session.merge(DeviceBinding(device_key=device_key, vehicle_id=vehicle_id))


# -- live progress of the day's stops (route board) ---------------------------------------


@dataclass(frozen=True, slots=True)
class StopProgress:
    """What the drivers' events changed on a stop: its status and when it was reached."""

    status: str
    actual_arrival: datetime | None


def load_stop_progress(session: Session, day: date) -> dict[int, StopProgress]:
    """Status and actual arrival of every stop of ``day`` (three columns, one indexed query).

    The route board polls this off the GUI thread and merges what changed into its plan, so
    delivery events recorded by any process show without a reload. Stops carry no change
    stamp, so the whole day is read; it is a few milliseconds for a thousand stops.
    """
    rows = session.execute(
        select(Stop.id, Stop.status, Stop.actual_arrival).where(Stop.service_date == day)
    )
    return {sid: StopProgress(status, arrival) for sid, status, arrival in rows}


# -- saving edited routes (route board) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class StopWrite:
    """A stop's place in a saved route, with the dispatcher's locks on it."""

    id: int
    pinned: bool = False
    keep_on_vehicle: bool = False
    lock_group: str | None = None


@dataclass(frozen=True, slots=True)
class RouteWrite:
    """The new stop order of one vehicle's route, and the version it was edited from.

    ``expected_version`` 0 means "this vehicle had no route row for the day".
    """

    vehicle_id: str
    expected_version: int
    stops: tuple[StopWrite, ...]


def save_routes(
    session: Session,
    day: date,
    routes: Iterable[RouteWrite],
    unassigned: Iterable[StopWrite] = (),
    *,
    actor: str,
) -> dict[str, tuple[int, int]]:
    """Store edited routes with optimistic locking; returns each route's (id, new version).

    Raises :class:`~dispatcher.errors.ConflictError` (and changes nothing: the caller's
    unit of work rolls back) when a route was changed by someone else since it was read, or
    a stop is on a route this save did not read. Every save writes one audit entry per route,
    with ``actor``, whose role must allow route edits (:class:`PermissionDenied` otherwise).
    """
    acting_user(session, actor, Permission.EDIT_ROUTES)
    routes = list(routes)
    actor = actor[: limits.USERNAME] or "dispatcher"  # the audit names a person, never ""
    rows = {w.vehicle_id: _route_to_write(session, day, w) for w in routes}
    ours = {r.id for r in rows.values()}
    stops = _stops_by_id(
        session, [s.id for w in routes for s in w.stops] + [s.id for s in unassigned]
    )
    for w in routes:
        route = rows[w.vehicle_id]
        before = [s.id for s in route.stops]
        for seq, item in enumerate(w.stops, start=1):
            stop = _stop_for_write(stops, item, ours)
            stop.route_id, stop.sequence = route.id, seq
        route.updated_by = actor
        route.updated_at = system_now()
        session.add(
            AuditEntry(
                actor=actor,
                action="route.edit",
                entity="route",
                entity_id=str(route.id),
                before={"stops": before},
                after={"stops": [s.id for s in w.stops]},
            )
        )
    for item in unassigned:
        stop = _stop_for_write(stops, item, ours)
        stop.route_id, stop.sequence = None, None
    try:
        session.flush()
    except StaleDataError as exc:
        raise ConflictError(
            "a route or one of its stops was changed by another workstation meanwhile"
        ) from exc
    return {vid: (route.id, route.version) for vid, route in rows.items()}


def _route_to_write(session: Session, day: date, write: RouteWrite) -> Route:
    route = session.scalar(
        select(Route).where(Route.vehicle_id == write.vehicle_id, Route.service_date == day)
    )
    current = 0 if route is None else route.version
    if current != write.expected_version:
        raise ConflictError(
            f"the route of {write.vehicle_id} was changed by another workstation "
            f"(version {current}, yours {write.expected_version})"
        )
    if route is None:
        if session.get(Vehicle, write.vehicle_id) is None:
            raise ConflictError(f"vehicle {write.vehicle_id} no longer exists")
        route = _route_for(session, write.vehicle_id, day)
    return route


def _stops_by_id(session: Session, ids: list[int]) -> dict[int, Stop]:
    found: dict[int, Stop] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        found.update((s.id, s) for s in session.scalars(select(Stop).where(Stop.id.in_(chunk))))
    return found


def _stop_for_write(stops: dict[int, Stop], item: StopWrite, ours: set[int]) -> Stop:
    stop = stops.get(item.id)
    if stop is None:
        raise ConflictError(f"stop {item.id} was deleted meanwhile")
    if stop.route_id is not None and stop.route_id not in ours:
        raise ConflictError(f"stop {stop.order_ref} was moved to another route meanwhile")
    stop.pinned, stop.keep_on_vehicle = item.pinned, item.keep_on_vehicle
    stop.lock_group = item.lock_group
    return stop
