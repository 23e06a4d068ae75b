"""``dispatcher simulate``: drive the day's routes over MQTT, and the demo's size options.

``--vehicles N --stops M`` size a demo day: ``dispatcher demo`` builds its fresh database at
that size, ``simulate`` seeds an empty database with it (docs/mqtt.md, "Simulated fleet").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from dispatcher.clock import system_now
from dispatcher.config import Settings
from dispatcher.errors import DispatcherError

if TYPE_CHECKING:
    from dispatcher.persistence.database import Database

ZONE_HELP = "zone of HH:MM times (default: the fleet's, [fleet] timezone)"


def add_parser(sub: Any) -> None:
    """Add ``simulate`` to the main parser's subcommands."""
    sim = sub.add_parser("simulate", help="drive the day's routes over MQTT (simulated fleet)")
    sim.add_argument("--speed", type=float, default=1.0, help="time speed-up (default 1)")
    sim.add_argument("--seed", type=int, default=7, help="trouble and traffic seed")
    sim.add_argument("--duration", type=float, help="stop after SECONDS of wall time")
    sim.add_argument(
        "--start", help="simulated time of day to start at, HH:MM (default: now)", metavar="HH:MM"
    )
    sim.add_argument("--timezone", help=ZONE_HELP)
    add_size_options(sim, "with an empty database, seed a demo day of this size: its", None)


def add_size_options(
    parser: argparse.ArgumentParser, what: str, default: bool | None = True
) -> None:
    """``--vehicles N --stops M``: the size of a demo day (a bad number exits 2 with a
    message, like every argparse error); without ``default`` they stay ``None``."""
    from dispatcher.scenario import demo

    parser.add_argument(
        "--vehicles",
        type=_count("--vehicles", 1, demo.MAX_VEHICLES),
        default=demo.DEFAULT_VEHICLES if default else None,
        metavar="N",
        help=f"{what} vehicles, a mix of vans and cargo bikes (default "
        f"{demo.DEFAULT_VEHICLES}, at most {demo.MAX_VEHICLES:,})",
    )
    parser.add_argument(
        "--stops",
        type=_count("--stops", 1, demo.MAX_STOPS),
        default=demo.DEFAULT_STOPS if default else None,
        metavar="M",
        help=f"{what} stops (default {demo.DEFAULT_STOPS}, at most {demo.MAX_STOPS:,})",
    )


def _count(option: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in ``[low, high]``, else a message naming the option."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high:,}")
        return value

    return parse


def run_simulate(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:

    from dispatcher.clock import ScaledClock
    from dispatcher.fleet_settings import fleet_zone_name
    from dispatcher.persistence.database import Database
    from dispatcher.routing import Router, RoutingSettings
    from dispatcher.services import run_for
    from dispatcher.simulator.from_db import load_simulated_fleet, route_day
    from dispatcher.simulator.roads import SimRoads
    from dispatcher.simulator.runner import FleetSimulator, wall_clock_stamp
    from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient

    zone_name = fleet_zone_name(settings, args.timezone)
    tz = _zone(zone_name)
    if args.speed <= 0:
        raise DispatcherError("--speed must be positive")
    router = Router(RoutingSettings.from_settings(settings))
    roads = SimRoads.of(router)
    db = Database(settings.database_url)
    try:
        if args.vehicles is not None or args.stops is not None:
            refused = _seed_sized_demo(db, args, system_now(tz).date(), zone_name)
            if refused:
                print(f"dispatcher simulate: {refused}", file=sys.stderr)
                return 2
        day = route_day(db, system_now(tz).date())
        start = None if day is None else datetime.combine(day, _time_of_day(args.start, tz), tz)
        if roads is not None and day is not None:
            print(f"fetching the day's road legs from {router.source}…", file=out, flush=True)
        vehicles, scripts = load_simulated_fleet(db, args.seed, zone_name, start, roads)
    finally:
        db.dispose()
        router.close()  # every leg is fetched: the engine child is not needed any more
    if roads is not None and vehicles:
        print(f"roads: {roads.summary()}", file=out, flush=True)
    if not vehicles or start is None:
        raise DispatcherError("the database has no routes to drive (try `dispatcher demo`)")
    sim_start = start
    client = TelemetryClient(
        MqttSettings(
            url=settings.broker.url,
            console_id="simulator",
            clean_session=True,
            prefix=settings.broker.prefix,
            username=settings.broker.username or None,
        ),
        lambda *_: None,
    )
    client.start()
    if not client.wait_connected(10):
        client.stop()
        raise DispatcherError(f"cannot reach the MQTT broker at {settings.broker.url}")
    sim = FleetSimulator(
        vehicles,
        scripts,
        client.publish,
        ScaledClock(sim_start, args.speed),
        prefix=settings.broker.prefix,
        stamp=wall_clock_stamp(sim_start, system_now(), args.speed),
    )
    sim.start()
    print(
        f"driving {len(vehicles)} vehicles on {settings.broker.url} from "
        f"{sim_start:%Y-%m-%d %H:%M} at {args.speed:g}x "
        "(Ctrl+C to stop)",
        file=out,
        flush=True,
    )
    run_for(args.duration, lambda: None, 0.5)
    sim.stop()
    client.stop()
    print(f"published {sim.published} messages", file=out)
    return 0


def _seed_sized_demo(db: Database, args: argparse.Namespace, day: date, zone: str) -> str:
    """``simulate --vehicles N --stops M``: seed an empty database with a demo day of that
    size (today, the fleet's zone); "" when done, else why not (the caller exits 2).

    A database that already has stops is never added to: its day is what a dispatcher
    planned, and a second fleet on top of it would be neither.
    """
    from dispatcher.persistence import fleet_repo
    from dispatcher.scenario.demo import DEFAULT_STOPS, DEFAULT_VEHICLES, demo_scenario

    with db.session() as session:
        stops = fleet_repo.count_stops(session)
        if stops:
            return (
                f"--vehicles/--stops size a demo day for an empty database, and "
                f"{db.display_name} already has {stops:,} stops: drive them without the "
                "options, or use a fresh --db"
            )
        scenario = demo_scenario(
            day,
            seed=args.seed,
            n_orders=args.stops or DEFAULT_STOPS,
            n_vehicles=args.vehicles or DEFAULT_VEHICLES,
            timezone=zone,
        )
        fleet_repo.save_scenario(session, scenario)
    return ""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        raise DispatcherError(f"unknown time zone {name!r}") from None


def _time_of_day(text: str | None, tz: ZoneInfo) -> time:
    """``HH:MM`` as a time of day; ``None`` means the current time in ``tz``."""
    if text is None:
        return system_now(tz).time().replace(microsecond=0)
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise DispatcherError(f"--start {text!r} is not HH:MM") from None
