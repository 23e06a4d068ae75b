"""What the driver app's push channel polls: cheap change markers, one query each.

The desk and the web front may be different processes (a console beside ``dispatcher serve
--web``), so the web front cannot rely on an in-process event to learn that the desk moved a
stop. It watches what every save already writes: the route's ``version`` (bumped by every
route edit, by the optimistic lock of :func:`~dispatcher.persistence.fleet_repo.save_routes`,
whichever process saved), the newest message id of each vehicle, and which of the watched
phones are still paired. Three indexed reads, whatever the number of open streams.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatcher.persistence.orm import DriverAppDevice, DriverMessage, Route


@dataclass(frozen=True, slots=True)
class PushMarks:
    """Change markers of the watched vehicles and phones at one instant."""

    #: vehicle id → version of its route of the day (absent: no route row).
    routes: dict[str, int]
    #: vehicle id → newest driver_messages id (absent: no message yet).
    messages: dict[str, int]
    #: the watched phones that are still paired (not revoked, not deleted).
    live: frozenset[str]


def push_marks(
    session: Session, day: date, vehicle_ids: Collection[str], device_ids: Collection[str]
) -> PushMarks:
    vids, devs = sorted(set(vehicle_ids)), sorted(set(device_ids))
    routes: dict[str, int] = {}
    messages: dict[str, int] = {}
    live: frozenset[str] = frozenset()
    if vids:
        rows = session.execute(
            select(Route.vehicle_id, Route.version).where(
                Route.service_date == day, Route.vehicle_id.in_(vids)
            )
        )
        routes = {vid: int(version) for vid, version in rows}
        newest = session.execute(
            select(DriverMessage.vehicle_id, func.max(DriverMessage.id))
            .where(DriverMessage.vehicle_id.in_(vids))
            .group_by(DriverMessage.vehicle_id)
        )
        messages = {vid: int(top) for vid, top in newest if top is not None}
    if devs:
        found = session.scalars(
            select(DriverAppDevice.id).where(
                DriverAppDevice.id.in_(devs), DriverAppDevice.revoked_at.is_(None)
            )
        )
        live = frozenset(found)
    return PushMarks(routes, messages, live)
