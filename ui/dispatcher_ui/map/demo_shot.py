"""The screenshot of the map's pick mode in docs/map.md (Fix position on map…).

Run ``QT_QPA_PLATFORM=offscreen python -m dispatcher_ui.map.demo_shot OUT_DIR``. It builds the demo
day in a temporary SQLite database, puts the vans on the road, selects a stop on its route board,
starts Map > Fix position on map… through its real action, and writes ``map_pick.png`` (the
whole window) once the page shows the banner. No network: the map draws its grid.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from dispatcher.clock import system_monotonic, system_now
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.fleet.state import FleetChanged
from dispatcher.model.core import PositionReport
from dispatcher.scenario.demo import demo_scenario
from dispatcher_ui.map import web  # noqa: F401  (registers the map's URL scheme before the QApplication)


def wait(app: QApplication, check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    end = system_monotonic() + timeout_s
    while not check():
        if system_monotonic() > end:
            raise SystemExit("the map did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def main(out_dir: Path) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    tmp = Path(tempfile.mkdtemp(prefix="map-pick-"))
    now = system_now()
    core = Core(Settings(database_url=f"sqlite:///{tmp / 'demo.sqlite3'}"))
    core.store_scenario(demo_scenario(now.date()))
    from dispatcher_ui.main_window import MainWindow

    window = MainWindow(core, QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat))
    window.resize(1600, 900)
    for key in ("exceptions", "messages", "kpis", "timeline"):
        window.docks[key].hide()  # the map and the boards take the height
    window.resizeDocks(
        [window.docks["map"], window.docks["routes"]], [860, 740], Qt.Orientation.Horizontal
    )
    window.show()
    controller: Any = window.map_controller
    wait(app, lambda: controller.view.ready)

    def js(source: str) -> Any:
        box: list[Any] = []
        controller.view.page().runJavaScript(source, 0, box.append)
        wait(app, lambda: bool(box), 10)
        return box[0]

    routes = {r.vehicle_id: r for r in core.load_routes() if r.vehicle_id}
    reports = []
    for vid, route in routes.items():  # each van at its third stop
        stop = route.stops[min(2, len(route.stops) - 1)]
        reports.append((PositionReport(vid, now, stop.lat, stop.lon, speed_kmh=22.0), False))
    changed, state_changed = controller.fleet.apply_positions(reports, now)
    core.bus.publish(FleetChanged(frozenset(changed), frozenset(state_changed)))
    panel = window.routes_panel
    board = panel.boards["V03"]
    sid = board.model.stop_id(4)
    board.select_stops([sid])
    panel.focus_stops([sid])  # its board scrolled into view, the row selected

    def drawn() -> bool:
        controller.tick()
        return bool(js("DispatcherMap.stats().stops > 0 && DispatcherMap.vehicles.size > 0"))

    wait(app, drawn)
    entry = window.shortcuts.find("window", "Fix position on map")
    assert entry is not None and entry.action is not None
    entry.action.trigger()

    def picking() -> bool:
        controller.tick()
        return bool(json.loads(js("JSON.stringify(DispatcherMap.pickState())"))["picking"])

    wait(app, picking)
    js("DispatcherMap.map.setZoom(14, {animate: false}); 1")
    time.sleep(0.5)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "map_pick.png"
    window.grab().save(str(path))
    print(f"banner: {js('DispatcherMap.pickState().banner')}")
    print(f"wrote {path}")
    window.close()
    core.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "map-pick-shot")))
