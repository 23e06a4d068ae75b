"""History > KPI trends, driven through the real window: the period picker, the grouping,
the trend figure and the export, over a month of stored route days and the demo day."""

from __future__ import annotations

import csv
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, demo_day, utc
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog
from routes_wait import wait_for_routes

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.kpi.period import period_range
from dispatcher.persistence import fleet_repo, route_kpi_repo
from dispatcher.scenario.kpi_history import synthetic_day
from dispatcher_ui.kpi.period_view import PeriodDialog
from dispatcher_ui.main_window import MainWindow


@pytest.fixture
def window(qtbot: Any, sqlite_url: str, tmp_path: Path) -> Any:
    core = Core(Settings(database_url=sqlite_url), clock=FakeClock(utc(18)))
    with core.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
        ids = [v.id for v in fleet_repo.load_vehicles(session)]
    rng = random.Random(1)
    for back in range(1, 40):  # this month's and last month's days before the demo day
        day = DAY - timedelta(days=back)
        with core.db.session() as session:
            route_kpi_repo.store_route_days(session, day, synthetic_day(day, len(ids), rng, ids))
    win = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    wait_for_routes(qtbot, win)
    yield win
    core.close()


def loaded(qtbot: Any, dialog: PeriodDialog) -> None:
    qtbot.waitUntil(lambda: dialog.period is not None and not dialog.loading, timeout=30000)


def test_pick_a_period_group_it_and_export(qtbot: Any, window: Any, tmp_path: Path) -> None:
    action = window.shortcuts.find("window", "KPI trends").action
    assert action is not None
    action.trigger()
    dialog = window.period_dialog
    assert isinstance(dialog, PeriodDialog)
    loaded(qtbot, dialog)
    start, end = period_range("month", DAY)
    assert dialog.period is not None and (dialog.period.start, dialog.period.end) == (start, end)
    days = (DAY - start).days + 1  # the stored days of the month and the demo day
    assert f"{12 * days} routes" in dialog.status.text()

    dialog.group.setCurrentText("Vehicle")
    qtbot.waitUntil(lambda: not dialog.loading and dialog.table.rowCount() == 12, timeout=30000)
    dialog.kind.setCurrentText("Week")
    loaded(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.period is not None and dialog.period.kind == "week")
    assert (dialog.period.start, dialog.period.end) == period_range("week", DAY)

    qtbot.mouseClick(dialog.previous, Qt.MouseButton.LeftButton)  # the week before
    qtbot.waitUntil(
        lambda: (
            dialog.period is not None
            and dialog.period.start == period_range("week", DAY)[0] - timedelta(days=7)
        ),
        timeout=30000,
    )
    loaded(qtbot, dialog)
    assert dialog.table.rowCount() == 12
    assert f"{12 * 7} routes" in dialog.status.text()  # 7 stored days, none recomputed
    assert dialog.period.computed_days == ()
    for i in range(dialog.figure.count()):  # every trend figure draws
        dialog.figure.setCurrentIndex(i)

    folder = tmp_path / "out"
    folder.mkdir()

    def choose() -> None:
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog))
        box.selectFile(str(folder))
        box.accept()

    QTimer.singleShot(300, choose)
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hasattr(dialog, "last_export"), timeout=30000)
    csv_path, html_path = dialog.last_export
    with csv_path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 * 7 and {r["group"] for r in rows} == {f"V{i:02d}" for i in range(1, 13)}
    assert rows[0]["ratings"] == "0" and "avg rating" in rows[0]  # customers' feedback columns
    heads = [
        dialog.table.model().headerData(c, Qt.Orientation.Horizontal)
        for c in range(dialog.table.columnCount())
    ]
    assert heads[-2:] == ["avg rating", "ratings"]
    assert "<svg" in html_path.read_text(encoding="utf-8")
    dialog.close()
