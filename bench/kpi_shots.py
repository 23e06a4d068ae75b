"""Screenshots of the KPI trends window for docs/kpi.md.

Run ``QT_QPA_PLATFORM=offscreen python bench/kpi_shots.py OUT_DIR``. It builds the demo day
in a temporary SQLite database, stores a month of seeded past route days before it
(:mod:`dispatcher.scenario.kpi_history`: the demo day itself is computed for real), opens
History > KPI trends on the real window and writes ``kpi_period.png`` (the month by vehicle,
on-time trend) and ``kpi_period_cost.png`` (the month for the fleet, cost trend).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from dispatcher.app import build_core
from dispatcher.clock import FakeClock, system_monotonic
from dispatcher.config import Settings
from dispatcher.persistence import fleet_repo, route_kpi_repo
from dispatcher.scenario.demo import TIMEZONE, demo_scenario
from dispatcher.scenario.kpi_history import synthetic_day
from dispatcher_ui.kpi.period_view import PeriodDialog, open_period_view
from dispatcher_ui.main_window import MainWindow


def wait(done: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = system_monotonic() + timeout_s
    while not done():
        if system_monotonic() > deadline:
            raise TimeoutError("the KPI trends window did not load")
        QApplication.processEvents()
        time.sleep(0.02)


def main(out: Path) -> None:
    from zoneinfo import ZoneInfo

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    day = datetime(2026, 11, 27).date()
    now = datetime.combine(day, clock_time(18), ZoneInfo(TIMEZONE)).astimezone(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        core = build_core(
            Settings(database_url=f"sqlite:///{Path(tmp) / 'shots.sqlite3'}"),
            clock=FakeClock(now),
        )
        with core.db.session() as session:
            fleet_repo.save_scenario(session, demo_scenario(day))
            ids = [v.id for v in fleet_repo.load_vehicles(session)]
        rng = random.Random(3)
        for back in range(1, 27):
            past = day - timedelta(days=back)
            if past.weekday() == 6:
                continue  # no Sunday rounds
            with core.db.session() as session:
                rows = synthetic_day(past, len(ids), rng, ids)
                route_kpi_repo.store_route_days(session, past, rows)
        window = MainWindow(core, QSettings(str(Path(tmp) / "ui.ini"), QSettings.Format.IniFormat))
        window.resize(1400, 900)
        window.show()
        dialog: PeriodDialog = open_period_view(window)
        dialog.resize(1280, 760)
        wait(lambda: dialog.period is not None and not dialog.loading)
        dialog.group.setCurrentText("Vehicle")
        wait(lambda: not dialog.loading and dialog.table.rowCount() == len(ids))
        dialog.figure.setCurrentText("On time %")
        app.processEvents()
        dialog.grab().save(str(out / "kpi_period.png"))
        dialog.group.setCurrentText("Fleet")
        wait(lambda: not dialog.loading and dialog.table.rowCount() == 1)
        dialog.figure.setCurrentText("Cost per parcel")
        app.processEvents()
        dialog.grab().save(str(out / "kpi_period_cost.png"))
        dialog.close()
        window.close()
        core.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
