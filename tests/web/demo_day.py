"""A small demo day with messaging and the web front, for the customer's tests."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from fleet_zone import local

from dispatcher.app import add_messaging, add_web
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.messaging.service import MessagingService
from dispatcher.persistence import partitions
from dispatcher.persistence.orm import PositionRow, Stop
from dispatcher.users.desk import UserDesk
from dispatcher.web.server import WebServer

URL = re.compile(r"https?://\S+/t/[A-Za-z0-9_-]{39}")


def demo_core(db_url: str, tmp_path: Path, **web: Any) -> Core:
    """The demo day (2 vans, 12 orders) at 09:00 fleet time; ``ann`` is the admin."""
    settings = Settings(
        database_url=db_url,
        sections={
            "messaging": {
                "capture_file": str(tmp_path / "capture.jsonl"),
                "undo_seconds": 0,
                "company_name": "Acme Parcels",
            },
            "web": {"near_stops": 0, "poll_s": 1, **web},
        },
    )
    core = Core(settings, clock=FakeClock(local(9, 0)))
    core.seed_demo_if_empty(vehicles=2, stops=12)
    UserDesk(core.db).login("ann")
    add_messaging(core, start=False)
    add_web(core, listen="127.0.0.1:0")
    return core


def messaging(core: Core) -> MessagingService:
    return core.service(MessagingService)


def web_of(core: Core) -> WebServer:
    return core.service(WebServer)


def route_stops(core: Core, stop_id: int) -> list[int]:
    """The ids of ``stop_id``'s route in sequence."""
    with core.db.session() as s:
        route_id = s.get(Stop, stop_id).route_id  # type: ignore[union-attr]  # the stop exists
        return list(
            s.scalars(
                Stop.__table__.select()
                .with_only_columns(Stop.id)
                .where(Stop.route_id == route_id)
                .order_by(Stop.sequence)
            )
        )


def third_stop(core: Core) -> int:
    """A stop with two stops before it on its route."""
    with core.db.session() as s:
        first = s.scalars(
            Stop.__table__.select()
            .with_only_columns(Stop.id)
            .where(Stop.route_id.is_not(None), Stop.sequence == 3)
            .order_by(Stop.id)
        ).first()
    assert first is not None
    return int(first)


def finish(core: Core, stop_ids: list[int], when: datetime) -> None:
    with core.db.session() as s:
        for sid in stop_ids:
            stop = s.get(Stop, sid)
            assert stop is not None
            stop.status, stop.completed_at = "done", when


def van_at(core: Core, stop_id: int, when: datetime) -> str:
    """Store a fix of the stop's van (near the stop) at ``when``; returns the vehicle id."""
    if partitions.is_partitioned(core.db.engine):  # PostgreSQL: the day's partition first
        partitions.ensure_days(core.db.engine, [partitions.utc_day(when)])
    with core.db.session() as s:
        stop = s.get(Stop, stop_id)
        assert stop is not None and stop.route is not None
        vid = stop.route.vehicle_id
        s.add(
            PositionRow(
                vehicle_id=vid,
                ts=when,
                lat=stop.lat + 0.004,
                lon=stop.lon - 0.003,
                speed_kmh=25.0,
            )
        )
    return vid


def link_in(body: str) -> str:
    found = URL.search(body)
    assert found, body
    return found.group(0)
