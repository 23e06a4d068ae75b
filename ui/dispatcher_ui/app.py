"""Start the console: QApplication, theme, the core, the main window.

Errors that stop the start (no database, a corrupt config) are shown once, as a dialog — or,
in headless screenshot runs, as one line on stderr — and the exit code is non-zero.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import datetime, time
from typing import TYPE_CHECKING

from dispatcher.clock import Clock, ScaledClock, system_now
from dispatcher.config import Settings, user_data_dir
from dispatcher.errors import DispatcherError
from dispatcher.telemetry.ingest import favour_the_gui

if TYPE_CHECKING:
    from dispatcher.core import Core
    from dispatcher_ui.main_window import MainWindow

log = logging.getLogger(__name__)


def demo_database_url(args: argparse.Namespace) -> str:
    """A fresh SQLite file for each demo run, unless ``--db`` names another database."""
    if args.db:
        return str(Settings(database_url=args.db).database_url)
    path = user_data_dir() / "demo.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()
    return f"sqlite:///{path}"


def demo_clock(args: argparse.Namespace, settings: Settings) -> Clock:
    """The demo day starts at 09:30 in the fleet's zone and runs ``--speed`` times faster."""
    from dispatcher.fleet_settings import check_zone

    zone = check_zone(demo_zone(settings), "fleet.timezone")
    start = datetime.combine(system_now(zone).date(), time(9, 30), zone)
    return ScaledClock(start, args.speed)


def demo_zone(settings: Settings) -> str:
    """The demo's fleet zone: ``[fleet] timezone`` if set, else the demo city's (its streets,
    shifts and windows are that city's), not the machine's."""
    from dispatcher.scenario.demo import TIMEZONE

    fleet = settings.sections.setdefault("fleet", {})
    fleet.setdefault("timezone", TIMEZONE)
    return str(fleet["timezone"])


#: The demo opens on the most urgent exception once the first ones are raised.
DEMO_FOCUS_AFTER_MS = 8000


def focus_most_urgent(window: MainWindow) -> None:
    """Select the top exception of the queue (its vehicle, route and stop everywhere), unless
    the dispatcher already selected something: a demo that shows where to look first."""
    if window.selection.current.vehicle_id or window.selection.current.alert_id:
        return
    from dispatcher_ui.exceptions.panel import ExceptionsPanel

    panel = window.rooms.find(ExceptionsPanel)  # none if the exceptions room is not built
    if panel is None or panel.proxy.rowCount() == 0:
        return
    source = panel.proxy.mapToSource(panel.proxy.index(0, 0))
    alert = panel.model.alert_at(source.row())
    if alert is not None and alert.id is not None:
        panel.select_alert(alert.id)


def start_core(args: argparse.Namespace, settings: Settings) -> Core:
    """The core with its live feed and every service (:func:`dispatcher.app.build_core`);
    the demo gets its own database, clock and simulated fleet."""
    from dispatcher.app import LiveOptions, build_core
    from dispatcher.config import normalize_database_url
    from dispatcher.messaging.settings import demo_settings

    if args.command != "demo":
        return build_core(
            settings, live=LiveOptions(embedded_broker=bool(settings.embedded_broker))
        )
    settings.database_url = normalize_database_url(demo_database_url(args))
    live = LiveOptions(
        embedded_broker=not args.broker,
        simulate_seed=None if args.no_simulator else args.seed,
    )
    return build_core(
        settings,
        clock=demo_clock(args, settings),
        live=live,
        # The demo day is stored before the simulator starts to drive it.
        prepare=lambda core: core.seed_demo_if_empty(
            seed=args.seed, vehicles=args.vehicles, stops=args.stops
        ),
        messaging=demo_settings,  # the demo's channels only write a capture file
    )


def freeze_startup_objects() -> None:
    """Move everything built at start-up (Qt wrappers, modules, the day's routes) out of the
    garbage collector's reach: full collections then scan only what the live feed creates.
    bench/map.py: at 5,000 vehicles the longest collection pause drops from 81 to 3 ms and
    the GUI timer's worst lateness from 90 to 10 ms."""
    import gc

    gc.collect()
    gc.freeze()
    # And the GUI thread takes the GIL back within 2 ms (dispatcher/telemetry/ingest.py).
    favour_the_gui()


def run_console(args: argparse.Namespace, settings: Settings) -> int:
    if args.screenshot and "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication, QMessageBox

    from dispatcher_ui.main_window import MainWindow, schedule_screenshot
    from dispatcher_ui.themes import apply_theme

    QCoreApplication.setOrganizationName("dispatcher")
    QCoreApplication.setApplicationName("Dispatcher")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    qsettings = QSettings()
    apply_theme(app, str(qsettings.value("ui/theme", settings.ui.theme)))
    headless = bool(args.screenshot or args.quit_after)
    try:
        core = start_core(args, settings)
    except DispatcherError as exc:
        if headless:
            print(f"dispatcher: {exc}", file=sys.stderr)
        else:
            QMessageBox.critical(None, "Dispatcher cannot start", str(exc))
        return 1
    # Headless runs show the default layout at full size, whatever the last session saved.
    window = MainWindow(core, qsettings, restore=not headless)
    if getattr(args, "size", None):
        window.resize(*args.size)
    window.show()
    freeze_startup_objects()
    if args.command == "demo":
        from PySide6.QtCore import QTimer

        QTimer.singleShot(DEMO_FOCUS_AFTER_MS, window, lambda: focus_most_urgent(window))
    else:
        from dispatcher_ui.first_run import offer_first_run

        offer_first_run(window, qsettings)  # an empty fleet opens the first-run assistant
    if args.screenshot:
        schedule_screenshot(window, args.screenshot, args.quit_after or 3.0)
    elif args.quit_after:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(int(args.quit_after * 1000), app.quit)
    try:
        return int(app.exec())
    finally:
        if not headless:
            window.save_layout()
        core.close()
