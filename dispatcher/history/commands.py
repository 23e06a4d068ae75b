"""Command-line parts of the history room: ``dispatcher history ...`` and ``report day``.

``history prune`` applies the retention setting now; ``history visits`` answers a proof-of-visit
question from the shell. ``report day`` is parsed here but run by ``main.py`` through
:mod:`dispatcher_ui.history.report_cli`, because its HTML map is drawn with folium, which the core
never imports.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from dispatcher import display
from dispatcher.clock import system_now
from dispatcher.config import Settings
from dispatcher.errors import DispatcherError
from dispatcher.fleet_settings import fleet_zone_name

if TYPE_CHECKING:
    from dispatcher.persistence.database import Database

ZONE_HELP = "zone of the times (default: the fleet's, [fleet] timezone)"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``history`` and ``report`` to the main parser's subcommands."""
    hist = sub.add_parser("history", help="position history: retention, proof of visit")
    hist_sub = hist.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    hist_sub.add_parser("prune", help="delete positions older than the retention setting now")
    visits = hist_sub.add_parser("visits", help="which vehicles were near a point, and when")
    visits.add_argument("--lat", type=float, required=True, help="latitude of the point")
    visits.add_argument("--lon", type=float, required=True, help="longitude of the point")
    visits.add_argument("--radius", type=float, default=100.0, help="metres (default 100)")
    visits.add_argument("--from", dest="start", required=True, help="start, YYYY-MM-DDTHH:MM")
    visits.add_argument("--to", dest="end", required=True, help="end, YYYY-MM-DDTHH:MM")
    visits.add_argument("--timezone", help=ZONE_HELP)

    report = sub.add_parser("report", help="export reports")
    rep_sub = report.add_subparsers(dest="report_what", metavar="WHAT", required=True)
    day = rep_sub.add_parser("day", help="day report: CSV of stops and an HTML map of tracks")
    day.add_argument("--date", help="service date YYYY-MM-DD (default today)")
    day.add_argument("--timezone", help=ZONE_HELP)
    day.add_argument("--out", type=Path, required=True, help="folder to write the files into")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        raise DispatcherError(f"unknown time zone {name!r}") from None


def parse_day(text: str | None, tz: ZoneInfo) -> date:
    """``--date`` or today in ``tz``."""
    if not text:
        return system_now(tz).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DispatcherError(f"--date {text!r} is not YYYY-MM-DD") from None


def parse_local(text: str, tz: ZoneInfo, option: str) -> datetime:
    """An ISO time; without an offset it is read in ``tz``."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise DispatcherError(f"{option} {text!r} is not YYYY-MM-DDTHH:MM") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def run_history(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.persistence.database import Database

    if args.history_command != "prune":  # bad input is said before the database is looked at
        tz = zone(fleet_zone_name(settings, args.timezone))
        parse_local(args.start, tz, "--from")
        parse_local(args.end, tz, "--to")
    db = Database(settings.database_url, must_exist=True)  # read-only: never create
    try:
        if args.history_command == "prune":
            return _prune(db, settings, out)
        return _visits(db, args, fleet_zone_name(settings, args.timezone), out)
    finally:
        db.dispose()


def _prune(db: Database, settings: Settings, out: TextIO) -> int:
    from dispatcher.clock import SystemClock
    from dispatcher.history.retention import RetentionService
    from dispatcher.history.settings import HistorySettings

    history = HistorySettings.from_settings(settings)
    if history.retention_days <= 0:
        print("retention is off (history.retention_days = 0): nothing pruned", file=out)
        return 0
    service = RetentionService(db, SystemClock(), history)
    n = service.prune_all()
    print(f"pruned {n} positions older than {service.cutoff():%Y-%m-%d %H:%M} UTC", file=out)
    return 0


def _visits(db: Database, args: argparse.Namespace, zone_name: str, out: TextIO) -> int:
    from dispatcher.history.visits import Circle, proof_of_visit

    tz = zone(zone_name)
    start = parse_local(args.start, tz, "--from")
    end = parse_local(args.end, tz, "--to")
    visits = proof_of_visit(db, Circle(args.lat, args.lon, args.radius), start, end)
    shown = display.current()  # --radius is metres; what is printed is in the fleet's units
    for v in visits:
        print(
            f"{v.vehicle_id}\t{shown.clock(v.first_seen.astimezone(tz), True)}-"
            f"{shown.clock(v.last_seen.astimezone(tz), True)}\t{v.fixes} fixes\t"
            f"closest {shown.short_distance(v.closest_m)}",
            file=out,
        )
    noun = "vehicle" if len(visits) == 1 else "vehicles"
    print(f"{len(visits)} {noun} within {shown.short_distance(args.radius)}", file=out)
    return 0
