"""Shared set-up of the driver tests: a seeded database, a service, images, payloads."""

from __future__ import annotations

import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

from fleet_zone import DAY, demo_day
from PIL import Image, ImageDraw
from sqlalchemy import select

from dispatcher.driver.podstore import PodStore
from dispatcher.driver.service import DriverService
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Route, Stop


def seeded(url: str) -> Database:
    db = Database(url)
    with db.session() as session:
        if not fleet_repo.count_stops(session):
            fleet_repo.save_scenario(session, demo_day(DAY))
    return db


def service(db: Database, root: Path) -> DriverService:
    return DriverService(db, PodStore(root / "pod"))


def route_refs(db: Database, vehicle_id: str) -> list[str]:
    """The order refs on ``vehicle_id``'s route of the test day, in order."""
    with db.session() as session:
        route = session.scalar(
            select(Route).where(Route.vehicle_id == vehicle_id, Route.service_date == DAY)
        )
        assert route is not None
        return list(
            session.scalars(
                select(Stop.order_ref).where(Stop.route_id == route.id).order_by(Stop.sequence)
            )
        )


def stop_place(db: Database, ref: str) -> tuple[float, float]:
    with db.session() as session:
        stop = session.scalar(select(Stop).where(Stop.order_ref == ref))
        assert stop is not None
        return stop.lat, stop.lon


def image(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), color: str = "#8d6e63") -> bytes:
    """A small picture: a door with a parcel in front of it (something to look at)."""
    w, h = size
    picture = Image.new("RGB", size, "#cfd8dc")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((w * 0.3, h * 0.1, w * 0.7, h * 0.95), fill="#455a64")  # the door
    draw.rectangle((w * 0.4, h * 0.65, w * 0.62, h * 0.95), fill=color)  # the parcel
    draw.line((w * 0.4, h * 0.8, w * 0.62, h * 0.8), fill="#d7ccc8", width=max(1, h // 60))
    out = io.BytesIO()
    picture.save(out, fmt)
    return out.getvalue()


def action(kind: str, stop: str, *, key: str | None = None, **extra: Any) -> bytes:
    now = time.time()
    body: dict[str, Any] = {
        "v": 1,
        "kind": kind,
        "stop": stop,
        "key": key or uuid.uuid4().hex,
        "ts": now,
        "sent_at": now,
    }
    body.update(extra)
    return json.dumps(body).encode()
