"""``dispatcher history visits`` answers proof of visit from the shell; ``history prune``
applies the retention setting now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fleet_zone import DAY, utc

import main
from dispatcher.model.core import PositionReport
from dispatcher.persistence import history_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink


def seed(url: str, fixes: list[PositionReport]) -> None:
    db = Database(url)
    SqlTelemetrySink(db).write_positions(fixes)
    db.dispose()


def test_visits_lists_the_vehicles_near_the_point(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    t = utc(10, 0)  # 10:00 in the fleet's zone, the default of --timezone
    seed(
        sqlite_url,
        [
            PositionReport("van1", t, 52.5, 13.4),
            PositionReport("van1", t + timedelta(minutes=5), 52.5001, 13.4),
            PositionReport("van2", t, 52.6, 13.4),
        ],
    )
    argv = ["history", "visits", "--lat", "52.5", "--lon", "13.4", "--radius", "50"]
    argv += ["--from", f"{DAY}T09:30", "--to", f"{DAY}T11:00", "--db", sqlite_url]
    assert main.main(argv) == 0
    out = capsys.readouterr().out
    assert "van1\t10:00:00-10:05:00\t2 fixes\tclosest 0 m" in out
    assert "van2" not in out and "1 vehicle within 50 m" in out


def test_visits_with_a_bad_time_says_so(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["history", "visits", "--lat", "52.5", "--lon", "13.4", "--from", "9 o'clock"]
    argv += ["--to", "2026-11-20T11:00", "--db", sqlite_url]
    assert main.main(argv) == 1
    assert "is not YYYY-MM-DDTHH:MM" in capsys.readouterr().err


def test_prune_applies_the_configured_retention(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    seed(
        sqlite_url,
        [
            PositionReport("v", now - timedelta(days=40), 52.5, 13.4),
            PositionReport("v", now - timedelta(days=1), 52.5, 13.4),
        ],
    )
    config = tmp_path / "config.toml"
    config.write_text("[history]\nretention_days = 30\nprune_batch = 1\n")
    assert main.main(["history", "prune", "--config", str(config), "--db", sqlite_url]) == 0
    assert "pruned 1 positions" in capsys.readouterr().out
    db = Database(sqlite_url)
    with db.session() as session:
        assert history_repo.count_positions(session) == 1
    db.dispose()
