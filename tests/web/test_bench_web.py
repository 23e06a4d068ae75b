"""``bench/web.py`` runs end to end, small: watchers hold streams, updates reach them.

The figures themselves are the bench's business (docs/web.md, Measured); this only keeps
the bench working: every phase reports, no request fails, every change reaches its pages.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_web_bench_runs_small_and_reports_every_figure() -> None:
    small = ["--watchers", "40", "--ramp", "1", "--seconds", "3", "--rate", "5"]
    small += ["--requests", "40", "--concurrency", "4", "--workers", "1"]
    # This checkout first (the venv may have another one installed), then what the test sees.
    paths = [str(REPO), str(REPO / "ui"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "web.py"), *small],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "40 streams open after the arrivals, 40 at the end" in out, out
    for name in ("page load (arrivals)", "page load", "hello world"):
        assert re.search(rf"{re.escape(name)} +p50 +[\d.]+ ms +p99 +[\d.]+ ms", out), out
    assert "errors 0" in out and not re.search(r"errors [1-9]", out), out
    seen = re.search(r"update delay .*\((\d+) page updates, 0 not seen", out)
    assert seen and int(seen.group(1)) > 0, out
    assert re.search(r"server RSS \d+ MB", out), out
    assert "page / hello p99:" in out


def test_the_web_bench_explains_its_options() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "web.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for option in ("--watchers", "--workers", "--seconds", "--rate", "--concurrency"):
        assert option in done.stdout
    assert "1,000" in done.stdout  # the goal, in the help's epilog
