"""``dispatcher eta learn``: learn speed factors from the position history (docs/eta.md).

Reads the last ``--days`` of stored fixes one day at a time (a day of a fleet is a few
hundred thousand rows; a fortnight at once would not need to sit in memory), cuts each
vehicle's track into moving legs and writes the learned profile as JSON. The console uses it
when ``[eta] profile`` names the file. A file rather than a table: it is recomputed whole
whenever wanted, needs no migration, and can be copied to another site or inspected.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dispatcher.clock import system_now
from dispatcher.config import Settings, user_data_dir
from dispatcher.errors import DispatcherError
from dispatcher.eta.learned import LearnedSpeeds, Leg, learn, legs_from_track
from dispatcher.eta.settings import EtaSettings
from dispatcher.fleet_settings import fleet_zone_name

if TYPE_CHECKING:
    from dispatcher.persistence.database import Database

PROFILE_NAME = "eta_profile.json"


def add_parser(sub: Any) -> None:
    """Register ``eta`` on the main parser's subcommands."""
    eta = sub.add_parser("eta", help="travel-time profiles learned from history (docs/eta.md)")
    eta_sub = eta.add_subparsers(dest="eta_command", metavar="ACTION", required=True)
    lrn = eta_sub.add_parser(
        "learn",
        help="learn speed factors by hour and area from the position history",
        description="Learn travel-time factors by hour of day and area from the stored "
        "positions and write them to a file; [eta] profile = that file switches them on.",
    )
    lrn.add_argument("--days", type=int, default=14, help="days of history (default 14)")
    lrn.add_argument(
        "--out",
        type=Path,
        help=f"file to write (default: [eta] profile, else {PROFILE_NAME} in the data folder)",
    )
    lrn.add_argument("--timezone", help="zone of the hours (default: the fleet's)")


def legs_from_history(db: Database, start: datetime, end: datetime) -> list[Leg]:
    """Moving legs of every vehicle between ``start`` and ``end``, read a day at a time.

    A leg that straddles a day boundary is lost; a fortnight has thirteen of them a vehicle.
    """
    from dispatcher.persistence.history_repo import positions_between

    legs: list[Leg] = []
    t0 = start
    while t0 < end:
        t1 = min(end, t0 + timedelta(days=1))
        with db.session() as session:
            rows = positions_between(session, t0, t1)
        tracks: dict[str, list[tuple[datetime, float, float]]] = defaultdict(list)
        for vehicle, ts, lat, lon, *_ in rows:
            tracks[vehicle].append((ts, lat, lon))
        for fixes in tracks.values():
            legs.extend(legs_from_track(fixes))
        t0 = t1
    return legs


def run_eta(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.persistence.database import Database

    if args.days < 1:
        raise DispatcherError("--days must be at least 1")
    zone = fleet_zone_name(settings, args.timezone)
    configured = EtaSettings.from_settings(settings).profile
    default = Path(configured).expanduser() if configured else user_data_dir() / PROFILE_NAME
    path: Path = args.out or default
    end = system_now()
    db = Database(settings.database_url, must_exist=True)  # read-only: never create
    try:
        legs = legs_from_history(db, end - timedelta(days=args.days), end)
    finally:
        db.dispose()
    speeds = learn(legs, zone)
    if speeds.legs == 0:
        print(f"no usable legs in the last {args.days} days: nothing written", file=out)
        return 1
    _write(path, speeds)
    print(
        f"learned from {speeds.legs} legs ({speeds.dropped} dropped), {len(speeds.cells)} "
        f"areas, hours in {zone}: wrote {path}",
        file=out,
    )
    peak = max(range(24), key=lambda h: speeds.hourly[h])
    print(f"slowest hour {peak:02d}:00, factor {speeds.hourly[peak]:.2f}", file=out)
    if not configured or Path(configured).expanduser() != path:
        print(f'switch it on with [eta] profile = "{path}"', file=out)
    return 0


def _write(path: Path, speeds: LearnedSpeeds) -> None:
    """Write whole or not at all: a half-written profile would be ignored with a warning."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(speeds.to_json(), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise DispatcherError(f"cannot write {path}: {exc}") from None
