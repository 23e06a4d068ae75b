"""``dispatcher demo|simulate --vehicles N --stops M``: sizes are checked before anything
starts (exit 2, the option named), and ``simulate`` seeds only an empty database."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_zone import demo_day

from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from main import main


@pytest.mark.parametrize("command", ["demo", "simulate"])
@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--vehicles", "0", "0 is not between 1 and 5,000"),
        ("--vehicles", "5001", "5001 is not between 1 and 5,000"),
        ("--vehicles", "ten", "'ten' is not a whole number"),
        ("--stops", "-3", "-3 is not between 1 and 100,000"),
        ("--stops", "2.5", "'2.5' is not a whole number"),
    ],
)
def test_a_bad_size_exits_2_naming_the_option(
    command: str,
    option: str,
    value: str,
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "never.sqlite3"
    with pytest.raises(SystemExit) as done:
        main(["--db", str(db), command, option, value])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {says}" in err
    assert not db.exists(), "nothing was started"


def test_simulate_does_not_add_a_fleet_to_a_planned_day(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(sqlite_url)
    with db.session() as session:
        fleet_repo.save_scenario(session, demo_day(n_vehicles=2, n_orders=10))
    db.dispose()
    code = main(["--db", sqlite_url, "--broker", "mqtt://127.0.0.1:1", "simulate", "--stops", "99"])
    assert code == 2
    err = capsys.readouterr().err
    assert "already has 10 stops" in err and "fresh --db" in err
    db = Database(sqlite_url)
    with db.session() as session:
        assert fleet_repo.count_stops(session) == 10, "nothing added"
    db.dispose()


@pytest.mark.mqtt
def test_simulate_seeds_an_empty_database_at_the_size_asked_and_drives_it(
    sqlite_url: str, mqtt_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--db", sqlite_url, "--broker", mqtt_url, "simulate", "--duration", "0.5"]
    assert main([*argv, "--vehicles", "30", "--stops", "300", "--start", "10:00"]) == 0
    out = capsys.readouterr().out
    assert "driving 30 vehicles" in out
    db = Database(sqlite_url)
    with db.session() as session:
        assert fleet_repo.count_stops(session) == 300
        assert len(fleet_repo.load_vehicles(session)) == 30
        phones = [k for k in fleet_repo.device_bindings(session) if k.startswith("owntracks:")]
    db.dispose()
    assert len(phones) == 10, phones
