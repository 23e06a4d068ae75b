"""The map's Qt-free core: settings, safe JSON, display states, the per-tick diff, routes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fleet_zone import DAY, TZ, utc
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.errors import ConfigError
from dispatcher.fleet.state import FleetState
from dispatcher.maps.feed import MapFeed
from dispatcher.maps.jsbridge import call, escape_html, to_js
from dispatcher.maps.routes import (
    depots_payload,
    overview_payload,
    route_payload,
    unassigned_payload,
)
from dispatcher.maps.settings import OSM_ATTRIBUTION, MapSettings, resolve_source
from dispatcher.maps.styling import DisplayState, display_state
from dispatcher.model.alerts import Alert, AlertKind, Severity
from dispatcher.model.core import PositionReport, VehicleState
from dispatcher.model.stops import RouteView, StopView
from dispatcher.persistence.fleet_repo import VehicleView
from dispatcher.planning.stop_eta import StopEta

T0 = utc(10, 0)
HOSTILE = ["</script><img src=x onerror=alert(1)>", "'); drop table stops; --", "\u2028x\u2029"]


# --- settings ---------------------------------------------------------------------------
def test_default_basemap_is_openstreetmap_with_its_attribution() -> None:
    s = MapSettings.from_sections({})
    assert s.source is not None and s.source.key == "osm"
    assert s.source.attribution == OSM_ATTRIBUTION
    assert s.mbtiles is None and s.cache_max_bytes == 500 * 1024 * 1024


def test_named_xyzservices_provider_and_none() -> None:
    src = resolve_source("OpenTopoMap")
    assert src is not None and "{z}" in src.url and src.attribution
    assert resolve_source("none") is None


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ({"tiles": "No.Such.Provider"}, "no tile provider"),
        ({"tiles": "https://t.example/{z}/{x}.png", "attribution": "me"}, "{y}"),
        ({"tiles": "https://t.example/{z}/{x}/{y}.png"}, "attribution"),
        ({"tiles": "file:///etc/{z}/{x}/{y}", "attribution": "x"}, "http"),
        ({"zoom": "twelve"}, "zoom"),
        ({"center": [100, 0]}, "center"),
        ({"colour": "red"}, "unknown setting 'colour'"),
    ],
)
def test_bad_map_settings_say_which_key(section: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match="map") as err:
        MapSettings.from_sections({"map": section})
    assert says in str(err.value)


# --- safe JSON for the page -------------------------------------------------------------
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_become_inert_javascript_literals(text: str) -> None:
    literal = to_js({"name": text})
    assert not set("<>'\u2028\u2029") & set(literal)
    assert json.loads(literal) == {"name": text}


@given(st.recursive(st.text() | st.integers() | st.none(), st.lists, max_leaves=8))
def test_to_js_round_trips_and_never_contains_markup(value: object) -> None:
    literal = to_js(value)
    assert json.loads(literal) == value
    assert "<" not in literal and "'" not in literal


def test_call_only_accepts_our_function_names() -> None:
    assert call("DispatcherMap.apply", {"a": HOSTILE[0]}).startswith("DispatcherMap.apply({")
    with pytest.raises(ValueError, match="not a function"):
        call("alert(1);x", 1)
    assert escape_html(HOSTILE[0]) == "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


# --- display states ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "kinds", "expected"),
    [
        (VehicleState.MOVING, [], DisplayState.ON_TIME),
        (VehicleState.STOPPED, [], DisplayState.ON_TIME),
        (VehicleState.IDLE, [], DisplayState.IDLE),
        (VehicleState.STALE, [], DisplayState.STALE),
        (VehicleState.OFFLINE, [], DisplayState.OFFLINE),
        (VehicleState.MOVING, [AlertKind.AT_RISK], DisplayState.AT_RISK),
        (VehicleState.MOVING, [AlertKind.SHIFT_OVERRUN], DisplayState.AT_RISK),
        (VehicleState.MOVING, [AlertKind.AT_RISK, AlertKind.LATE], DisplayState.LATE),
        # a late customer stays red even when the van went quiet: trouble wins over routine
        (VehicleState.OFFLINE, [AlertKind.LATE], DisplayState.LATE),
        (VehicleState.MOVING, [AlertKind.VEHICLE_OFFLINE], DisplayState.OFFLINE),
        (VehicleState.UNKNOWN, [], DisplayState.UNKNOWN),
    ],
)
def test_display_state_precedence(
    state: VehicleState, kinds: list[AlertKind], expected: DisplayState
) -> None:
    assert display_state(state, kinds) is expected


# --- the per-tick diff ------------------------------------------------------------------
def _fix(vid: str, lat: float, t: datetime, speed: float = 30.0) -> tuple[PositionReport, bool]:
    return PositionReport(vid, t, lat, 13.4, speed_kmh=speed, heading_deg=90.0), False


def _alert(kind: AlertKind, vid: str) -> Alert:
    return Alert(kind, f"{kind}:{vid}", Severity.HIGH, f"{vid} {kind}", T0, T0, T0, vehicle_id=vid)


def test_feed_sends_everything_once_then_only_what_moved() -> None:
    fleet = FleetState()
    fleet.apply_positions([_fix(f"V{i}", 52.5 + i / 100, T0) for i in range(5)], T0)
    feed = MapFeed(fleet, TZ)
    first = feed.build(T0)
    assert first is not None and len(first["v"]) == 5
    assert feed.build(T0) is None  # nothing changed: no call to the page at all
    t1 = T0 + timedelta(seconds=1)
    changed, _ = fleet.apply_positions([_fix("V3", 52.6, t1)], t1)
    feed.mark(changed)
    second = feed.build(t1)
    assert second is not None and [row[0] for row in second["v"]] == ["V3"]
    assert second["v"][0][1] == 52.6 and second["v"][0][4] == "on_time"


def test_feed_recolours_on_alerts_and_reports_removed_vehicles() -> None:
    fleet = FleetState()
    fleet.apply_positions([_fix("V1", 52.5, T0), _fix("V2", 52.6, T0)], T0)
    feed = MapFeed(fleet, TZ)
    feed.build(T0)
    feed.set_alerts([_alert(AlertKind.LATE, "V2")])
    batch = feed.build(T0)
    assert batch is not None
    assert [(r[0], r[4], r[7]) for r in batch["v"]] == [("V2", "late", 1)]
    assert batch["i"]["V2"][4] == ["V2 late"]
    fleet.remove("V1")
    batch = feed.build(T0 + timedelta(seconds=30))
    assert batch is not None and batch["rm"] == ["V1"]


def test_changes_collected_over_several_ticks_go_out_once_with_the_latest_row() -> None:
    fleet = FleetState()
    fleet.apply_positions([_fix("V1", 52.5, T0), _fix("V2", 52.6, T0)], T0)
    feed = MapFeed(fleet, TZ)
    feed.build(T0)
    for k in range(1, 4):  # the page is busy for three ticks; V1 moves every tick
        t = T0 + timedelta(seconds=k)
        changed, _ = fleet.apply_positions([_fix("V1", 52.5 + k / 1000, t)], t)
        feed.mark(changed)
        feed.collect(t)
    batch = feed.take()
    assert batch is not None and [(r[0], r[1]) for r in batch["v"]] == [("V1", 52.503)]
    assert batch["t"] == int((T0 + timedelta(seconds=3)).timestamp())
    assert feed.take() is None


# --- routes -----------------------------------------------------------------------------
def _stop(i: int, status: str = "pending", end_h: int = 18) -> StopView:
    day = DAY
    return StopView(
        id=100 + i,
        order_ref=f"O{i}",
        service_date=day,
        sequence=i,
        kind="delivery",
        status=status,
        customer_name=HOSTILE[i % 3],
        address=f"Street {i}",
        lat=52.50 + i * 0.01,
        lon=13.40,
        window_start=T0,
        window_end=T0.replace(hour=end_h),
        service_s=300,
        demand=1,
        pinned=False,
        planned_arrival=None,
    )


def test_route_payload_numbers_stops_and_styles_them() -> None:
    stops = (_stop(1, "done"), _stop(2, "failed"), _stop(3), _stop(4, end_h=9), _stop(5))
    route = RouteView(1, "V1", "Van 1", "Ann", 100, 1, stops)
    fleet = FleetState()
    fleet.apply_positions([_fix("V1", 52.52, T0)], T0)
    etas = {104: StopEta(T0 + timedelta(minutes=5), late_s=300.0), 105: StopEta(T0)}
    payload = route_payload(route, fleet.get("V1"), etas, TZ)
    assert [(row[1], row[4]) for row in payload["stops"]] == [
        (1, "done"),
        (2, "failed"),
        (3, "next"),
        (4, "late"),  # the boards' evaluation has it past its window's end
        (5, "pending"),
    ]
    assert payload["stops"][4][8] == T0.astimezone(TZ).strftime("%H:%M")  # the boards' ETA
    assert payload["stops"][2][8] == ""  # no ETA announced: none invented here
    assert payload["path"][0] == [52.52, 13.4] and len(payload["path"]) == 4
    assert payload["stops"][0][5] == HOSTILE[1]  # names pass through as data, escaped later


def test_the_day_overview_has_every_route_and_the_unassigned_pool() -> None:
    route = RouteView(1, "V1", "Van 1", "Ann", 100, 1, (_stop(1, "done"), _stop(2), _stop(3)))
    pool = RouteView(0, "", "Unassigned", "", 0, 0, (_stop(7), _stop(8, "done")))
    assert overview_payload([route, pool]) == [
        ["V1", "Van 1", [[s.lat, s.lon] for s in route.stops]]
    ]
    rows = unassigned_payload([route, pool], TZ)
    assert [r[0] for r in rows] == [107]  # an open order on no route; a served one is not


def test_depots_are_grouped_by_location() -> None:
    from datetime import time

    vans = [VehicleView(f"V{i}", "Van", 10, time(8), time(17), "", 52.5, 13.4) for i in range(3)]
    assert depots_payload(vans) == [[52.5, 13.4, "Depot · 3 vehicles"]]


def test_geofences_become_circles_and_polygons() -> None:
    from dispatcher.alerts.facts import Geofence
    from dispatcher.maps.routes import geofences_payload

    fences = [
        Geofence("F1", "Yard", center=(52.5, 13.4), radius_m=200),
        Geofence("F2", "No-go", polygon=[(52.5, 13.4), (52.6, 13.4), (52.6, 13.5)]),
    ]
    assert geofences_payload(fences) == [
        {"name": "Yard", "c": [52.5, 13.4], "r": 200},
        {"name": "No-go", "p": [[52.5, 13.4], [52.6, 13.4], [52.6, 13.5]]},
    ]


def test_mbtiles_and_tile_cache(tmp_path: Path) -> None:
    from dispatcher.maps.mbtiles import MBTilesReader, write_mbtiles
    from dispatcher.maps.tile_cache import TileCache

    png = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    path = tmp_path / "area.mbtiles"
    write_mbtiles(path, {(2, 1, 0): png}, {"name": "Area", "format": "png", "maxzoom": "5"})
    reader = MBTilesReader(path)
    assert reader.tile(2, 1, 0) == png  # XYZ row 0 is TMS row 3
    assert reader.tile(2, 1, 3) is None and reader.tile(2, 9, 9) is None
    assert reader.zoom_range == (0, 5) and reader.mime_type == "image/png"
    reader.close()
    with pytest.raises(ConfigError, match="no such file"):
        MBTilesReader(tmp_path / "missing.mbtiles")
    (tmp_path / "junk.mbtiles").write_bytes(b"not sqlite at all")
    with pytest.raises(ConfigError, match="not an MBTiles"):
        MBTilesReader(tmp_path / "junk.mbtiles")
    write_mbtiles(tmp_path / "v.mbtiles", {}, {"format": "pbf"})
    with pytest.raises(ConfigError, match="raster"):
        MBTilesReader(tmp_path / "v.mbtiles")

    cache = TileCache(tmp_path / "cache", max_bytes=60)
    cache.put("osm", 3, 2, 1, png)
    got = cache.get("osm", 3, 2, 1)
    assert got is not None and got.data == png and got.age_s < 60
    assert cache.get("osm", 3, 2, 2) is None
    for x in range(4):
        cache.put("osm", 3, x, 5, png)
    cache.prune()
    assert cache.size_bytes() <= 60
    with pytest.raises(ValueError, match="not a tile"):
        cache.get("../etc", 1, 0, 0)


# --- replay ------------------------------------------------------------------------------
def test_replay_frames_become_live_rows_and_only_what_moved_is_resent() -> None:
    from dispatcher.history.replay import ReplayFrame, ReplayPosition
    from dispatcher.maps.replay import ReplayFeed

    feed = ReplayFeed(TZ, stale_after_s=600)
    first = ReplayFrame(
        T0,
        [
            ReplayPosition("V1", 52.5, 13.4, 90.4, 31.6, 4.0),
            ReplayPosition("V2", 52.6, 13.5, None, None, 900.0),  # silent for 15 minutes
        ],
    )
    batch = feed.batch(first)
    assert batch["reset"] == 1 and batch["replay"] == "10:00:00" and "rm" not in batch
    assert batch["t"] == int(T0.timestamp())
    assert batch["v"] == [
        ("V1", 52.5, 13.4, 90, "on_time", 32, "09:59:56", 0),
        ("V2", 52.6, 13.5, None, "stale", None, "09:45:00", 0),
    ]
    later = ReplayFrame(
        T0 + timedelta(seconds=6), [ReplayPosition("V1", 52.51, 13.4, 90.0, 30.0, 0.0)]
    )
    batch = feed.batch(later)
    assert "reset" not in batch and batch["replay"] == "10:00:06"
    assert [row[0] for row in batch["v"]] == ["V1"] and batch["rm"] == ["V2"]
    assert "v" not in feed.batch(later)  # nothing moved: only the banner's time
    feed.restart()  # the page reloaded or the replay starts again: everything, from scratch
    again = feed.batch(later)
    assert again["reset"] == 1 and len(again["v"]) == 1
