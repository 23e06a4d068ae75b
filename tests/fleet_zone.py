"""The zone and the day the suite runs in, from ONE place.

``DISPATCHER_TEST_TZ`` (default: the demo's zone) and ``DISPATCHER_TEST_DAY`` (default
2026-11-20) choose them; ``.ci/test.sh`` runs the suite a second time in a half-hour-offset
zone on its DST change day, so a test that only passes in Berlin on a 24-hour day fails there.
The conftest also sets ``TZ`` to the same zone for every test: the console's default fleet
zone is the machine's, and a subprocess of a test sees the same one.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.scenario.demo import TIMEZONE as DEMO_TIMEZONE
from dispatcher.scenario.demo import demo_scenario
from dispatcher.scenario.records import Scenario

TZ_ENV = "DISPATCHER_TEST_TZ"
DAY_ENV = "DISPATCHER_TEST_DAY"

TZ_NAME = os.environ.get(TZ_ENV) or DEMO_TIMEZONE
TZ = ZoneInfo(TZ_NAME)
DAY = date.fromisoformat(os.environ.get(DAY_ENV) or "2026-11-20")


def local(h: int, m: int = 0, s: int = 0, day: date = DAY) -> datetime:
    """``h:m:s`` on ``day`` in the fleet's zone (aware)."""
    return datetime.combine(day, time(h, m, s), TZ)


def utc(h: int, m: int = 0, s: int = 0, day: date = DAY) -> datetime:
    """``h:m:s`` fleet time on ``day``, as a UTC instant (what the database stores)."""
    return local(h, m, s, day).astimezone(UTC)


def demo_day(service_date: date | None = None, **kwargs: Any) -> Scenario:
    """The demo scenario built in the suite's zone, on the suite's day by default."""
    return demo_scenario(service_date or DAY, timezone=TZ_NAME, **kwargs)
