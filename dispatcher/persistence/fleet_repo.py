"""Reading and writing the day's fleet: depots, vehicles, customers, orders/stops and routes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from dispatcher.persistence.orm import (
    Customer,
    Depot,
    DeviceBinding,
    Driver,
    Route,
    Stop,
    Vehicle,
)
from dispatcher.scenario.records import CustomerRecord, OrderRecord, Scenario


@dataclass(frozen=True, slots=True)
class StopView:
    """A stop as the route list shows it (detached from the session)."""

    id: int
    order_ref: str
    service_date: date
    sequence: int | None
    kind: str
    status: str
    customer_name: str
    address: str
    lat: float
    lon: float
    window_start: datetime | None
    window_end: datetime | None
    service_s: int
    demand: int
    pinned: bool
    planned_arrival: datetime | None


@dataclass(frozen=True, slots=True)
class RouteView:
    id: int
    vehicle_id: str
    vehicle_name: str
    driver_name: str
    capacity: int
    version: int
    stops: tuple[StopView, ...]


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
        )
        if order.vehicle_id:
            route = _route_for(session, order.vehicle_id, order.service_date)
            last = session.scalar(select(func.max(Stop.sequence)).where(Stop.route_id == route.id))
            stop.route_id, stop.sequence = route.id, (last or 0) + 1
        session.add(stop)
        session.flush()
        inserted += 1
    return inserted


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


def load_routes(session: Session, day: date | None = None) -> list[RouteView]:
    """All routes of ``day`` (default: the latest day with routes) with their stops in order."""
    day = day or latest_service_date(session)
    if day is None:
        return []
    routes = session.scalars(
        select(Route)
        .where(Route.service_date == day)
        .options(
            selectinload(Route.stops).selectinload(Stop.customer),
            selectinload(Route.vehicle).selectinload(Vehicle.driver),
        )
        .order_by(Route.vehicle_id)
    )
    views = [_route_view(r) for r in routes]
    unassigned = load_unassigned(session, day)
    if unassigned:
        views.append(RouteView(0, "", "Unassigned", "", 0, 0, tuple(unassigned)))
    return views


def _route_view(route: Route) -> RouteView:
    vehicle = route.vehicle
    return RouteView(
        id=route.id,
        vehicle_id=route.vehicle_id,
        vehicle_name=vehicle.name,
        driver_name=vehicle.driver.name if vehicle.driver else "",
        capacity=vehicle.capacity,
        version=route.version,
        stops=tuple(_stop_view(s) for s in route.stops),
    )


def _stop_view(s: Stop) -> StopView:
    return StopView(
        id=s.id,
        service_date=s.service_date,
        order_ref=s.order_ref,
        sequence=s.sequence,
        kind=s.kind,
        status=s.status,
        customer_name=s.customer.name if s.customer else "",
        address=s.address,
        lat=s.lat,
        lon=s.lon,
        window_start=s.window_start,
        window_end=s.window_end,
        service_s=s.service_s,
        demand=s.demand,
        pinned=s.pinned,
        planned_arrival=s.planned_arrival,
    )


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
    return [_stop_view(s) for s in stops]


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


def load_vehicles(session: Session) -> list[VehicleView]:
    vehicles = session.scalars(
        select(Vehicle)
        .where(Vehicle.active.is_(True))
        .options(selectinload(Vehicle.driver), selectinload(Vehicle.depot))
        .order_by(Vehicle.id)
    )
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
        )
        for v in vehicles
    ]


def device_bindings(session: Session) -> dict[str, str]:
    """The device key → vehicle id table the telemetry adapters resolve devices with."""
    return {b.device_key: b.vehicle_id for b in session.scalars(select(DeviceBinding))}


def bind_device(session: Session, device_key: str, vehicle_id: str) -> None:
    session.merge(DeviceBinding(device_key=device_key, vehicle_id=vehicle_id))
