"""The live map in a real QtWebEngine page, offscreen and with no network.

Each test drives the core (fleet state, selection, settings) and looks at what the page has —
markers, their positions, the route's stops — through the page's own ``DispatcherMap.stats``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, TZ, demo_day, utc
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtTest import QTest
from routes_wait import wait_for_routes

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.fleet.state import FleetChanged
from dispatcher.maps.mbtiles import write_mbtiles
from dispatcher.model.core import PositionReport
from dispatcher.model.stops import RouteView, StopView
from dispatcher.persistence import fleet_repo
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.map.controller import MapController
from dispatcher_ui.map.dock import export_to

T0 = utc(10, 0)
HOSTILE = '</script><img src=x onerror="window.__pwned=1">\'); drop'
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def core(sqlite_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=sqlite_url))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    yield c
    c.close()


def open_window(qtbot: Any, core: Core, tmp_path: Path) -> tuple[MainWindow, MapController]:
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    window.resize(1200, 800)
    window.show()
    controller: MapController = window.map_controller
    qtbot.waitUntil(lambda: controller.view.ready, timeout=30000)
    return window, controller


def js(qtbot: Any, controller: MapController, source: str) -> Any:
    """Evaluate ``source`` in the page and return its (JSON-able) value."""
    box: list[Any] = []
    controller.view.page().runJavaScript(source, 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10000)
    return box[0]


def drive(
    core: Core, controller: MapController, fixes: list[tuple[str, float, float]], t: datetime
) -> None:
    """Feed positions to the fleet as the ingest drain would, then tick the map."""
    reports = [
        (PositionReport(vid, t, lat, lon, speed_kmh=25.0, heading_deg=45.0), False)
        for vid, lat, lon in fixes
    ]
    changed, state_changed = controller.fleet.apply_positions(reports, t)
    core.bus.publish(FleetChanged(frozenset(changed), frozenset(state_changed)))


def tick_until(qtbot: Any, controller: MapController, check: Any) -> None:
    def done() -> bool:
        controller.tick()
        return bool(check())

    qtbot.waitUntil(done, timeout=15000)


def stats(qtbot: Any, controller: MapController) -> dict[str, Any]:
    return json.loads(js(qtbot, controller, "JSON.stringify(DispatcherMap.stats())"))


def test_page_loads_with_no_network_and_shows_scale_grid_and_depot(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    _, controller = open_window(qtbot, core, tmp_path)
    assert js(qtbot, controller, "document.querySelectorAll('.leaflet-control-scale').length") == 1
    assert js(qtbot, controller, "document.querySelectorAll('canvas.leaflet-tile').length") > 0
    assert js(qtbot, controller, "document.querySelectorAll('.dm-depot-box').length") == 1
    assert js(qtbot, controller, "typeof L.version") == "string"  # Leaflet came from the app
    assert not controller.view.map_page.errors


def test_marker_count_equals_the_fleet_and_a_move_moves_the_marker(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    _, controller = open_window(qtbot, core, tmp_path)
    fixes = [(f"V{i:02d}", 52.45 + i * 0.005, 13.35 + i * 0.004) for i in range(1, 13)]
    drive(core, controller, fixes, T0)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["markers"] == 12)
    assert stats(qtbot, controller)["vehicles"] == len(controller.fleet)
    route = core.load_routes()[0]

    def tip() -> str:  # names, drivers and next stops come with the routes, read off-thread
        js(qtbot, controller, "DispatcherMap.showTip('V01'); 1")
        return str(js(qtbot, controller, "document.querySelector('.dm-tip-body').innerText"))

    tick_until(qtbot, controller, lambda: route.vehicle_name in tip())
    text = tip()
    assert route.vehicle_name in text and f"Driver: {route.driver_name}" in text
    assert "Speed: 25 km/h" in text and f"Next: {route.stops[0].customer_name} · ETA" in text

    drive(core, controller, [("V05", 52.531, 13.411)], T0 + timedelta(seconds=2))
    tick_until(
        qtbot,
        controller,
        lambda: (
            js(qtbot, controller, "String(DispatcherMap.markerLatLng('V05'))") == "52.531,13.411"
        ),
    )
    assert stats(qtbot, controller)["markers"] == 12
    assert not controller.view.map_page.errors


def test_click_on_a_marker_selects_the_vehicle_and_shows_its_route(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    drive(core, controller, [("V03", 52.52, 13.405)], T0)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["markers"] == 1)
    # the first fit to the fleet may still be zooming: set the view once it has ended
    # (a view set by hand ends the auto-fit, as the dispatcher's own zoom would)
    # (a fit that kept the zoom pans instead: _panAnim, which a non-animated setView stops)
    zoom_14 = """(function () { const map = DispatcherMap.map;
        DispatcherMap.autoFit = false;
        if (map._animatingZoom) return false;
        map.setView([52.52, 13.405], 14, {animate: false});
        const panning = map._panAnim && map._panAnim._inProgress;
        return map.getZoom() === 14 && !map._animatingZoom && !panning; })()"""
    qtbot.waitUntil(lambda: js(qtbot, controller, zoom_14) is True, timeout=10000)
    seen: list[object] = []

    def settled() -> bool:  # the same point twice in a row: nothing is moving the map now
        seen.append(js(qtbot, controller, "JSON.stringify(DispatcherMap.markerPoint('V03'))"))
        return len(seen) > 1 and seen[-1] == seen[-2]

    qtbot.waitUntil(settled, timeout=10000)
    x, y = json.loads(str(seen[-1]))
    target = controller.view.focusProxy()
    point = QPoint(round(x), round(y))
    assert target is not None and target.rect().contains(point)
    # a hand's click: hover, press, release, with time between (Chromium may drop a release
    # that arrives in the same instant as its press; otter-browser PR 1456 found the same).
    # Under a loaded CI machine the page has still lost a whole click now and then (about one
    # run in ten, cause not found): like a dispatcher, the test clicks again, at most twice.
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    picked: list[Any] = []
    window.selection.changed.connect(picked.append)
    for _attempt in range(3):
        QTest.mouseMove(target, point)
        qtbot.wait(50)
        QTest.mousePress(target, left, none, point)
        qtbot.wait(50)
        QTest.mouseRelease(target, left, none, point)
        try:
            qtbot.waitUntil(lambda: bool(picked), timeout=4000)
            break
        except qtbot.TimeoutError:
            continue
    assert picked, "three clicks on the marker, no selection"
    assert picked[0].vehicle_id == "V03"
    assert picked[0].source == "map"
    stops = len(core.load_routes()[2].stops)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["stops"] >= stops)
    assert js(qtbot, controller, "document.querySelectorAll('.dm-stop').length") == stops


def test_click_on_a_numbered_stop_selects_the_stop(qtbot: Any, core: Core, tmp_path: Path) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    drive(core, controller, [("V02", 52.52, 13.405)], T0)
    window.selection.select_vehicle("V02", source="routes")
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["stops"] > 0)
    first = core.load_routes()[1].stops[0]
    with qtbot.waitSignal(window.selection.changed, timeout=10000) as blocker:
        js(qtbot, controller, f"DispatcherMap.stopMarkers.get({first.id}).fire('click'); 1")
    assert (blocker.args[0].stop_id, blocker.args[0].vehicle_id) == (first.id, "V02")


def test_selection_elsewhere_highlights_the_vehicle_on_the_map(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    drive(core, controller, [("V01", 52.5, 13.4), ("V02", 52.51, 13.41)], T0)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["markers"] == 2)
    window.selection.select_vehicle("V02", source="routes")
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["selected"] == "V02")
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["stops"] > 0)


def test_selecting_an_exception_elsewhere_opens_its_stop_on_the_map(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    drive(core, controller, [("V05", 52.52, 13.405)], T0)
    stop = core.load_routes()[4].stops[3]
    window.selection.select_alert(7, stop_id=stop.id, source="exceptions")
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["selected"] == "V05")
    title = "Array.from(document.querySelectorAll('.leaflet-tooltip .dm-tip-title'))"
    shown = f"{title}.map(e => e.textContent).join('|')"
    # The tooltip waits for the route's refresh (and the boards' ETAs): tick it there, with
    # room for a loaded machine (this wait timed out at 5 s under load).
    tick_until(
        qtbot, controller, lambda: f"#4 {stop.customer_name}" in js(qtbot, controller, shown)
    )


def test_hostile_strings_render_as_text(qtbot: Any, core: Core, tmp_path: Path) -> None:
    _, controller = open_window(qtbot, core, tmp_path)
    controller.feed.set_vehicles({HOSTILE: (HOSTILE, HOSTILE)})
    drive(core, controller, [(HOSTILE, 52.5, 13.4)], T0)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["markers"] == 1)
    js(qtbot, controller, f"DispatcherMap.showTip({_literal(HOSTILE)}); 1")
    text = js(qtbot, controller, "document.querySelector('.dm-tip-body').textContent")
    assert HOSTILE in text
    assert js(qtbot, controller, "document.querySelectorAll('img[src=x]').length") == 0
    assert js(qtbot, controller, "typeof window.__pwned") == "undefined"
    assert not controller.view.map_page.errors


def test_mbtiles_source_serves_a_tile(qtbot: Any, sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "berlin.mbtiles"
    write_mbtiles(path, {(12, 2200, 1343): PNG}, {"name": "Berlin", "format": "png"})
    settings = Settings(database_url=sqlite_url, sections={"map": {"mbtiles": str(path)}})
    c = Core(settings)
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    try:
        _, controller = open_window(qtbot, c, tmp_path)
        key = next(iter(k for k in _handler().mbtiles if k.startswith("mbtiles-")))
        js(
            qtbot,
            controller,
            "const img = new Image(); img.onload = () => { window.__tile = img.naturalWidth; };"
            f"img.src = 'dmap://tiles/{key}/12/2200/1343.png'; 1",
        )
        qtbot.waitUntil(lambda: js(qtbot, controller, "window.__tile || 0") == 1)
        assert js(qtbot, controller, "document.querySelectorAll('.leaflet-control-layers').length")
    finally:
        c.close()


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """A local XYZ tile server (the "internet"); yields its URL template and the paths asked."""
    import http.server
    import threading

    asked: list[str] = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png", asked
    server.shutdown()
    server.server_close()


def test_online_tiles_are_cached_on_disk_and_served_when_offline(
    qtbot: Any, sqlite_url: str, tmp_path: Path, tile_server: tuple[str, list[str]]
) -> None:
    url, asked = tile_server
    cache = tmp_path / "tiles"
    section = {"tiles": url, "attribution": "Local tiles", "cache_dir": str(cache)}
    c = Core(Settings(database_url=sqlite_url, sections={"map": section}))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    try:
        _, controller = open_window(qtbot, c, tmp_path)
        assert controller.settings.source is not None
        key = controller.settings.source.key
        load = (
            "window.__tile = 0; const img = new Image();"
            " img.onload = () => { window.__tile = img.naturalWidth; };"
            f" img.src = 'dmap://tiles/{key}/3/4/2.png?' + Math.random(); 1"
        )
        js(qtbot, controller, load)
        qtbot.waitUntil(lambda: js(qtbot, controller, "window.__tile") == 1, timeout=10000)
        assert "/3/4/2.png" in asked
        assert (cache / key / "3" / "4" / "2").read_bytes() == PNG
        asked.clear()
        js(qtbot, controller, load)  # again: from disk, the server is not asked
        qtbot.waitUntil(lambda: js(qtbot, controller, "window.__tile") == 1, timeout=10000)
        assert "/3/4/2.png" not in asked
    finally:
        c.close()


def test_export_writes_the_days_routes_with_escaped_names(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    window, _ = open_window(qtbot, core, tmp_path)
    out = tmp_path / "day.html"
    export_to(window, out)  # in a worker: the status bar says when it is done
    qtbot.waitUntil(lambda: "exported" in window.statusBar().currentMessage(), timeout=30000)
    html = out.read_text(encoding="utf-8")
    assert "L.map(" in html and "cdn." not in html.split("<body>")[0]
    assert html.count("L.marker(") == 250
    assert "exported" in window.statusBar().currentMessage()


def test_exported_file_shows_hostile_names_as_text(qtbot: Any, tmp_path: Path) -> None:
    from dataclasses import replace

    from PySide6.QtCore import QUrl
    from PySide6.QtWebEngineWidgets import QWebEngineView

    from dispatcher.fleet.state import FleetState
    from dispatcher_ui.map.export import export_day

    evil = HOSTILE + " ${window.__pwned=2} `x` \\u0041"
    route = RouteView(1, "V1", evil, evil, 10, 1, ())
    stops = [_stop_view(i, evil) for i in range(3)]
    route = replace(route, stops=tuple(stops))
    fleet = FleetState()
    fleet.apply_positions([(PositionReport(evil, T0, 52.5, 13.4), False)], T0)
    out = tmp_path / "evil.html"
    assert export_day([route], fleet.snapshots(), out, TZ) == 3
    view = QWebEngineView()
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loadFinished, timeout=30000):
        view.load(QUrl.fromLocalFile(str(out)))
    box: list[Any] = []
    probe = (
        "[typeof window.__pwned, document.querySelectorAll('img[src=x]').length,"
        " document.querySelectorAll('.leaflet-marker-icon').length].join(',')"
    )
    view.page().runJavaScript(probe, 0, box.append)
    qtbot.waitUntil(lambda: bool(box))
    assert box[0] == "undefined,0,3"


def _stop_view(i: int, name: str) -> StopView:
    return StopView(
        id=i,
        order_ref=f"O{i}",
        service_date=DAY,
        sequence=i,
        kind="delivery",
        status="pending",
        customer_name=name,
        address=name,
        lat=52.5 + i / 100,
        lon=13.4,
        window_start=None,
        window_end=None,
        service_s=0,
        demand=1,
        pinned=False,
        planned_arrival=None,
    )


def _literal(text: str) -> str:
    from dispatcher.maps.jsbridge import to_js

    return to_js(text)


def _handler() -> Any:
    from dispatcher_ui.map.web import scheme_handler

    return scheme_handler()


# --- replay ------------------------------------------------------------------------------
def _frame(at: datetime, *fixes: tuple[str, float, float]) -> Any:
    from dispatcher.history.replay import ReplayFrame, ReplayPosition

    return ReplayFrame(
        at, [ReplayPosition(vid, lat, lon, 90.0, 30.0, 4.0) for vid, lat, lon in fixes]
    )


def latlng(qtbot: Any, controller: MapController, vid: str) -> str:
    return str(js(qtbot, controller, f"String(DispatcherMap.markerLatLng({_literal(vid)}))"))


def test_a_replay_frame_moves_the_markers_and_end_replay_brings_back_live(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    _, controller = open_window(qtbot, core, tmp_path)
    drive(core, controller, [("V01", 52.5, 13.4), ("V02", 52.51, 13.41)], T0)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["markers"] == 2)
    batches = controller.view.batches

    # 09:00 UTC is 10:00 in Berlin, the console's zone: V01 elsewhere, V02 not yet out, V09 is
    controller.show_replay(_frame(T0, ("V01", 52.44, 13.3), ("V09", 52.45, 13.31)))
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["replay"] == "10:00:00")
    assert controller.view.batches == batches + 1  # one bridge call per frame
    shown = stats(qtbot, controller)
    assert shown["banner"] == "REPLAY 10:00:00" and shown["markers"] == 2
    banner = "getComputedStyle(document.querySelector('.dm-replay')).display"
    assert js(qtbot, controller, banner) != "none"
    assert latlng(qtbot, controller, "V01") == "52.44,13.3"
    assert latlng(qtbot, controller, "V02") == "null"
    js(qtbot, controller, "DispatcherMap.showTip('V01'); 1")
    tip = js(qtbot, controller, "document.querySelector('.dm-tip-body').innerText")
    assert "Replay · position of 09:59:56" in tip and "Next:" not in tip

    controller.show_replay(_frame(T0 + timedelta(seconds=6), ("V01", 52.445, 13.305)))
    tick_until(qtbot, controller, lambda: latlng(qtbot, controller, "V01") == "52.445,13.305")
    assert latlng(qtbot, controller, "V09") == "null"  # not in this frame: gone
    assert stats(qtbot, controller)["banner"] == "REPLAY 10:00:06"

    # live fixes keep arriving but are not drawn while replaying
    drive(core, controller, [("V02", 52.52, 13.42)], T0 + timedelta(seconds=2))
    for _ in range(3):
        controller.tick()
    assert latlng(qtbot, controller, "V02") == "null"

    controller.end_replay()
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["replay"] is None)
    tick_until(qtbot, controller, lambda: latlng(qtbot, controller, "V01") == "52.5,13.4")
    assert latlng(qtbot, controller, "V02") == "52.52,13.42"
    assert stats(qtbot, controller)["markers"] == 2 and stats(qtbot, controller)["banner"] == ""
    assert js(qtbot, controller, banner) == "none"
    assert not controller.view.map_page.errors


def test_replay_through_the_history_room_reaches_the_real_map(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    from dispatcher_ui.history import dock as history_dock

    window, controller = open_window(qtbot, core, tmp_path)
    history_dock.show_frame(window, _frame(T0, ("V03", 52.5, 13.4)))
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["replay"] == "10:00:00")
    history_dock.leave_replay(window)
    assert not controller.replaying
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["replay"] is None)


# --- reads off the GUI thread -----------------------------------------------------------
def test_routes_and_exceptions_are_read_off_the_gui_thread(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    import threading

    from dispatcher.alerts.events import AlertsChanged
    from dispatcher.model.alerts import Alert, AlertKind, Severity
    from dispatcher.persistence.alert_repo import alert_store

    _, controller = open_window(qtbot, core, tmp_path)
    threads: list[bool] = []
    for load in (controller.routes_load, controller.alerts_load):
        fetch = load.fetch

        def recorded(fetch: Any = fetch) -> Any:
            threads.append(threading.current_thread() is threading.main_thread())
            return fetch()

        load.fetch = recorded
    expected = {r.vehicle_id for r in core.load_routes()}
    qtbot.waitUntil(lambda: set(controller.routes) == expected, timeout=15000)  # the first load
    drive(core, controller, [("V04", 52.5, 13.4)], T0)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["markers"] == 1)
    with alert_store(core.db) as store:
        store.insert(
            Alert(AlertKind.LATE, "stop:1", Severity.HIGH, "V04 late", T0, T0, T0, vehicle_id="V04")
        )
    core.bus.publish(AlertsChanged())
    state = "DispatcherMap.vehicles.get('V04').row[4]"
    tick_until(qtbot, controller, lambda: js(qtbot, controller, state) == "late")
    assert threads and not any(threads)  # every read ran in a worker


def test_a_failing_read_says_so_in_the_status_bar_and_the_map_goes_on(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    from dispatcher.errors import DispatcherError

    window, controller = open_window(qtbot, core, tmp_path)
    qtbot.waitUntil(lambda: controller.alerts_load.applied >= 1, timeout=15000)

    def broken() -> Any:
        raise DispatcherError("the database is unreachable")

    controller.alerts_load.fetch = broken
    controller.alerts_load.request()
    qtbot.waitUntil(lambda: controller.alerts_load.failed == 1, timeout=10000)
    message = window.statusBar().currentMessage()
    assert "could not read the open exceptions" in message and "unreachable" in message
    drive(core, controller, [("V06", 52.5, 13.4)], T0)  # the map still works
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["markers"] == 1)


def test_one_load_in_flight_and_a_superseded_result_is_dropped(qtbot: Any) -> None:
    import threading

    from dispatcher_ui.map.loader import LatestLoad

    gate = threading.Event()
    calls: list[int] = []
    applied: list[int] = []
    errors: list[str] = []

    def fetch() -> int:
        calls.append(len(calls))
        gate.wait(10)
        return len(calls)

    load = LatestLoad("test", fetch, applied.append, lambda what, exc: errors.append(what))
    load.request()
    qtbot.waitUntil(lambda: len(calls) == 1)
    load.request()  # newer requests while the first is in flight: one follow-up load
    load.request()
    assert load.in_flight and len(calls) == 1
    gate.set()
    qtbot.waitUntil(lambda: not load.in_flight and bool(applied), timeout=10000)
    assert calls == [0, 1] and applied == [2]  # the first (stale) result never applied
    assert load.dropped == 1 and load.applied == 1 and not errors


def test_a_coarse_fix_shows_its_circle_and_says_why(qtbot: Any, core: Core, tmp_path: Path) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    drive(core, controller, [("V01", 52.50, 13.40)], T0)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["markers"] == 1)
    assert stats(qtbot, controller)["circles"] == 0
    cell = PositionReport("V01", T0 + timedelta(seconds=60), 52.52, 13.41, None, None, 1800.0)
    cell.coarse, cell.tracking_mode = True, "significant"
    changed, _ = controller.fleet.apply_positions([(cell, False)], T0 + timedelta(seconds=60))
    core.bus.publish(FleetChanged(frozenset(changed)))
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["circles"] == 1)
    js(qtbot, controller, "DispatcherMap.showTip('V01'); 1")
    text = str(js(qtbot, controller, "document.querySelector('.dm-tip-body').innerText"))
    assert "Coarse position" in text and "switch it to Move mode" in text
    # the fleet table says it too (the window's own fleet when no live feed runs)
    model = window.fleet_model
    fleet = model._fleet
    fleet.apply_positions([(cell, False)], T0 + timedelta(seconds=60))
    model.on_fleet_changed(FleetChanged(frozenset({"V01"})))
    index = model.index(0, 1)
    assert model.data(index) == "coarse position"
    assert "significant-changes mode" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(0, 4)).endswith("(±1.8 km)")
    # a precise fix again: circle gone
    drive(core, controller, [("V01", 52.501, 13.40)], T0 + timedelta(seconds=90))
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["circles"] == 0)
    assert not controller.view.map_page.errors


# --- the map at a glance (issue 14, item 7) ---------------------------------------------------
SPREAD_FIXES = [
    (f"V{i:02d}", 52.44 + (i % 4) * 0.035, 13.30 + (i // 4) * 0.07 + (i % 2) * 0.01)
    for i in range(1, 13)
]


def routes_shown(qtbot: Any, controller: MapController) -> int:
    return int(stats(qtbot, controller)["routes"])


def test_every_vehicle_has_a_label_at_the_default_zoom_and_labels_do_not_overlap(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    _, controller = open_window(qtbot, core, tmp_path)
    drive(core, controller, SPREAD_FIXES, T0)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["markers"] == 12)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["labels"] == 12)
    assert stats(qtbot, controller)["zoom"] < controller.settings.label_zoom
    names = sorted(r.vehicle_name for r in core.load_routes() if r.vehicle_id)

    def boxes() -> list[list[Any]]:
        return json.loads(js(qtbot, controller, "JSON.stringify(DispatcherMap.labelBoxes())"))

    tick_until(qtbot, controller, lambda: sorted(b[1] for b in boxes()) == names)  # names came
    labels = boxes()
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not (a[2] < b[4] and b[2] < a[4] and a[3] < b[5] and b[3] < a[5]), (a, b)
    # crowded together, a label that would cover another is left out (the tooltip names it)
    crowd = [(v, 52.52, 13.405 + i * 1e-5) for i, (v, _, _) in enumerate(SPREAD_FIXES)]
    drive(core, controller, crowd, T0 + timedelta(seconds=5))
    tick_until(qtbot, controller, lambda: 0 < stats(qtbot, controller)["labels"] < 12)


def test_every_route_of_the_day_is_drawn_faintly_and_the_selected_one_strong(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    with_stops = [r for r in core.load_routes() if r.vehicle_id and len(r.stops) > 1]
    tick_until(qtbot, controller, lambda: routes_shown(qtbot, controller) == len(with_stops))
    assert stats(qtbot, controller)["strongRoutes"] == 0
    window.selection.select_vehicle("V02", source="routes")
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["strongRoutes"] == 1)
    strong = js(qtbot, controller, "DispatcherMap.overview.get('V02').options.opacity")
    faint = js(qtbot, controller, "DispatcherMap.overview.get('V03').options.opacity")
    assert strong > 0.8
    assert faint < 0.5


def test_a_planned_day_with_no_vehicle_reporting_is_in_view_at_start(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    """The morning before the first van reports: the map opens on every stop of the day, not
    on a corner of it around the default centre."""
    _, controller = open_window(qtbot, core, tmp_path)
    stops = [s for r in core.load_routes() if r.vehicle_id for s in r.stops]
    tick_until(qtbot, controller, lambda: routes_shown(qtbot, controller) > 0)
    assert stats(qtbot, controller)["vehicles"] == 0
    inside = (
        "(function (pts) { const b = DispatcherMap.map.getBounds();"
        " return pts.filter(function (p) { return b.contains(p); }).length; })"
    )
    points = json.dumps([[s.lat, s.lon] for s in stops])
    qtbot.waitUntil(lambda: js(qtbot, controller, f"{inside}({points})") == len(stops))


def test_unassigned_orders_are_shown_with_their_own_marker(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    from dispatcher.planning.dayplan import UNASSIGNED

    window, controller = open_window(qtbot, core, tmp_path)
    tick_until(qtbot, controller, lambda: routes_shown(qtbot, controller) > 0)
    assert stats(qtbot, controller)["unassigned"] == 0
    board = window.routes_panel.controller
    moved = [board.route("V04")[-1], board.route("V05")[-1]]
    assert board.move(moved, UNASSIGNED, -1)  # RoutesChanged: the map re-reads, no poll
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["unassigned"] == 2)
    assert js(qtbot, controller, "document.querySelectorAll('.dm-unassigned').length") == 2
    with qtbot.waitSignal(window.selection.changed, timeout=10000) as blocker:
        js(qtbot, controller, "DispatcherMap.unassignedLayer.getLayers()[0].fire('click'); 1")
    assert str(blocker.args[0].stop_id) in moved


def count_day_reads(core: Core) -> list[object]:
    """The days the map reads itself from now on (``Core.load_routes``; the boards read
    with ``Core.read_day``)."""
    reads: list[object] = []
    read = core.load_routes

    def counted(day: Any = None) -> list[RouteView]:
        reads.append(day)
        return read(day)

    core.load_routes = counted  # type: ignore[method-assign]  # counts the map's own reads
    return reads


def test_f5_shows_the_routes_the_boards_read_without_reading_the_day_again(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    """The boards' reload hands its read to the map (RoutesChanged): at 500 vehicles a second
    read of the day's 10,000 stops took the interpreter from the GUI thread after every F5
    and every save of another desk (bench/console.py)."""
    from sqlalchemy import update

    from dispatcher.persistence.orm import Stop

    window, controller = open_window(qtbot, core, tmp_path)
    tick_until(qtbot, controller, lambda: routes_shown(qtbot, controller) > 0)
    assert stats(qtbot, controller)["unassigned"] == 0
    moved = window.routes_panel.controller.route("V04")[-1]
    with core.db.session() as session:  # another desk took the stop off V04, unseen here
        session.execute(update(Stop).where(Stop.id == int(moved)).values(route_id=None))
    reads = count_day_reads(core)
    applied = controller.routes_load.applied
    qtbot.keyClick(window.routes_panel.boards["V04"].table, Qt.Key.Key_F5)
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["unassigned"] == 1)
    assert controller.routes_load.applied > applied and reads == []
    assert int(moved) not in [s.id for s in controller.routes["V04"].stops]


def test_the_window_reads_the_day_once_at_start_up_for_the_boards_and_the_map(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    """The map waits for the boards' first read rather than reading the day beside it, and
    its page coming up does not read it again: one read of the day's stops at start-up."""
    reads = count_day_reads(core)
    _, controller = open_window(qtbot, core, tmp_path)
    tick_until(qtbot, controller, lambda: routes_shown(qtbot, controller) > 0)
    for _ in range(5):
        controller.tick()
    assert reads == [] and controller.routes_load.applied >= 1
    assert set(controller.routes) == {r.vehicle_id for r in core.read_day().routes if r.vehicle_id}


