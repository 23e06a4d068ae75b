"""The command line refuses what it cannot do, in words: a read-only command on a mistyped
``--db`` creates nothing, a recorder that never reaches its broker says so and exits 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from main import main

REPO = Path(__file__).resolve().parents[2]

READ_ONLY = [
    ["alerts"],
    ["outbox"],
    [
        "history",
        "visits",
        "--lat",
        "52.5",
        "--lon",
        "13.4",
        "--from",
        "2026-11-20T08:00",
        "--to",
        "2026-11-20T09:00",
    ],
    ["db", "current"],
    ["report", "day", "--date", "2026-11-20", "--out", "OUT"],
]


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: " ".join(c[:2]))
def test_a_read_only_command_on_a_mistyped_db_creates_nothing(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "dispatcehr" / "data.sqlite3"
    argv = ["--db", str(typo), *[str(tmp_path / "out") if a == "OUT" else a for a in command]]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"there is no database at {typo}" in err and "does not create one" in err
    assert not typo.parent.exists(), "no folder, no empty database"


def serve(broker: str, db: Path, seconds: float) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(REPO / "main.py"), "--db", str(db), "--broker", broker, "serve"]
    return subprocess.run(
        [*cmd, "--duration", str(seconds)],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def test_a_recorder_that_never_reaches_its_broker_says_so_and_exits_1(tmp_path: Path) -> None:
    done = serve("mqtt://127.0.0.1:1", tmp_path / "rec.sqlite3", 3)
    assert done.returncode == 1, done.stderr
    assert "cannot reach the broker at mqtt://127.0.0.1:1 (retrying)" in done.stderr
    assert "never connected to the MQTT broker at mqtt://127.0.0.1:1" in done.stderr


@pytest.mark.mqtt
def test_a_recorder_that_connected_says_so_and_exits_0(mqtt_url: str, tmp_path: Path) -> None:
    done = serve(mqtt_url, tmp_path / "rec.sqlite3", 2)
    assert done.returncode == 0, done.stderr
    assert f"broker connected: connected to {mqtt_url}" in done.stderr
