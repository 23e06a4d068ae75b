"""Fleet setup without SQL: the desk, the CSV import and ``dispatcher fleet`` on both databases."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dispatcher.cli import build_parser, run_headless
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.errors import PermissionDenied, ValidationError
from dispatcher.fleet.setup import FleetSetupDesk
from dispatcher.model.fleet_setup import FieldErrors
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry, Route, Stop
from dispatcher.users.desk import UserDesk

TZ = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
HUB = {"id": "HUB", "name": "Manchester hub", "lat": "53.48", "lon": "-2.24"}
VAN = {"id": "V1", "name": "Van 1", "plate": "MA12ABC", "depot_id": "HUB", "capacity": "80"}


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def desk(db: Database) -> FleetSetupDesk:
    UserDesk(db).login("admin")  # the first login on an empty database is the admin
    return FleetSetupDesk(db, TZ, FakeClock(NOW))


def test_a_depot_a_van_and_a_driver_are_stored_and_audited_with_the_actor(
    desk: FleetSetupDesk, db: Database
) -> None:
    desk.save("admin", "depot", HUB | {"opens_at": "06:00", "closes_at": "20:00"}, new=True)
    desk.save("admin", "driver", {"id": "ann", "name": "Ann", "phone": "+44 7700 900001"}, new=True)
    desk.save("admin", "vehicle", VAN | {"driver_id": "ann", "skills": "cold, lift"}, new=True)
    fleet = desk.fleet()
    assert fleet["depots"][0]["opens_at"] == "06:00"
    assert fleet["vehicles"][0]["skills"] == ["cold", "lift"]
    assert fleet["vehicles"][0]["driver_id"] == "ann"
    with db.session() as session:
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        vehicles = fleet_repo.load_vehicles(session)
    assert [(a.actor, a.action) for a in audit if a.entity != "user"] == [
        ("admin", "depot.create"),
        ("admin", "driver.create"),
        ("admin", "vehicle.create"),
    ]
    assert vehicles[0].driver_name == "Ann", "the planner reads the new van"


def test_every_bad_field_has_its_message_and_nothing_is_saved(
    desk: FleetSetupDesk, db: Database
) -> None:
    with pytest.raises(FieldErrors) as caught:
        desk.save(
            "admin",
            "vehicle",
            {"id": "V 1", "name": "", "capacity": "-3", "shift_start": "18:00", "cost_per_km": "x"},
            new=True,
        )
    assert set(caught.value.fields) == {"id", "name", "capacity", "shift_end", "cost_per_km"}
    with pytest.raises(FieldErrors, match="lat: required"):
        desk.save("admin", "depot", {"id": "D", "name": "D", "lon": "2"}, new=True)
    with pytest.raises(FieldErrors, match="not text"):
        desk.save("admin", "driver", {"id": "d", "name": "Nul\x00l"}, new=True)
    assert desk.fleet() == {"depots": [], "vehicles": [], "drivers": [], "assignments": []}


def test_duplicate_names_and_plates_and_unknown_depots_are_refused(desk: FleetSetupDesk) -> None:
    desk.save("admin", "depot", HUB, new=True)
    desk.save("admin", "vehicle", VAN, new=True)
    with pytest.raises(FieldErrors, match="plate: 'ma12abc' is already used by V1"):
        desk.save(
            "admin", "vehicle", VAN | {"id": "V2", "name": "Van 2", "plate": "ma12abc"}, new=True
        )
    with pytest.raises(FieldErrors, match="name: 'Van 1' is already used by V1"):
        desk.save("admin", "vehicle", VAN | {"id": "V2", "plate": "X"}, new=True)
    with pytest.raises(FieldErrors, match="id: 'V1' already exists"):
        desk.save("admin", "vehicle", VAN, new=True)
    with pytest.raises(FieldErrors, match="depot_id: no depot 'NOPE'"):
        desk.save(
            "admin",
            "vehicle",
            VAN | {"id": "V2", "name": "V2", "plate": "", "depot_id": "NOPE"},
            new=True,
        )
    assert [v["id"] for v in desk.fleet()["vehicles"]] == ["V1"]


def test_a_driver_on_two_vans_the_same_day_is_refused(desk: FleetSetupDesk) -> None:
    desk.save("admin", "depot", HUB, new=True)
    desk.save("admin", "vehicle", VAN, new=True)
    desk.save("admin", "vehicle", VAN | {"id": "V2", "name": "Van 2", "plate": "B"}, new=True)
    desk.save("admin", "driver", {"id": "ann", "name": "Ann"}, new=True)
    desk.assign("admin", {"date": "2026-12-05", "vehicle_id": "V1", "driver_id": "ann"})
    with pytest.raises(FieldErrors, match="ann already drives V1 on 2026-12-05"):
        desk.assign("admin", {"date": "2026-12-05", "vehicle_id": "V2", "driver_id": "ann"})
    desk.assign("admin", {"date": "2026-12-06", "vehicle_id": "V2", "driver_id": "ann"})
    assert len(desk.fleet()["assignments"]) == 2


def test_the_route_list_names_the_driver_of_the_day(desk: FleetSetupDesk, db: Database) -> None:
    desk.save("admin", "depot", HUB, new=True)
    desk.save("admin", "driver", {"id": "ann", "name": "Ann"}, new=True)
    desk.save("admin", "driver", {"id": "bob", "name": "Bob"}, new=True)
    desk.save("admin", "vehicle", VAN | {"driver_id": "ann"}, new=True)
    day = date(2026, 12, 5)
    with db.session() as session:
        session.add(Route(vehicle_id="V1", service_date=day))
    desk.assign("admin", {"date": day.isoformat(), "vehicle_id": "V1", "driver_id": "bob"})
    with db.session() as session:
        assert [r.driver_name for r in fleet_repo.load_routes(session, day)] == ["Bob"]
        other = fleet_repo.load_routes(session, date(2026, 12, 6))
    assert other == [], "no stops that day"


def test_a_vehicle_on_the_road_cannot_be_deleted_only_retired(
    desk: FleetSetupDesk, db: Database
) -> None:
    desk.save("admin", "depot", HUB, new=True)
    desk.save("admin", "vehicle", VAN, new=True)
    desk.save("admin", "vehicle", VAN | {"id": "V9", "name": "Spare", "plate": ""}, new=True)
    with db.session() as session:
        route = Route(vehicle_id="V1", service_date=date(2026, 12, 4))
        session.add(route)
        session.flush()
        session.add(
            Stop(
                order_ref="O1",
                service_date=route.service_date,
                lat=53.4,
                lon=-2.2,
                route_id=route.id,
                sequence=1,
                status="arrived",
            )
        )
    with pytest.raises(ValidationError, match=r"V1 is on the road.*Retire it instead"):
        desk.delete_vehicle("admin", "V1")
    desk.retire("admin", "vehicle", "V1")
    desk.delete_vehicle("admin", "V9")
    vehicles = desk.fleet()["vehicles"]
    assert [(v["id"], v["active"]) for v in vehicles] == [("V1", False)]


def test_the_last_change_can_be_undone(desk: FleetSetupDesk) -> None:
    desk.save("admin", "depot", HUB, new=True)
    desk.save("admin", "depot", HUB | {"name": "Renamed"}, new=False)
    assert desk.undo("admin") == "restored depot HUB"
    assert desk.fleet()["depots"][0]["name"] == "Manchester hub"
    desk.save("admin", "vehicle", VAN, new=True)
    assert desk.undo("admin") == "deleted new vehicle V1"
    desk.retire("admin", "depot", "HUB")
    desk.undo("admin")
    assert desk.fleet()["depots"][0]["active"] is True and desk.fleet()["vehicles"] == []
    with pytest.raises(ValidationError, match="nothing to undo"):
        desk.undo("admin")


def test_a_dispatcher_or_viewer_cannot_change_the_fleet(desk: FleetSetupDesk, db: Database) -> None:
    users = UserDesk(db)
    users.login("dora")  # a later login: dispatcher
    users.add("admin", "vic", "viewer")
    for who in ("dora", "vic", "nobody"):
        with pytest.raises(PermissionDenied):
            desk.save(who, "depot", HUB, new=True)
    assert desk.fleet()["depots"] == []


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cli(db_url: str, *argv: str) -> tuple[int, str]:
    args = build_parser().parse_args([*argv, "--db", db_url])
    out = io.StringIO()
    return run_headless(args, Settings(database_url=db_url), out), out.getvalue()


def test_cli_imports_depots_vehicles_drivers_with_per_line_errors(
    db_url: str, tmp_path: Path
) -> None:
    depots = write(
        tmp_path, "d.csv", "Depot;Name;Latitude;Longitude;Opens\nHUB;Hub;53.4;-2.2;06:00\n"
    )
    assert cli(db_url, "import", "depots", str(depots)) == (
        0,
        "imported 1 new depots, updated 0, 0 rows rejected\n",
    )
    drivers = write(tmp_path, "dr.csv", "name,phone,device\nAnn,+44 1,phone-ann\nBob,call me,\n")
    code, out = cli(db_url, "import", "drivers", str(drivers))
    assert code == 2 and "line 3: phone: 'call me' is not a phone number" in out
    vans = write(
        tmp_path,
        "v.csv",
        "id,name,plate,capacity,depot,driver\nV1,Van 1,P1,50,HUB,Ann\nV2,Van 2,p1,50,HUB,\n"
        "V3,Van 3,P3,lots,HUB,\nV4,Van 4,P4,9,HUB,\n",
    )
    code, out = cli(db_url, "import", "vehicles", str(vans))
    assert code == 2
    assert "line 3: plate: 'p1' is already used by V1" in out
    assert "line 4: capacity: 'lots' is not a number" in out
    assert "imported 2 new vehicles, updated 0, 2 rows rejected" in out
    code, out = cli(db_url, "fleet", "list", "--json")
    fleet = json.loads(out)
    assert code == 0 and set(fleet) >= {"depots", "vehicles", "drivers"}
    assert [v["id"] for v in fleet["vehicles"]] == ["V1", "V4"]
    assert fleet["drivers"][0] == {
        "id": "Ann",
        "name": "Ann",
        "phone": "+44 1",
        "device_key": "phone-ann",
        "active": True,
    }


def test_cli_add_edit_assign_and_exit_codes(db_url: str) -> None:
    assert (
        cli(db_url, "fleet", "add-depot", "HUB", "--name", "Hub", "--lat", "53", "--lon", "-2")[0]
        == 0
    )
    assert cli(db_url, "fleet", "add-driver", "ann", "--name", "Ann")[0] == 0
    assert cli(db_url, "fleet", "add-vehicle", "V1", "--name", "Van", "--depot", "HUB")[0] == 0
    code, out = cli(db_url, "fleet", "edit-vehicle", "V1", "--capacity", "0")
    assert code == 2 and "capacity: '0' is out of range" in out
    assert cli(db_url, "fleet", "edit-vehicle", "V1", "--capacity", "70")[0] == 0
    assert cli(db_url, "fleet", "assign", "V1", "ann", "--date", "2026-12-05")[0] == 0
    code, out = cli(db_url, "fleet", "assign", "V1", "ann", "--date", "5.12.")
    assert code == 2 and "date: '5.12.' is not a date" in out
    fleet = json.loads(cli(db_url, "fleet", "list", "--json")[1])
    assert fleet["vehicles"][0]["capacity"] == 70
    assert fleet["assignments"] == [{"date": "2026-12-05", "vehicle_id": "V1", "driver_id": "ann"}]


@pytest.mark.parametrize(
    "argv",
    [
        ["fleet", "--help"],
        ["fleet", "list", "--help"],
        ["fleet", "add-vehicle", "--help"],
        ["import", "vehicles", "--help"],
        ["users", "--help"],
        ["users", "set-role", "--help"],
    ],
)
def test_every_fleet_and_users_command_has_help(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(argv)
    assert done.value.code == 0