def test_numbered_stops_do_not_cover_each_other(qtbot: Any, core: Core, tmp_path: Path) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    drive(core, controller, [("V04", 52.52, 13.405)], T0)
    window.selection.select_vehicle("V04", source="routes")
    n = len(next(r for r in core.load_routes() if r.vehicle_id == "V04").stops)
    badges = "document.querySelectorAll('.dm-stop').length"
    tick_until(qtbot, controller, lambda: js(qtbot, controller, badges) == n)
    js(
        qtbot,
        controller,
        "DispatcherMap.autoFit = false; DispatcherMap.map.setZoom(11, {animate: false}); 1",
    )
    rects = json.loads(
        js(
            qtbot,
            controller,
            """JSON.stringify(Array.from(document.querySelectorAll('.dm-stop')).map(
            function (e) { const r = e.getBoundingClientRect();
                           return [r.left, r.top, r.right, r.bottom]; }))""",
        )
    )
    assert len(rects) == n
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            overlap = a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1
            assert not overlap, (a, b)


def test_a_stop_tooltip_at_the_top_edge_opens_below_and_stays_inside_the_map(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    window.selection.select_vehicle("V02", source="routes")
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["stops"] > 0)
    first = next(r for r in core.load_routes() if r.vehicle_id == "V02").stops[0]
    # the fit to the selected route may still be zooming: pan once nothing moves the map
    # (a pan during a zoom animation is undone by its end)
    view = """(function () { const map = DispatcherMap.map;
        if (map._animatingZoom || (map._panAnim && map._panAnim._inProgress)) return "";
        return JSON.stringify([map.getCenter(), map.getZoom()]); })()"""
    seen: list[object] = []

    def settled() -> bool:
        seen.append(js(qtbot, controller, view))
        return len(seen) > 1 and seen[-1] != "" and seen[-1] == seen[-2]

    qtbot.waitUntil(settled, timeout=10000)
    source = f"""(function () {{ try {{
        const map = DispatcherMap.map;
        const m = DispatcherMap.stopMarkers.get({first.id});
        const p = map.latLngToContainerPoint(m.getLatLng());
        map.panBy([p.x - 4, p.y - 6], {{animate: false}});
        m.openTooltip();
        const t = m.getTooltip().getElement().getBoundingClientRect();
        const c = map.getContainer().getBoundingClientRect();
        return JSON.stringify(
            [t.top >= c.top, t.left >= c.left, t.right <= c.right, t.bottom <= c.bottom]);
    }} catch (e) {{ return String(e) + " " + e.stack; }} }})()"""
    assert json.loads(js(qtbot, controller, source)) == [True, True, True, True]


