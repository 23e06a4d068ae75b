"""With a road engine the map's lines follow the roads and the boards use its times.

The router asks a fake OSRM server (its real answer formats) that bends every leg: the map's
overview lines and the selected route's path carry the bends, a cargo bike's line is asked on
the bicycle profile, the route desk's matrix is the engine's, and no request is made on the GUI
thread.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fleet_zone import demo_day
from PySide6.QtCore import QSettings
from routes_wait import wait_for_routes
from sqlalchemy import update

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.eta import haversine_m
from dispatcher.maps.routes import is_open, ordered
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.orm import Vehicle
from dispatcher.routing import Router, RoutingSettings
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.map.controller import MapController
from dispatcher_ui.selection import Selection

#: Points the fake engine puts on each leg between two places (a road is never a chord).
BENDS = 3


class BendingOsrm:
    """``fetch`` for the router: every leg of a route comes back with :data:`BENDS` bends;
    tables are straight lines x 1.3 at 30 km/h."""

    def __init__(self) -> None:
        #: (service, on the GUI thread) of every request.
        self.threads: list[tuple[str, bool]] = []
        self.urls: list[str] = []

    def __call__(self, url: str, timeout_s: float) -> bytes:
        self.urls.append(url)
        self.threads.append(
            (url.split("/")[3], threading.current_thread() is threading.main_thread())
        )
        found = re.search(r"/(route|table)/v1/[^/]+/([^?]+)", url)
        assert found, url
        places = [tuple(map(float, p.split(","))) for p in found.group(2).split(";")]
        if found.group(1) == "table":  # the desk's matrix: straight lines at 30 km/h
            query = dict(kv.split("=") for kv in url.split("?", 1)[1].split("&"))
            src = [places[int(i)] for i in query["sources"].split(";")]
            dst = [places[int(i)] for i in query["destinations"].split(";")]
            dist = haversine_m(np.array(src)[:, ::-1], np.array(dst)[:, ::-1]) * 1.3
            answer = {"code": "Ok", "distances": dist.tolist(), "durations": (dist / 8.33).tolist()}
            return json.dumps(answer).encode()
        line: list[list[float]] = []
        for (lon1, lat1), (lon2, lat2) in itertools.pairwise(places):
            line.append([lon1, lat1])
            for k in range(1, BENDS + 1):
                f = k / (BENDS + 1)
                line.append([lon1 + (lon2 - lon1) * f + 0.001, lat1 + (lat2 - lat1) * f])
        line.append(list(places[-1]))
        geometry = {"type": "LineString", "coordinates": line}
        route = {"geometry": geometry, "distance": 1000.0, "duration": 120.0, "legs": []}
        return json.dumps({"code": "Ok", "routes": [route], "waypoints": []}).encode()


@pytest.fixture
def core(sqlite_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=sqlite_url))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    yield c
    c.close()


def js(qtbot: Any, controller: MapController, source: str) -> Any:
    box: list[Any] = []
    controller.view.page().runJavaScript(source, 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10000)
    return box[0]


def test_routes_are_drawn_along_the_roads(qtbot: Any, core: Core, tmp_path: Path) -> None:
    engine = BendingOsrm()
    core.routing = Router(RoutingSettings(provider="osrm", url="http://osrm.test"), fetch=engine)
    bike = sorted(r.vehicle_id for r in core.load_routes() if len(r.stops) > 1)[-1]
    with core.db.session() as session:  # its line rides the bicycle profile
        session.execute(update(Vehicle).where(Vehicle.id == bike).values(vehicle_type="cargo_bike"))
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    window.resize(1200, 800)
    window.show()
    controller: MapController = window.map_controller
    qtbot.waitUntil(lambda: controller.view.ready, timeout=30000)
    routes = {r.vehicle_id: r for r in core.load_routes() if r.vehicle_id and len(r.stops) > 1}
    vid, route = sorted(routes.items())[0]

    def drawn() -> int:
        controller.tick()
        line = f"DispatcherMap.overview.get('{vid}')"
        return int(js(qtbot, controller, f"{line} ? {line}.getLatLngs().length : 0"))

    expected = len(route.stops) + BENDS * (len(route.stops) - 1)
    qtbot.waitUntil(lambda: drawn() == expected, timeout=15000)
    # asked in workers only: the map's lines, and the day's read warming the boards' times
    assert {kind for kind, _ in engine.threads} == {"route", "table"}
    assert not any(on_gui for _, on_gui in engine.threads)
    bike_line = [(s.lon, s.lat) for s in ordered(routes[bike].stops)]
    asked = ";".join(f"{lon:.6f},{lat:.6f}" for lon, lat in bike_line)
    assert any(f"/route/v1/bicycle/{asked}?" in url for url in engine.urls), "the bike's line"
    assert not any(f"/route/v1/car/{asked}?" in url for url in engine.urls)
    desk = window.routes_panel.controller.desk
    assert desk.pm is not None and desk.pm.matrix.source == "osrm"  # the boards' ETAs

    # the selected route's remaining path follows the roads too (no live fix: no start point)
    remaining = [s for s in ordered(route.stops) if is_open(s)]
    if len(remaining) > 1:
        payload = controller._route_batch(Selection(vehicle_id=vid))
        assert payload is not None
        assert len(payload["path"]) == len(remaining) + BENDS * (len(remaining) - 1)
