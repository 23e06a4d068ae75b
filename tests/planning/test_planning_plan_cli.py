"""``dispatcher plan --date``: tomorrow's unassigned orders are put on the vans and saved,
while today's routes (running) are left exactly as they were."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from fleet_zone import DAY, TZ_NAME, demo_day
from sqlalchemy import update

from dispatcher.eta.travel import HaversineProvider
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Vehicle
from dispatcher.planning.dayplan import build_day_plan
from dispatcher.planning.evaluate import evaluate_plan
from dispatcher.planning.model import PlanMatrix
from main import main

TOMORROW = DAY + timedelta(days=1)


def _routes(db: Database, day: date) -> dict[str, list[int]]:
    with db.session() as session:
        return {r.vehicle_id: [s.id for s in r.stops] for r in fleet_repo.load_routes(session, day)}


@pytest.fixture
def two_days(db_url: str) -> str:
    db = Database(db_url)
    try:
        with db.session() as session:
            fleet_repo.save_scenario(session, demo_day(DAY, n_orders=20, n_vehicles=3))
            tomorrow = demo_day(TOMORROW, seed=11, n_orders=24, n_vehicles=3)
            tomorrow.routes = {}  # imported, not planned yet
            fleet_repo.save_scenario(session, tomorrow)
    finally:
        db.dispose()
    return db_url


def test_plan_assigns_tomorrow_and_leaves_today_alone(
    two_days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(two_days)
    try:
        today_before = _routes(db, DAY)
        assert _routes(db, TOMORROW) == {"": _routes(db, TOMORROW)[""]}  # all unassigned
        rc = main(
            ["--db", two_days, "plan", "--date", str(TOMORROW), "--time-limit", "2", "--json"]
        )
        out = json.loads(capsys.readouterr().out)
        assert rc == 0
        assert set(out) == {
            "date",
            "vehicles",
            "stops",
            "unassigned",
            "distance_km",
            "late",
            "cost",
        }
        assert out["cost"] == 0  # the demo fleet has no costs: distance only
        assert out["date"] == str(TOMORROW)
        assert out["stops"] + out["unassigned"] == 24 and out["stops"] > 0
        assert 1 <= out["vehicles"] <= 3 and out["distance_km"] > 0
        after = _routes(db, TOMORROW)
        assert sum(len(ids) for vid, ids in after.items() if vid) == out["stops"]
        assert _routes(db, DAY) == today_before
    finally:
        db.dispose()


def test_planning_twice_changes_nothing_more(
    two_days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--db", two_days, "plan", "--date", str(TOMORROW), "--time-limit", "1"]
    assert main(args) == 0
    db = Database(two_days)
    try:
        first = _routes(db, TOMORROW)
        assert main(args) == 0  # nothing unassigned: no optimizer run, no save
        assert _routes(db, TOMORROW) == first
    finally:
        db.dispose()
    assert f"{TOMORROW}:" in capsys.readouterr().out


def test_costs_set_in_the_fleet_setup_reach_the_plan(
    two_days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rates per km and per hour (vehicles.csv, the fleet setup) are what the plan costs; no
    van waits at its first stop (it leaves as late as that window allows)."""
    db = Database(two_days)
    try:
        with db.session() as session:
            session.execute(update(Vehicle).values(cost_per_km=0.5, cost_per_hour=25.0))
        rc = main(
            ["--db", two_days, "plan", "--date", str(TOMORROW), "--time-limit", "2", "--json"]
        )
        out = json.loads(capsys.readouterr().out)
        assert rc == 0 and out["unassigned"] == 0 and out["late"] == 0
        with db.session() as session:
            routes = fleet_repo.load_routes(session, TOMORROW)
            vehicles = fleet_repo.load_vehicles(session)
        assert {(v.cost_per_km, v.cost_per_hour) for v in vehicles} == {(0.5, 25.0)}
        day = build_day_plan(routes, vehicles, TZ_NAME, day=TOMORROW)
        ev = evaluate_plan(PlanMatrix.build(day.plan, HaversineProvider()), day.plan)
        used = [e for e in ev.routes.values() if e.stop_ids]
        assert used and all(float(e.waiting[0]) < 1.0 for e in used)
        # the hours are counted as the solvers count them: from the latest start that keeps
        # every window, which is at most the boards' duration (they serve each stop early)
        km, hours = ev.distance / 1000, sum(e.duration for e in used) / 3600
        assert 0.5 * km < out["cost"] <= 0.5 * km + 25.0 * hours + 0.01
        assert out["cost"] == pytest.approx(ev.cost, abs=0.01)
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "bad",
    [["--date", "2026-13-01"], ["--date", "tomorrow"], ["--date", str(DAY), "--time-limit", "0"]],
)
def test_bad_input_exits_2(sqlite_url: str, bad: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--db", sqlite_url, "plan", *bad])
    assert exc.value.code == 2


def test_a_day_without_vehicles_is_an_error(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", sqlite_url, "plan", "--date", str(DAY)]) == 1
    assert "no active vehicle" in capsys.readouterr().err


def test_help_names_the_json_fields(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["plan", "--help"])
    assert exc.value.code == 0
    assert "distance_km" in capsys.readouterr().out