def test_a_stops_eta_on_the_map_is_the_one_on_its_board(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    from dispatcher_ui.routes.board_model import Column

    window, controller = open_window(qtbot, core, tmp_path)
    drive(core, controller, [("V03", 52.53, 13.42)], T0)  # a live fix the old guess ran from
    window.selection.select_vehicle("V03", source="routes")
    tick_until(qtbot, controller, lambda: stats(qtbot, controller)["stops"] > 0)
    payload = controller._route_batch(window.selection.current)
    assert payload is not None
    board = window.routes_panel.boards["V03"]
    on_board = {
        board.model.stop_id(r): board.model.index(r, Column.ETA).data()
        for r in range(board.model.rowCount())
    }
    on_map = {str(row[0]): row[8] for row in payload["stops"]}
    assert on_map == on_board and all(on_map.values())
    sid = payload["stops"][3][0]
    tip = js(
        qtbot,
        controller,
        f"""(function () {{ const m = DispatcherMap.stopMarkers.get({sid}); m.openTooltip();
        return m.getTooltip().getElement().innerText; }})()""",
    )
    assert f"ETA {on_board[str(sid)]}" in tip


def test_a_big_fleet_draws_only_the_selected_vehicles_day_line(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    """500 vans leaving one depot drew a fan of lines that hid the map (docs/scale)."""
    _window, controller = open_window(qtbot, core, tmp_path)
    rows = [
        [f"B{i:03d}", f"Van {i}", [[52.5, 13.4], [52.5 + i * 0.001, 13.41 + i * 0.001]]]
        for i in range(61)
    ]
    js(qtbot, controller, f"DispatcherMap.apply({json.dumps({'routes': rows})}); 1")
    assert stats(qtbot, controller)["routes"] == 61
    assert stats(qtbot, controller)["drawnRoutes"] == 0
    js(qtbot, controller, "DispatcherMap.select('B007', false); 1")
    assert stats(qtbot, controller)["drawnRoutes"] == 1
    js(qtbot, controller, "DispatcherMap.select('B008', false); 1")
    assert stats(qtbot, controller)["drawnRoutes"] == 1  # B007's went when B008 came
    assert js(
        qtbot,
        controller,
        "DispatcherMap.overviewLayer.hasLayer(DispatcherMap.overview.get('B008'))",
    )
    small = {"routes": rows[:60]}
    js(qtbot, controller, f"DispatcherMap.apply({json.dumps(small)}); 1")
    assert stats(qtbot, controller)["drawnRoutes"] == 60
