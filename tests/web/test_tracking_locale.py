"""The tracking page's times and dates follow the fleet's ``[fleet] locale`` (docs/web.md).

Without one, the console's own 24-hour clock and an English day; with ``fi_FI``, Finnish
times (``10.30``) and date order (``perjantai 20. marraskuuta 2026``); with ``en_US`` a 12-hour
clock. The texts around them stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from demo_day import demo_core, third_stop

from dispatcher import display
from dispatcher.core import Core
from dispatcher.display import Display
from dispatcher.web.tracking import tracking_view


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Iterator[Core]:
    core = demo_core(db_url, tmp_path)
    yield core
    core.close()


def view_in(core: Core, locale: str | None) -> dict[str, str]:
    display._Process.display = Display(locale=locale, zone=core.fleet.timezone)
    try:
        view = tracking_view(
            core.db, third_stop(core), core.clock.now(), core.fleet.timezone, near_stops=0
        )
    finally:
        display.reset()
    return {"window": view.window, "eta": view.eta_window, "day": view.day}


def test_times_and_dates_on_the_page_follow_the_fleets_locale(core: Core) -> None:
    plain, finnish, us = view_in(core, None), view_in(core, "fi_FI"), view_in(core, "en_US")
    assert plain["window"] and ":" in plain["window"] and "." not in plain["window"]
    assert finnish["window"] == plain["window"].replace(":", ".")  # 24 h, H.mm
    assert finnish["eta"] == plain["eta"].replace(":", ".")
    assert plain["day"].split()[0].endswith("day")  # Monday ... Sunday
    assert finnish["day"].split()[0].endswith("ai")  # maanantai ... lauantai, sunnuntai
    assert finnish["day"].split()[1].endswith(".")  # day before month: "20. marraskuuta"
    assert "AM" in us["window"] or "PM" in us["window"]
