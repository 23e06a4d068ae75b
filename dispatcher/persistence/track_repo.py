"""What the customers' tracking pages read, a route at a time, and their change markers.

A thousand open tracking pages are a few hundred orders on a dozen routes. Reading each
order's route once per page (the route walk of :func:`~dispatcher.persistence.
messaging_repo.load_stop_contact`) costs a route walk per order; :func:`load_tracked`
reads the asked-for stops, each of their routes once, the vans' last positions, proofs of
delivery and ratings in one unit of work, whatever the number of orders per route.

:func:`track_marks` is what the web front's watcher (:mod:`dispatcher.web.track_push`)
polls to learn that something a page shows changed, in whichever process it was saved: the
route's version (every route edit), every stop's status, sequence, times, notes and proof
(telemetry writes statuses with a bulk UPDATE that does not bump the stop's version, so the
values themselves are compared), and the van's newest fix. Two or three indexed reads per
tick, whatever the number of open pages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from dispatcher.model.messaging import CustomerPreferences, StopContact
from dispatcher.persistence import driver_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.messaging_repo import _route_part, _route_stop, _status
from dispatcher.persistence.orm import (
    CustomerFeedbackRow,
    PositionRow,
    Route,
    Stop,
    Vehicle,
)

_CHUNK = 500
#: What a marker compares of each stop (route id first, then :func:`_stop_key`'s order).
_MARK_COLUMNS = (
    Stop.route_id,
    Stop.id,
    Stop.version,
    Stop.status,
    Stop.sequence,
    Stop.pod_ref,
    Stop.completed_at,
    Stop.actual_arrival,
    Stop.window_start,
    Stop.window_end,
    func.length(Stop.notes),
    Stop.service_date,
)


@dataclass(frozen=True, slots=True)
class TrackedStop:
    """One order as its tracking page needs it (plain values, no session)."""

    contact: StopContact
    route_id: int | None
    notes: str
    day: date | None
    pod_recipient: str = ""
    #: ``(sha256, format)`` of the first POD photo (never a signature).
    pod_photo: tuple[str, str] | None = None
    rating: int = 0


@dataclass(frozen=True, slots=True)
class Tracked:
    """The stops found (absent: no such stop) and the vans' newest fixes in the window."""

    stops: dict[int, TrackedStop] = field(default_factory=dict)
    #: vehicle id → (lat, lon, when) of its newest fix in ``[since, until]``.
    fixes: dict[str, tuple[float, float, datetime]] = field(default_factory=dict)
    #: The markers of what was read (as :func:`track_marks` would read them now), so a
    #: watcher's first look at these routes is not taken for a change.
    marks: TrackMarks | None = None


def load_tracked(
    db: Database,
    stop_ids: Collection[int],
    tz: str,
    since: datetime,
    until: datetime,
    *,
    whole_routes: bool = False,
) -> Tracked:
    """Every stop of ``stop_ids`` with its route (each route read once), in one session;
    with ``whole_routes`` every other stop of those routes too (read anyway: no extra query)."""
    wanted = sorted(set(stop_ids))
    found: dict[int, TrackedStop] = {}
    fixes: dict[str, tuple[float, float, datetime]] = {}
    no_customer = CustomerPreferences(customer_id=None)
    with db.session() as session:
        stops: list[Stop] = []
        for i in range(0, len(wanted), _CHUNK):
            stops.extend(session.scalars(select(Stop).where(Stop.id.in_(wanted[i : i + _CHUNK]))))
        route_ids = sorted({s.route_id for s in stops if s.route_id is not None})
        routes: dict[int, Route] = {}
        for i in range(0, len(route_ids), _CHUNK):
            rows = session.scalars(
                select(Route)
                .where(Route.id.in_(route_ids[i : i + _CHUNK]))
                .options(
                    selectinload(Route.stops),
                    selectinload(Route.vehicle).selectinload(Vehicle.driver),
                    selectinload(Route.vehicle).selectinload(Vehicle.depot),
                )
            )
            routes.update({r.id: r for r in rows})
        parts = {
            rid: (_route_part(r, tz), tuple(map(_route_stop, r.stops))) for rid, r in routes.items()
        }
        if whole_routes:
            known = {s.id for s in stops}
            stops.extend(s for r in routes.values() for s in r.stops if s.id not in known)
        done_refs = [s.order_ref for s in stops if s.status == "done"]
        pods = driver_repo.latest_pods(session, done_refs) if done_refs else {}
        final = [s.id for s in stops if _status(s.status).is_final]
        ratings: dict[int, int] = {}
        for i in range(0, len(final), _CHUNK):
            given = session.execute(
                select(CustomerFeedbackRow.stop_id, CustomerFeedbackRow.rating).where(
                    CustomerFeedbackRow.stop_id.in_(final[i : i + _CHUNK])
                )
            )
            ratings.update({int(sid): int(rating or 0) for sid, rating in given})
        vehicles = sorted({r.vehicle_id for r in routes.values()})
        for vid in vehicles:  # one indexed probe each (positions are partitioned by day)
            row = session.execute(
                select(PositionRow.lat, PositionRow.lon, PositionRow.ts)
                .where(
                    PositionRow.vehicle_id == vid,
                    PositionRow.ts >= since,
                    PositionRow.ts <= until,
                )
                .order_by(PositionRow.ts.desc())
                .limit(1)
            ).first()
            if row is not None:
                fixes[vid] = (float(row[0]), float(row[1]), row[2])
        marks = TrackMarks(
            {
                rid: _route_digest(r.version, r.vehicle_id, map(_stop_key, r.stops))
                for rid, r in routes.items()
            },
            {s.id: repr((s.route_id, *_stop_key(s))) for s in stops if s.route_id not in routes},
            {vid: fix[2] for vid, fix in fixes.items()},
        )
        for stop in stops:
            part, route_stops = parts.get(stop.route_id or -1, ({}, ()))
            contact = StopContact(
                stop_id=stop.id,
                order_ref=stop.order_ref,
                status=_status(stop.status),
                customer=no_customer,
                address=stop.address,
                window_start=stop.window_start,
                window_end=stop.window_end,
                planned_arrival=stop.planned_arrival,
                pod_ref=stop.pod_ref,
                failure_reason=stop.failure_reason,
                completed_at=stop.completed_at,
                route=route_stops,
                **part,
            )
            pod = pods.get(stop.order_ref)
            photo = next((f for f in pod.files if f.get("role") == "photo"), None) if pod else None
            found[stop.id] = TrackedStop(
                contact=contact,
                route_id=stop.route_id if stop.route_id in routes else None,
                notes=stop.notes or "",
                day=stop.service_date,
                pod_recipient=pod.recipient if pod else "",
                pod_photo=(str(photo["sha256"]), str(photo["format"])) if photo else None,
                rating=int(ratings.get(stop.id, 0) or 0),
            )
    return Tracked(found, fixes, marks)


