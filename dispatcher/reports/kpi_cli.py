"""``dispatcher kpi rollup`` and ``dispatcher kpi period``: the KPI trends from the shell.

``rollup`` stores the planned-vs-actual, cost and CO₂e of the finished days of a date range
(what the KPI trends window does for missing days when it opens; run it from a nightly timer so
the window never waits). ``period`` writes a period's CSV and HTML report, as the window's
Export does. Both use the fleet's time zone (``[fleet] timezone``) unless ``--timezone``.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from dispatcher.clock import system_now
from dispatcher.config import Settings
from dispatcher.errors import DispatcherError
from dispatcher.fleet_settings import fleet_zone_name
from dispatcher.model.route_kpi import DIMENSIONS

#: The longest range one ``rollup`` accepts (a typo of a year must not run for hours).
MAX_DAYS = 400


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kpi = sub.add_parser("kpi", help="KPI trends: roll up finished days, export a period")
    kpi_sub = kpi.add_subparsers(dest="kpi_command", metavar="ACTION", required=True)
    roll = kpi_sub.add_parser("rollup", help="store the figures of the finished days of a range")
    roll.add_argument("--from", dest="start", required=True, help="first day YYYY-MM-DD")
    roll.add_argument("--to", dest="end", help="last day YYYY-MM-DD (default yesterday)")
    roll.add_argument("--timezone", help="the fleet's zone unless given")
    per = kpi_sub.add_parser("period", help="write a period's CSV and HTML report")
    per.add_argument("--kind", choices=("day", "week", "month"), default="month")
    per.add_argument("--date", help="a day of the period, YYYY-MM-DD (default today)")
    per.add_argument("--by", choices=tuple(DIMENSIONS), default="fleet")
    per.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    per.add_argument("--timezone", help="the fleet's zone unless given")


def _day(text: str | None, option: str, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DispatcherError(f"{option} {text!r} is not YYYY-MM-DD") from None


def run_kpi(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.kpi.period import load_period
    from dispatcher.kpi.rollup import rollup_days
    from dispatcher.persistence import route_kpi_repo
    from dispatcher.persistence.database import Database
    from dispatcher.reports import period as export

    tz = ZoneInfo(fleet_zone_name(settings, args.timezone))
    now = system_now(tz)
    today = now.date()
    if args.kpi_command == "rollup":  # bad input is said before the database is looked at
        start = _day(args.start, "--from", today)
        end = _day(args.end, "--to", today - timedelta(days=1))
        if end < start or (end - start).days >= MAX_DAYS:
            raise DispatcherError(f"--from/--to: give 1 to {MAX_DAYS} days, first day first")
        end = min(end, today - timedelta(days=1))  # today is not finished
    else:
        anchor = _day(args.date, "--date", today)
    db = Database(settings.database_url, must_exist=True)
    try:
        if args.kpi_command == "rollup":
            with db.session() as session:
                days = route_kpi_repo.days_with_routes(session, start, end)
            rows = rollup_days(db, days, tz, now)
            print(f"stored {rows} route days of {len(days)} days ({start} to {end})", file=out)
            return 0
        period = load_period(db, tz, args.kind, anchor, args.by, now)
        stem = f"kpi-{period.kind}-{period.start.isoformat()}-{period.dimension}"
        csv_path = export.write_csv(period, args.out / f"{stem}.csv")
        html_path = export.write_html(period, args.out / f"{stem}.html")
        print(f"wrote {csv_path} and {html_path.name}", file=out)
        return 0
    finally:
        db.dispose()
