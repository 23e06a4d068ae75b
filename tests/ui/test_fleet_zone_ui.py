"""A Manchester fleet's console shows its CSV window 09:00-12:00 as 09:00-12:00, whatever
zone the workstation (or this suite) runs in: the window reads the fleet's zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from routes_wait import wait_for_routes

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.fleet_settings import check_zone
from dispatcher.importing.service import import_orders
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes_model import Column

DAY = date(2026, 3, 29)  # the UK's spring-forward day


@pytest.fixture
def manchester(sqlite_url: str, tmp_path: Path) -> Iterator[Core]:
    settings = Settings(database_url=sqlite_url, sections={"fleet": {"timezone": "Europe/London"}})
    now = datetime.combine(DAY, time(8, 0), check_zone("Europe/London", "test"))
    core = Core(settings, clock=FakeClock(now))
    csv = tmp_path / "manchester.csv"
    csv.write_text(
        "order_id,customer_name,lat,lon,window_start,window_end\n"
        "M-1,Ada Lovelace,53.4794,-2.2453,09:00,12:00\n"
    )
    report = import_orders(
        core.db, csv, default_date=DAY, timezone=core.fleet.timezone, actor=core.user.id
    )
    assert report.inserted == 1
    yield core
    core.close()


def test_the_route_list_shows_the_window_as_written(
    qtbot, manchester: Core, tmp_path: Path
) -> None:
    window = MainWindow(manchester, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    assert window.service_day == DAY
    model = window.routes_model
    pool = model.index(model.rowCount() - 1, 0)
    assert model.index(0, Column.WINDOW, pool).data() == "09:00–12:00"