def _stop_key(stop: Stop) -> tuple[Any, ...]:
    """What a marker compares of a loaded stop: the columns of :data:`_MARK_COLUMNS`."""
    notes = len(stop.notes) if stop.notes is not None else None
    return (
        stop.id,
        stop.version,
        stop.status,
        stop.sequence,
        stop.pod_ref,
        stop.completed_at,
        stop.actual_arrival,
        stop.window_start,
        stop.window_end,
        notes,
        stop.service_date,
    )


def _route_digest(version: Any, vehicle_id: Any, stops: Iterable[tuple[Any, ...]]) -> str:
    """A route's marker: its version and vehicle, and every stop's key in id order."""
    digest = hashlib.blake2b(f"{version}|{vehicle_id}".encode(), digest_size=12)
    for key in sorted(stops, key=lambda k: k[0]):
        digest.update(repr(tuple(key)).encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class TrackMarks:
    """Fingerprints of what the watched pages show, at one instant."""

    #: route id → fingerprint of the route row and all its stops (absent: route gone).
    routes: dict[int, str]
    #: stop id → fingerprint, for watched stops on no route.
    loose: dict[int, str]
    #: vehicle id → its newest fix's time (absent: none since ``since``).
    fixes: dict[str, datetime]


def track_marks(
    db: Database,
    route_ids: Collection[int],
    loose_ids: Collection[int],
    vehicle_ids: Collection[str],
    since: datetime,
) -> TrackMarks:
    """The markers of ``route_ids`` (with all their stops), ``loose_ids`` and the vans."""
    rids, lids, vids = sorted(set(route_ids)), sorted(set(loose_ids)), sorted(set(vehicle_ids))
    heads: dict[int, tuple[Any, Any]] = {}
    keys: dict[int, list[tuple[Any, ...]]] = {}
    loose: dict[int, str] = {}
    fixes: dict[str, datetime] = {}
    with db.session() as session:
        for i in range(0, len(rids), _CHUNK):
            chunk = rids[i : i + _CHUNK]
            for rid, version, vid in session.execute(
                select(Route.id, Route.version, Route.vehicle_id).where(Route.id.in_(chunk))
            ):
                heads[int(rid)] = (version, vid)
            for row in session.execute(select(*_MARK_COLUMNS).where(Stop.route_id.in_(chunk))):
                keys.setdefault(int(row[0]), []).append(tuple(row[1:]))
        for i in range(0, len(lids), _CHUNK):
            for row in session.execute(
                select(*_MARK_COLUMNS).where(Stop.id.in_(lids[i : i + _CHUNK]))
            ):
                loose[int(row[1])] = repr(tuple(row))
        if vids:
            fixes = {
                str(vid): ts
                for vid, ts in session.execute(
                    select(PositionRow.vehicle_id, func.max(PositionRow.ts))
                    .where(PositionRow.vehicle_id.in_(vids), PositionRow.ts >= since)
                    .group_by(PositionRow.vehicle_id)
                )
                if ts is not None
            }
    routes = {rid: _route_digest(v, vid, keys.get(rid, ())) for rid, (v, vid) in heads.items()}
    return TrackMarks(routes, loose, fixes)


def some_stop(db: Database) -> int | None:
    """One routed stop's id (the newest), to warm a fresh process up with; None if none."""
    with db.session() as session:
        found = session.scalar(
            select(Stop.id).where(Stop.route_id.is_not(None)).order_by(Stop.id.desc()).limit(1)
        )
    return int(found) if found is not None else None
