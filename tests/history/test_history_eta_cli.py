"""``dispatcher eta learn`` writes the speed profile learned from the stored positions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fleet_zone import TZ_NAME

import main
from dispatcher.eta.learned import LearnedSpeeds
from dispatcher.model.core import PositionReport
from dispatcher.persistence.database import Database
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink


def drive(start: datetime, vehicle: str, minutes: int) -> list[PositionReport]:
    """Parked 5 minutes, then north at ~24 km/h, a fix every 30 s."""
    fixes = [
        PositionReport(vehicle, start + timedelta(seconds=30 * k), 52.5, 13.4) for k in range(10)
    ]
    for k in range(1, 2 * minutes + 1):
        when = start + timedelta(seconds=270 + 30 * k)
        fixes.append(PositionReport(vehicle, when, 52.5 + 0.0018 * k, 13.4))
    return fixes


def test_learn_writes_a_profile_the_console_can_read(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime.now(UTC) - timedelta(hours=30)
    db = Database(db_url)
    SqlTelemetrySink(db).write_positions(drive(start, "v1", 20) + drive(start, "v2", 15))
    db.dispose()
    out_file = tmp_path / "profiles" / "eta.json"
    argv = ["eta", "learn", "--days", "3", "--out", str(out_file), "--db", db_url]
    assert main.main([*argv, "--timezone", TZ_NAME]) == 0
    text = capsys.readouterr().out
    assert "learned from" in text and f'[eta] profile = "{out_file}"' in text
    speeds = LearnedSpeeds.load(out_file)
    assert speeds.zone == TZ_NAME and speeds.legs >= 10


def test_no_history_writes_nothing_and_says_so(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Database(sqlite_url).dispose()
    out_file = tmp_path / "eta.json"
    assert main.main(["eta", "learn", "--out", str(out_file), "--db", sqlite_url]) == 1
    assert "nothing written" in capsys.readouterr().out
    assert not out_file.exists()


def test_a_bad_number_of_days_is_a_clear_error(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(["eta", "learn", "--days", "0", "--db", sqlite_url]) == 1
    assert "--days must be at least 1" in capsys.readouterr().err
