"""The command line: parser and the headless subcommands.

The GUI subcommands (``dispatcher`` and ``dispatcher demo``) are started by ``main.py``, which
imports Qt lazily; everything here runs without a display. Each command returns an exit code:
0 success, 1 a problem the person must fix (message on stderr, never a traceback), 2 invalid
input data (e.g. ``decode`` rejected the payload, ``import`` skipped bad rows).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from dispatcher import __version__
from dispatcher.clock import system_now
from dispatcher.config import Settings
from dispatcher.devices import cli as devices_cli
from dispatcher.devices.registry_cli import add_parsers as add_device_registry_parsers
from dispatcher.devices.registry_cli import run_devices
from dispatcher.driver.pod_cli import add_parser as add_pod_parser
from dispatcher.driver.pod_cli import run_pod
from dispatcher.errors import ConfigError, DispatcherError
from dispatcher.fleet import cli as fleet_cli
from dispatcher.history.commands import add_parsers as add_history_parsers
from dispatcher.history.commands import run_history
from dispatcher.history.eta_cli import add_parser as add_eta_parser
from dispatcher.history.eta_cli import run_eta
from dispatcher.messaging.cli import add_parser as add_outbox_parser
from dispatcher.messaging.cli import run_outbox
from dispatcher.planning.plan_cli import add_parser as add_plan_parser
from dispatcher.planning.plan_cli import run_plan
from dispatcher.reports.kpi_cli import add_parser as add_kpi_parser
from dispatcher.reports.kpi_cli import run_kpi
from dispatcher.routing.cli import add_parser as add_roads_parser
from dispatcher.routing.cli import run_roads
from dispatcher.simulator import cli as simulator_cli

if TYPE_CHECKING:
    pass

GUI_COMMANDS = (None, "demo")
ZONE_HELP = "zone of HH:MM times (default: the fleet's, [fleet] timezone)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatcher",
        description="Dispatch console for last-mile delivery fleets. Without a command, opens "
        "the console on the configured database and broker.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser)
    # Global options are accepted after the command too ("dispatcher demo --db x"): each
    # subparser gets a copy whose defaults are suppressed so they never mask the main ones.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    _add_global_options(common)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_sub_parser(common))

    demo = sub.add_parser("demo", help="open the console on a fresh demo database and fleet")
    demo.add_argument("--seed", type=int, default=7, help="demo scenario seed (default 7)")
    demo.add_argument(
        "--speed", type=float, default=10.0, help="simulated time speed-up (default 10x)"
    )
    demo.add_argument("--no-simulator", action="store_true", help="do not drive the demo fleet")
    simulator_cli.add_size_options(demo, "the demo day's")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="apply all migrations")
    down = db_sub.add_parser("downgrade", help="revert migrations down to REVISION")
    down.add_argument("revision", help="target revision, e.g. -1 or base")
    db_sub.add_parser("current", help="print the schema revision of the database")

    imp = sub.add_parser("import", help="import data from files")
    imp_sub = imp.add_subparsers(dest="import_what", metavar="WHAT", required=True)
    orders = imp_sub.add_parser("orders", help="import a day's orders from CSV (docs/import.md)")
    orders.add_argument("file", type=Path, help="CSV file (UTF-8, ',' or ';')")
    orders.add_argument(
        "--date", help="service date for rows without one (YYYY-MM-DD, default today)"
    )
    orders.add_argument("--timezone", help=ZONE_HELP)
    orders.add_argument("--dry-run", action="store_true", help="check the file, store nothing")
    fleet_cli.add_import_parsers(imp_sub)

    dec = sub.add_parser("decode", help="decode one MQTT payload from stdin (device check)")
    dec.add_argument("--topic", required=True, help="the topic the device publishes on")

    _add_serve_parser(sub)
    link = sub.add_parser("link", help="print the signed tracking URL of an order (docs/web.md)")
    link.add_argument("order_ref", metavar="ORDER_REF", help="the order's reference")

    simulator_cli.add_parser(sub)

    solve = sub.add_parser("solve", help="solve a Solomon VRPTW instance with the planner")
    solve.add_argument("instance", type=Path, help="Solomon-format instance file")
    solve.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
    solve.add_argument("--json", action="store_true", help="print one JSON object")
    solve.add_argument(
        "--engine",
        choices=("pyvrp", "ortools"),
        default="pyvrp",
        help="pyvrp (default: fewest vehicles, then distance) or ortools (docs/planning.md)",
    )

    alerts = sub.add_parser("alerts", help="list exceptions from the database")
    alerts.add_argument(
        "--status", default="open", help="open, closed, all or a comma list (default open)"
    )
    alerts.add_argument("--json", action="store_true", help="print a JSON array")
    add_outbox_parser(sub)
    add_history_parsers(sub)
    add_pod_parser(sub)
    add_eta_parser(sub)
    add_kpi_parser(sub)
    devices = devices_cli.add_parser(sub)
    add_device_registry_parsers(devices)
    fleet_cli.add_parsers(sub)
    add_plan_parser(sub)
    add_roads_parser(sub)
    return parser


def _add_serve_parser(sub: Any) -> None:
    """``dispatcher serve``: the recorder (docs/deploy.md), alone or one of a shared group."""
    serve = sub.add_parser("serve", help="headless recorder: ingest and store telemetry")
    serve.add_argument(
        "--duration", type=float, help="stop after SECONDS (default: run until interrupted)"
    )
    serve.add_argument(
        "--share",
        type=_topic_level,
        metavar="GROUP",
        help="share ingest with the other recorders of GROUP (MQTT shared subscription; "
        "[recorder] shared_group, docs/deploy.md)",
    )
    serve.add_argument(
        "--instance",
        type=_topic_level,
        metavar="NAME",
        help="this recorder's name when several run on one host ([recorder] instance); "
        "keep it across restarts",
    )
    serve.add_argument(
        "--web",
        metavar="HOST:PORT",
        type=_web_address,
        help="also serve the web front (tracking pages, webhooks) there ([web] listen, "
        "docs/web.md)",
    )
    serve.add_argument(
        "--web-workers",
        metavar="N",
        type=_workers,
        help="processes serving the web front ([web] workers; default: one per core, at most "
        "4; docs/web.md)",
    )


def _topic_level(text: str) -> str:
    """An argparse type for ``serve --share/--instance``: one MQTT topic level (exit 2)."""
    from dispatcher.telemetry.sharing import check_name

    try:
        return check_name(text, "the name")
    except DispatcherError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workers(text: str) -> int:
    """An argparse type for ``serve --web-workers``: 1..MAX_WORKERS (exit 2 otherwise)."""
    from dispatcher.web.settings import MAX_WORKERS

    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"the number of web workers must be 1..{MAX_WORKERS}")
    return int(text)


def _web_address(text: str) -> str:
    """An argparse type for ``serve --web``: ``HOST:PORT`` (exit 2 otherwise)."""
    from dispatcher.web.settings import parse_listen

    try:
        parse_listen(text)
    except DispatcherError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _sub_parser(common: argparse.ArgumentParser) -> type[argparse.ArgumentParser]:
    class SubParser(argparse.ArgumentParser):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("parents", [common])
            super().__init__(**kwargs)

    return SubParser


def _add_global_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("global options")
    g.add_argument("--db", metavar="URL", help="SQLite path or postgresql+psycopg://... URL")
    g.add_argument("--config", metavar="FILE", type=Path, help="TOML configuration file")
    g.add_argument("--broker", metavar="URL", help="MQTT broker, mqtt://host:port or mqtts://")
    g.add_argument(
        "--embedded-broker",
        action="store_true",
        default=None,
        help="start a broker owned by the app on loopback",
    )
    g.add_argument(
        "--screenshot",
        metavar="PNG",
        type=Path,
        help="render the main window to PNG after --quit-after seconds, then exit",
    )
    g.add_argument(
        "--size",
        metavar="WxH",
        type=window_size,
        help="open the console window at this size in pixels, e.g. 1366x768",
    )
    g.add_argument(
        "--quit-after",
        metavar="SECONDS",
        type=float,
        help="quit after SECONDS (with --screenshot: take it first)",
    )
    g.add_argument("-v", "--verbose", action="count", help="more log output")


def window_size(text: str) -> tuple[int, int]:
    """``"1366x768"`` → ``(1366, 768)``; argparse turns the ValueError into exit code 2."""
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit()):
        raise ValueError(text)
    if not (200 <= int(w) <= 10000 and 200 <= int(h) <= 10000):
        raise ValueError(text)
    return int(w), int(h)


def settings_overrides(args: argparse.Namespace) -> dict[str, object]:
    return {
        "database_url": args.db,
        "broker.url": args.broker,
        "embedded_broker": args.embedded_broker,
    }


def run_headless(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Run a subcommand that needs no display."""
    out = out or sys.stdout
    handlers: dict[str, Callable[[argparse.Namespace, Settings, TextIO], int]] = {
        "db": _cmd_db,
        "import": _cmd_import,
        "decode": _cmd_decode,
        "serve": _cmd_serve,
        "link": _cmd_link,
        "simulate": simulator_cli.run_simulate,
        "solve": _cmd_solve,
        "alerts": _cmd_alerts,
        "history": run_history,
        "pod": run_pod,
        "eta": run_eta,
        "kpi": run_kpi,
        "outbox": run_outbox,
        "devices": _cmd_devices,
        "fleet": _cmd_fleet,
        "users": fleet_cli.run_users,
        "plan": run_plan,
        "roads": run_roads,
    }
    handler = handlers.get(args.command)
    if handler is None:
        raise DispatcherError(f"unknown command {args.command!r}")
    install_display(settings)
    return handler(args, settings, out)


