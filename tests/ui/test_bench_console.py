"""bench/console.py at a tiny size, so the benchmark of the whole console does not rot.

Three vehicles, twenty stops, one second measured, in both topologies: the console alone (the
real window, the embedded broker and the simulated fleet) and the control room (the console
only reads; a broker and a recorder process of their own record, run the rules and drive the
fleet), the same code paths as the 500-vehicle run (docs/console.md, "At scale").
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dispatcher.broker import find_mosquitto

BENCH = Path(__file__).resolve().parents[2] / "bench" / "console.py"


@pytest.mark.slow
def test_the_console_bench_runs_at_a_tiny_size(tmp_path: Path) -> None:
    """In its own process, as `make bench` runs it: its own QApplication, broker and
    simulator threads, and a crash there is this test's failure, not the suite's end."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (apt install mosquitto)")
    shot, out = tmp_path / "console.png", tmp_path / "figures.json"
    args = ["--sizes", "3:20", "--seconds", "1", "--idle", "0.3", "--settle", "0.2"]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, str(BENCH), *args, "--screenshot", str(shot), "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    assert [r["topology"] for r in results] == ["room", "alone"]
    for result in results:
        assert (result["vehicles"], result["stops"]) == (3, 20)
        assert 0 < result["paint_s"] <= result["routes_s"] < 60  # the window shows, then the day
        assert result["run"]["ticks"] > 0 and result["idle"]["ticks"] > 0
        assert result["received"] > 0  # the fleet drove, through the room's broker too
        for key in ("routes", "alerts", "kpi"):
            wall, gui = result[key]
            assert math.isfinite(wall) and math.isfinite(gui), key
        assert result["rss"] > 0
    assert shot.stat().st_size > 0
    assert "goals at 3 vehicles (room)" in done.stdout
