"""Facts from the running system, and the runner over them on SQLite and PostgreSQL.

Scenario: alerts_day (Van 1 reporting near the depot, one of its stops out of reach; Van 2
never reporting). The facts must carry the planner's predicted arrivals, stale-since-start
for the silent van, and each failed-delivery event exactly once, even across a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from alerts_day import NEAR, T_UTC, store_day

from dispatcher.alerts.live_facts import LiveFacts
from dispatcher.alerts.runner import AlertRunner
from dispatcher.clock import FakeClock
from dispatcher.eta import TravelTimeProvider
from dispatcher.events import EventBus
from dispatcher.fleet.state import FleetState
from dispatcher.model.alerts import AlertFilter, AlertKind
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.persistence.alert_repo import alert_store
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Vehicle
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.routing import Router, RoutingSettings


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T_UTC)


@pytest.fixture
def fleet(clock: FakeClock) -> FleetState:
    state = FleetState()
    near_depot = PositionReport("V1", T_UTC, NEAR[0] - 0.004, NEAR[1] - 0.004, speed_kmh=25.0)
    state.apply_position(near_depot, clock.now())
    return state


def failed(stop_ref: str, event_id: str = "ev-1") -> EventReport:
    return EventReport(
        "V1", T_UTC, DeliveryEventKind.FAILED, event_id, stop_id=stop_ref, reason="not at home"
    )


def test_facts_carry_predictions_positions_and_the_silent_van(
    db: Database, clock: FakeClock, fleet: FleetState
) -> None:
    stops = store_day(db)
    facts = LiveFacts(db, fleet).capture(clock.now())()
    snapshot = facts.snapshot
    by_ref = {s.stop_id: s for s in snapshot.stops}
    near, far = by_ref[str(stops["O-NEAR"])], by_ref[str(stops["O-FAR"])]
    assert near.predicted_arrival is not None and far.predicted_arrival is not None
    assert T_UTC < near.predicted_arrival < far.predicted_arrival
    assert far.window_end is not None and far.predicted_arrival > far.window_end
    assert near.customer_name == "Nina Near" and near.vehicle_id == "V1"
    v1, v2 = sorted(snapshot.vehicles, key=lambda v: v.vehicle_id)
    assert v1.position is not None and v1.online and v1.last_seen == T_UTC
    assert v1.planned_path[0] == v1.planned_path[-1], "from the depot, back to the depot"
    assert v2.position is None and v2.last_seen == T_UTC, "silent since we started listening"
    assert v1.shift_end is not None and v1.predicted_route_end is not None
    assert [g.kind.value for g in snapshot.geofences] == ["depot"]


def test_without_telemetry_there_are_no_vehicle_facts(db: Database, clock: FakeClock) -> None:
    store_day(db)
    snapshot = LiveFacts(db, None).capture(clock.now())().snapshot
    assert snapshot.vehicles == [] and len(snapshot.stops) == 3


def test_each_failed_event_is_fed_once_even_across_a_restart(
    db: Database, clock: FakeClock, fleet: FleetState
) -> None:
    stops = store_day(db)
    SqlTelemetrySink(db).write_events([failed("O-NEAR")])
    source = LiveFacts(db, fleet)
    first = source.capture(clock.now())()
    [event] = first.snapshot.events
    assert event.stop_id == str(stops["O-NEAR"]) and event.reason == "not at home"
    again = source.capture(clock.now())()
    assert len(again.snapshot.events) == 1, "not committed: fed again"
    again.committed()
    assert source.capture(clock.now())().snapshot.events == []
    SqlTelemetrySink(db).write_events([failed("O-FAR", "ev-2")])
    assert [e.event_id for e in source.capture(clock.now())().snapshot.events] == ["ev-2"]


def test_the_runner_raises_the_day_s_alerts_in_the_database(
    db: Database, clock: FakeClock, fleet: FleetState
) -> None:
    stops = store_day(db)
    SqlTelemetrySink(db).write_events([failed("O-NEAR")])
    facts = LiveFacts(db, fleet, started=T_UTC)  # the console started listening at 09:00
    runner = AlertRunner(clock, EventBus(), facts, lambda: alert_store(db))
    clock.advance(timedelta(minutes=5).total_seconds())
    outcome = runner.run_now()
    runner.stop()
    with alert_store(db) as store:
        alerts = store.list_alerts(AlertFilter())
    kinds = {(a.kind, a.subject) for a in alerts}
    assert (AlertKind.LATE, f"stop:{stops['O-FAR']}") in kinds
    assert (AlertKind.FAILED_DELIVERY, f"stop:{stops['O-NEAR']}") in kinds
    assert (AlertKind.VEHICLE_STALE, "vehicle:V2") in kinds
    assert (AlertKind.VEHICLE_STALE, "vehicle:V1") in kinds  # its one fix is 5 min old
    assert outcome.raised == {a.id for a in alerts}
    # a restarted runner does not raise the failed delivery again
    again = AlertRunner(clock, EventBus(), LiveFacts(db, fleet), lambda: alert_store(db))
    clock.advance(60)
    again.run_now()
    again.stop()
    with alert_store(db) as store:
        failed_alerts = store.list_alerts(AlertFilter(kinds=frozenset({AlertKind.FAILED_DELIVERY})))
    assert [a.count for a in failed_alerts] == [1]


def test_a_coarse_fix_is_kept_out_of_etas_and_the_deviation_rule(
    db: Database, clock: FakeClock, fleet: FleetState
) -> None:
    stops = store_day(db)
    before = LiveFacts(db, fleet).capture(clock.now())().snapshot
    # An iPhone in significant-change mode: a cell fix 20 km away, accuracy 3 km.
    cell = PositionReport("V1", T_UTC + timedelta(seconds=30), NEAR[0] + 0.2, NEAR[1], None)
    cell.accuracy_m, cell.coarse, cell.tracking_mode = 3000.0, True, "significant"
    fleet.apply_position(cell, clock.now() + timedelta(seconds=30))
    after = LiveFacts(db, fleet).capture(clock.now())().snapshot
    v1 = next(v for v in after.vehicles if v.vehicle_id == "V1")
    assert (v1.lat, v1.lon) == (NEAR[0] - 0.004, NEAR[1] - 0.004), "the last precise fix"
    assert v1.last_seen == T_UTC + timedelta(seconds=30), "but it counts as heard"
    stop = str(stops["O-NEAR"])
    eta = {s.stop_id: s.predicted_arrival for s in before.stops}[stop]
    assert {s.stop_id: s.predicted_arrival for s in after.stops}[stop] == eta


def test_a_cargo_bikes_predictions_ride_the_bicycle_profile(
    db: Database, clock: FakeClock, fleet: FleetState
) -> None:
    """The alerts' ETAs time each vehicle on its type's profile (docs/routing.md)."""
    stops = store_day(db)
    with db.session() as session:
        van = session.get(Vehicle, "V1")
        assert van is not None
        van.vehicle_type = "cargo_bike"
    router = Router(RoutingSettings())

    def predicted(provider: TravelTimeProvider) -> object:
        facts = LiveFacts(db, fleet, provider=provider).capture(clock.now())()
        by_ref = {s.stop_id: s for s in facts.snapshot.stops}
        return by_ref[str(stops["O-NEAR"])].predicted_arrival

    told = predicted(router.fleet())
    assert told is not None and told == predicted(router.provider("cargo_bike"))
    assert told != predicted(router.provider("van"))