def install_display(settings: Settings) -> None:
    """Human output in the fleet's units and locale (dispatcher/display.py). A bad ``[fleet]``
    table is left to the commands that need it to report; the others still run."""
    from dispatcher import display
    from dispatcher.fleet_settings import FleetSettings

    try:
        display.install(FleetSettings.from_settings(settings))
    except ConfigError:
        display.reset()


def _cmd_devices(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """The registry's actions set ``devices_handler``; the credential actions do not."""
    if getattr(args, "devices_handler", None) is not None:
        return run_devices(args, settings, out)
    return devices_cli.run_devices(args, settings, out)


def _cmd_fleet(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.fleet_settings import fleet_zone_name

    return fleet_cli.run_fleet(args, settings, out, fleet_zone_name(settings))


def _cmd_db(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.persistence import database

    reading = args.db_command == "current"  # reads only: a mistyped --db must not create one
    db = database.Database(settings.database_url, migrate=False, must_exist=reading)
    try:
        if args.db_command == "upgrade":
            database.upgrade(db.engine)
            print(
                f"{db.display_name}: at revision {database.current_revision(db.engine)}", file=out
            )
        elif args.db_command == "downgrade":
            database.downgrade(db.engine, args.revision)
            rev = database.current_revision(db.engine) or "base (empty)"
            print(f"{db.display_name}: at revision {rev}", file=out)
        else:
            rev = database.current_revision(db.engine) or "none (not initialised)"
            print(
                f"{db.display_name}: revision {rev}, code expects "
                f"{database.head_revision(db.engine)}",
                file=out,
            )
    finally:
        db.dispose()
    return 0


def _cmd_import(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.fleet_settings import fleet_zone_name
    from dispatcher.importing.service import import_orders
    from dispatcher.persistence.database import Database
    from dispatcher.users.desk import UserDesk

    if args.import_what != "orders":
        return fleet_cli.run_fleet_import(args, settings, out)
    tz = fleet_zone_name(settings, args.timezone)
    try:
        day = (
            datetime.fromisoformat(args.date).date()
            if args.date
            else system_now(ZoneInfo(tz)).date()
        )
    except ValueError:
        raise DispatcherError(f"--date {args.date!r} is not YYYY-MM-DD") from None
    from dispatcher.persistence.geocode_repo import database_geocoder

    db = Database(settings.database_url)
    try:
        actor = UserDesk(db).login().id
        report = import_orders(
            db,
            args.file,
            default_date=day,
            timezone=tz,
            actor=actor,
            dry_run=args.dry_run,
            geocoder=database_geocoder(settings, db),
        )
    finally:
        db.dispose()
    for error in report.errors:
        print(f"{args.file}: {error}", file=out)
    print(report.summary(), file=out)
    return 2 if report.errors else 0


def _cmd_decode(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.telemetry.decoder import run_decode
    from dispatcher.telemetry.settings import TelemetrySettings

    payload = sys.stdin.buffer.read(1024 * 1024 + 1)
    telemetry = TelemetrySettings.from_settings(settings)
    return run_decode(args.topic, payload, out, prefix=settings.broker.prefix, telemetry=telemetry)


def _cmd_solve(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.planning.vrptw import run_solve

    planning = settings.sections.get("planning", {})
    portfolio = planning.get("portfolio", True) if isinstance(planning, dict) else True
    if not isinstance(portfolio, bool):
        raise ConfigError("[planning] portfolio must be true or false")
    return run_solve(
        args.instance, args.time_limit, args.json, out, engine=args.engine, portfolio=portfolio
    )


def _cmd_serve(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.alerts.runner import AlertRunner
    from dispatcher.app import LiveOptions, build_core
    from dispatcher.live import ConnectionChanged
    from dispatcher.services import run_for
    from dispatcher.telemetry.recorder_status import BrokerStatusReporter
    from dispatcher.telemetry.sharing import RecorderSettings
    from dispatcher.web.server import WebServer

    recorder = RecorderSettings.from_sections(
        settings.sections, share=args.share, instance=args.instance
    )
    if args.web_workers is not None:  # the command line wins over [web] workers
        web_section = {**(settings.sections.get("web") or {}), "workers": args.web_workers}
        settings = dataclasses.replace(settings, sections={**settings.sections, "web": web_section})
    # Live telemetry, retention, the alert rules holding the election's lease (serve raises
    # the alerts, docs/exceptions.md) and the outbox relay (docs/messaging.md).
    core = build_core(
        settings,
        "serve",
        live=LiveOptions(embedded_broker=bool(settings.embedded_broker), recorder=recorder),
        web=args.web,
    )
    try:
        live = core.live
        assert live is not None
        reporter = BrokerStatusReporter(live.stats().broker_url, sys.stderr)
        core.bus.subscribe(ConnectionChanged, lambda e: reporter(e.state, e.reason))
        reporter(live.stats().state, live.stats().reason)  # it may have connected already
        assert live.client is not None
        shared = (
            f", sharing ingest in group {recorder.shared_group!r}" if recorder.shared_group else ""
        )
        print(
            f"recording from {live.stats().broker_url} into {core.db.display_name} "
            f"as {live.client.client_id}{shared} (Ctrl+C to stop)",
            file=out,
            flush=True,
        )
        web = core.find_service(WebServer)
        if web is not None:
            print(f"web front at {web.base_url}", file=out, flush=True)
        run_for(args.duration, core.tick)
        rules = core.service(AlertRunner)
        stats = live.stats()
        counts = live.pipeline.decoder.quarantine.counts()
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))
        print(
            f"received {stats.received}, rejected {stats.rejected}"
            f"{f' ({why})' if why else ''}, {stats.vehicles} vehicles; "
            f"alert rules run here {rules.runs} times",
            file=out,
        )
    finally:
        connected = core.live is not None and core.live.ever_connected
        core.close()
    # 1 if it never reached the broker (docs/mqtt.md). The live side's own flag counts too:
    # its "connected" event waits for the next tick, which a stop signal may pre-empt.
    return 0 if connected else reporter.exit_code()


def _cmd_link(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """``dispatcher link ORDER_REF``: the URL a message about the order would carry."""
    from dispatcher.fleet_settings import fleet_zone_name
    from dispatcher.persistence.database import Database
    from dispatcher.web.links import tracking_url_for_order
    from dispatcher.web.settings import WebSettings
    from dispatcher.web.signing import LinkSigner

    web = WebSettings.from_sections(settings.sections)
    db = Database(settings.database_url)
    try:
        url = tracking_url_for_order(
            db,
            LinkSigner(db),
            web.base_url(),
            args.order_ref,
            fleet_zone_name(settings),
            web.link_days,
        )
    finally:
        db.dispose()
    if url is None:
        print(f"no order {args.order_ref!r}", file=sys.stderr)
        return 1
    print(url, file=out)
    return 0


def _cmd_alerts(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.alerts.cli import run_alerts

    return run_alerts(settings, args.status, args.json, out)
