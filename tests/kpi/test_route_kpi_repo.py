"""The plan frozen at dispatch, a route day from the database, the rollup and the period SQL
(SQLite and PostgreSQL). Hand calculations as in test_route_day.py: 0.01° of latitude on a
meridian is 1,111.9508 m.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from fleet_zone import DAY, TZ, demo_day, local
from sqlalchemy import select, update

from dispatcher.kpi import period, rollup
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.model.route_kpi import EnergyProfile
from dispatcher.persistence import fleet_repo, kpi_period_repo, route_kpi_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import RoutePlanRow, Stop, Vehicle
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

STEP_M = 6_371_008.8 * math.pi / 180 * 0.01


def at(hh: int, mm: int = 0) -> datetime:
    return local(hh, mm).astimezone(UTC)


def seeded(url: str) -> tuple[Database, list[str]]:
    db = Database(url)
    with db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    with db.session() as session:
        route = next(r for r in fleet_repo.load_routes(session, DAY) if r.vehicle_id == "V01")
    return db, [s.order_ref for s in route.stops]


def test_the_plan_is_frozen_at_the_first_event_and_edits_do_not_change_it(db_url: str) -> None:
    db, refs = seeded(db_url)
    try:
        with db.session() as session:
            before = session.scalar(select(Stop.window_end).where(Stop.order_ref == refs[1]))
        sink = SqlTelemetrySink(db)
        # A device of V02 reporting on V01's stop does not dispatch V01's route.
        sink.write_events([EventReport("V02", at(8), DeliveryEventKind.ISSUE, "e0", refs[0])])
        with db.session() as session:
            assert session.scalars(select(RoutePlanRow)).all() == []
        sink.write_events([EventReport("V01", at(9), DeliveryEventKind.ARRIVED, "e1", refs[0])])
        # The desk widens the second stop's window and takes the third off the route.
        with db.session() as session:
            session.execute(
                update(Stop).where(Stop.order_ref == refs[1]).values(window_end=at(23, 0))
            )
            session.execute(update(Stop).where(Stop.order_ref == refs[2]).values(route_id=None))
        sink.write_events([EventReport("V01", at(9, 30), DeliveryEventKind.ARRIVED, "e2", refs[1])])
        with db.session() as session:
            rows = session.scalars(select(RoutePlanRow)).all()
            inputs = route_kpi_repo.load_route_inputs(session, DAY, TZ)
        assert len(rows) == 1  # one route dispatched, frozen once
        assert (rows[0].vehicle_id, rows[0].trigger, rows[0].frozen_at) == ("V01", "arrived", at(9))
        v01 = next(i for i in inputs if i.plan.vehicle_id == "V01")
        assert v01.plan.frozen and [s.order_ref for s in v01.plan.stops] == refs
        assert v01.plan.stops[1].window_end == before  # not the widened 23:00
        # Every other route is compared with its current plan, flagged not frozen.
        assert all(not i.plan.frozen for i in inputs if i.plan.vehicle_id != "V01")
        results = rollup.compute(inputs, {}, at(20))
        day = next(r.day for r in results if r.day.vehicle_id == "V01")
        assert (day.removed, day.added, day.plan_frozen) == (1, 0, True)
    finally:
        db.dispose()


def test_a_day_from_the_database_rolled_up_and_summed_per_period(db_url: str) -> None:
    db, _refs = seeded(db_url)
    try:
        with db.session() as session:
            route_kpi_repo.save_profile(
                session, EnergyProfile("ev", "electric", 0.2, 0.1, "test grid", 10.0)
            )
            session.execute(
                update(Vehicle)
                .where(Vehicle.id == "V01")
                .values(vehicle_type="ev", cost_per_km=1.0, cost_per_hour=0.0, fixed_cost=0.0)
            )
        sink = SqlTelemetrySink(db)
        # Three fixes, 0.01° apart on a meridian, 10 minutes apart: 2 × 1,111.9508 m driven.
        sink.write_positions(
            [PositionReport("V01", at(9, m), 52.00 + 0.001 * m, 13.0) for m in (0, 10, 20)]
        )
        now = at(20)
        with db.session() as session:
            profiles = route_kpi_repo.load_profiles(session)
        assert profiles["ev"].fixed_cost_per_route == 10.0
        results = rollup.route_days(db, DAY, TZ, now)
        v01 = next(r for r in results if r.day.vehicle_id == "V01")
        km = 2 * STEP_M / 1000  # 2.223902 km
        assert v01.day.actual.distance_km == pytest.approx(km)
        # 2.223902 km × 0.2 kWh/km = 0.444780 kWh; × 0.1 kg/kWh = 0.044478 kg CO₂e.
        assert v01.day.actual.energy == pytest.approx(0.444780, abs=1e-6)
        assert v01.day.actual.co2e_kg == pytest.approx(0.0444780, abs=1e-7)
        # Cost = fixed 10 + 1.0 × 2.223902 km + 0 per hour = 12.223902.
        assert v01.day.actual.cost == pytest.approx(12.223902, abs=1e-6)
        assert v01.day.energy_unit == "kWh" and v01.inputs.area
        # The vehicle's own fixed cost (fleet setup, weighed by the optimizer) replaces its
        # type's: 25 + 2.223902 = 27.223902.
        with db.session() as session:
            session.execute(update(Vehicle).where(Vehicle.id == "V01").values(fixed_cost=25.0))
        own = next(r for r in rollup.route_days(db, DAY, TZ, now) if r.day.vehicle_id == "V01")
        assert own.day.actual.cost == pytest.approx(27.223902, abs=1e-6)
        with db.session() as session:
            session.execute(update(Vehicle).where(Vehicle.id == "V01").values(fixed_cost=0.0))

        assert rollup.rollup_days(db, [DAY], TZ, now) == 12
        assert rollup.rollup_days(db, [DAY], TZ, now) == 12  # replaced, not doubled
        start, end = period.period_range("week", DAY)
        with db.session() as session:
            fleet = kpi_period_repo.period_rows(session, start, end, "week")
            by_vehicle = kpi_period_repo.period_rows(session, DAY, DAY, "day", "vehicle")
            by_month = kpi_period_repo.period_rows(session, start, end, "month", "driver")
            with pytest.raises(ValueError):
                kpi_period_repo.period_rows(session, start, end, "week; drop table", "fleet")
        assert [(r.bucket, r.key, r.routes) for r in fleet] == [(start, "", 12)]
        assert fleet[0].electricity_kwh == pytest.approx(0.444780, abs=1e-6)
        assert fleet[0].planned_stops == 250
        assert len(by_vehicle) == 12
        row = next(r for r in by_vehicle if r.key == "V01")
        assert row.actual_km == pytest.approx(km) and row.cost == pytest.approx(12.223902)
        assert all(r.bucket == DAY.replace(day=1) for r in by_month)
        assert sum(r.routes for r in by_month) == 12

    finally:
        db.dispose()


def test_a_finished_day_is_stored_once_until_an_event_comes_in_late(db_url: str) -> None:
    db, refs = seeded(db_url)
    try:
        now = at(20)
        loaded = period.load_period(db, TZ, "month", DAY, "vehicle", now)
        assert loaded.computed_days == (DAY,)  # today (of ``now``) is recomputed
        total = loaded.fleet_total()
        assert total is not None and total.row.routes == 12
        assert total.row.cost == pytest.approx(sum(r.cost for r in loaded.totals))
        tomorrow = now + timedelta(days=1)
        again = period.load_period(db, TZ, "month", DAY, "vehicle", tomorrow)
        assert again.computed_days == ()  # a finished day is stored once...
        event = EventReport("V01", at(10), DeliveryEventKind.ARRIVED, "late", refs[0])
        SqlTelemetrySink(db).write_events([event])
        late = period.load_period(db, TZ, "month", DAY, "vehicle", tomorrow)
        assert late.computed_days == (DAY,)  # ...until an event for it comes in late
    finally:
        db.dispose()


def test_the_day_s_live_plans_are_read_in_a_few_queries_whatever_the_fleet(db_url: str) -> None:
    """``load_route_inputs`` read each route's current plan with its own queries (500 stop
    queries at 500 vehicles, issue 17): now one batch for all of them, the same plans."""
    from sqlalchemy import event

    from dispatcher.persistence.orm import Route

    db, _refs = seeded(db_url)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        statements.append(sql)

    try:
        with db.session() as session:
            routes = session.scalars(select(Route).where(Route.service_date == DAY)).all()
            assert len(routes) > 3
            # The reference: each route on its own, as before.
            one_by_one = {r.id: route_kpi_repo.current_plans(session, [r])[r.id] for r in routes}
        event.listen(db.engine, "before_cursor_execute", count)
        with db.session() as session:
            inputs = route_kpi_repo.load_route_inputs(session, DAY, TZ)
        event.remove(db.engine, "before_cursor_execute", count)
        assert {i.plan.route_id: i.plan for i in inputs} == one_by_one
        assert all(i.plan.stops and i.plan.depot is not None for i in inputs)
        # One read of the day's stops (the KPI records) and one of the routes' plans.
        from_stops = [s for s in statements if "FROM stops" in s and "JOIN" not in s]
        assert len(from_stops) <= 2, from_stops
        # 16 statements for the 12 routes, none per route (one query each: 28 and more).
        assert len(statements) <= 20, statements
    finally:
        db.dispose()
