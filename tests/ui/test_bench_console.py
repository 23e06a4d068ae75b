"""bench/console.py at a tiny size, so the benchmark of the whole console does not rot.

Three vehicles, twenty stops, one second measured: the real window, the embedded broker and
the simulated fleet, the same code path as the 500-vehicle run (docs/console.md, "At scale").
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from dispatcher.broker import find_mosquitto
from ui.map import web  # noqa: F401  (registers the map's scheme before the QApplication)

BENCH = Path(__file__).resolve().parents[2] / "bench" / "console.py"


@pytest.mark.slow
def test_the_console_bench_runs_at_a_tiny_size(
    qapp: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (apt install mosquitto)")
    # The bench points these at its temp dir; the test gives them back afterwards.
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    spec = importlib.util.spec_from_file_location("bench_console", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_console", bench)
    spec.loader.exec_module(bench)
    shot = tmp_path / "console.png"
    args = ["--sizes", "3:20", "--seconds", "1", "--idle", "0.3", "--settle", "0.2"]
    (result,) = bench.main([*args, "--screenshot", str(shot)])
    assert (result["vehicles"], result["stops"]) == (3, 20)
    assert 0 < result["paint_s"] < 60
    assert result["run"]["ticks"] > 0 and result["idle"]["ticks"] > 0
    for key in ("routes", "alerts", "kpi"):
        wall, gui = result[key]
        assert math.isfinite(wall) and math.isfinite(gui), key
    assert result["rss"] > 0 and shot.stat().st_size > 0
