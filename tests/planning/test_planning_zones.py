"""A plan counts the fleet's wall clock from its midnight, whatever the zone and the day:
windows read from UTC in the database, shifts and the speed profile all agree on what 09:00
is, on a 23-hour spring day, a 25-hour autumn day and in half-hour-offset zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.planning.dayplan import build_day_plan
from dispatcher.planning.model import from_plan_seconds, to_plan_seconds
from dispatcher.scenario.demo import demo_scenario

ZONES = [
    pytest.param("America/St_Johns", date(2026, 3, 8), 23, id="st_johns-spring-forward"),
    pytest.param("America/St_Johns", date(2026, 11, 1), 25, id="st_johns-fall-back"),
    pytest.param("Asia/Kolkata", date(2026, 11, 20), 24, id="kolkata"),
    pytest.param("Europe/London", date(2026, 3, 29), 23, id="london-spring-forward"),
]


@pytest.mark.parametrize(("zone", "day", "hours"), ZONES)
def test_plan_seconds_are_the_fleets_clock_on_any_day(zone: str, day: date, hours: int) -> None:
    tz = ZoneInfo(zone)
    midnight = datetime.combine(day, time(0), tz)
    next_midnight = datetime.combine(date.fromordinal(day.toordinal() + 1), time(0), tz)
    assert (next_midnight - midnight.astimezone(UTC)).total_seconds() == hours * 3600
    nine = datetime.combine(day, time(9, 0), tz)
    t = to_plan_seconds(nine.astimezone(UTC), midnight)  # as the database gives it back
    assert t == 9 * 3600  # on the clock, whatever the day's length
    assert from_plan_seconds(t, midnight) == nine
    assert f"{from_plan_seconds(t, midnight):%H:%M}" == "09:00"


@pytest.mark.parametrize(("zone", "day", "hours"), ZONES)
def test_shifts_and_windows_agree_on_the_day_plan(
    sqlite_url: str, zone: str, day: date, hours: int
) -> None:
    db = Database(sqlite_url)
    try:
        with db.session() as session:
            scenario = demo_scenario(day, n_orders=25, n_vehicles=3, timezone=zone)
            fleet_repo.save_scenario(session, scenario)
        with db.session() as session:
            routes = fleet_repo.load_routes(session, day)
            vehicles = fleet_repo.load_vehicles(session)
    finally:
        db.dispose()
    plan_day = build_day_plan(routes, vehicles, zone)
    assert plan_day.day == day and not plan_day.problems
    for info in vehicles:
        planned = plan_day.plan.vehicles[info.id]
        assert plan_day.clock_time(planned.shift_start).time() == info.shift_start
        assert plan_day.clock_time(planned.shift_end).time() == info.shift_end
    tz = ZoneInfo(zone)
    for view in (s for r in routes for s in r.stops if s.window_start is not None):
        stop = plan_day.plan.stops[str(view.id)]
        assert view.window_start is not None
        local = view.window_start.astimezone(tz)
        assert plan_day.clock_time(stop.window_start) == local
        assert local.minute in (0, 30) and 8 <= local.hour <= 15  # as the demo wrote them
