"""``dispatcher plan --date YYYY-MM-DD [--time-limit S] [--json]`` (docs/planning.md).

Exit codes as every command: 0 planned (or nothing to plan), 1 a problem to fix (no vehicle,
database unreachable, a route changed meanwhile), 2 bad input (a date or a time limit that
is not one; argparse says which). The solver is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any, TextIO

from dispatcher.config import Settings


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 3600]")
    return value


def add_parser(sub: Any) -> None:
    """Register ``plan`` on the main parser's subcommands."""
    plan = sub.add_parser(
        "plan",
        help="assign a day's unassigned orders to its vehicles with the optimizer and save",
        description="Plan one service day: the fleet optimizer assigns the day's unassigned "
        "orders to the active vehicles (keeping locks and done stops) and saves the routes. "
        "Other days are not touched.",
    )
    plan.add_argument("--date", type=_day, required=True, help="service date YYYY-MM-DD")
    plan.add_argument(
        "--time-limit",
        metavar="S",
        type=_seconds,
        default=10.0,
        help="optimizer budget, seconds (default 10)",
    )
    plan.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object: {"date", "vehicles", "stops", "unassigned", '
        '"distance_km", "late", "cost"}',
    )


def run_plan(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher import display
    from dispatcher.fleet_settings import FleetSettings
    from dispatcher.persistence.database import Database
    from dispatcher.planning.plan_day import plan_day
    from dispatcher.routing import Router
    from dispatcher.users.desk import UserDesk

    fleet = FleetSettings.from_settings(settings)
    display.install(fleet)  # the text line in the fleet's units and locale
    router = Router.from_settings(settings)  # with [eta]'s learned speeds
    db = Database(settings.database_url)
    try:
        actor = UserDesk(db).login().id  # the core refuses a role that may not plan
        outcome = plan_day(
            db,
            args.date,
            fleet.timezone,
            time_limit_s=args.time_limit,
            actor=actor,
            provider=router.fleet(),
        )
    finally:
        db.dispose()
        router.close()
    if args.json:
        json.dump(outcome.as_json(), out)
        out.write("\n")
    else:
        print(outcome.summary(), file=out)
    return 0
