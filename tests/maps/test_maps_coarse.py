"""Coarse fixes on the map: the accuracy circle, the "coarse position" state and its note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dispatcher.fleet.state import FleetState
from dispatcher.maps.feed import MapFeed
from dispatcher.maps.styling import PALETTE, DisplayState, display_state
from dispatcher.model.alerts import AlertKind
from dispatcher.model.core import PositionReport, VehicleState

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Berlin")


def cell_fix(t: datetime, lat: float) -> PositionReport:
    report = PositionReport("V1", t, lat, 13.4, None, None, 2400.0)
    report.coarse, report.tracking_mode = True, "significant"
    return report


def test_a_coarse_fix_is_sent_with_its_circle_state_and_note() -> None:
    fleet = FleetState()
    fleet.apply_position(PositionReport("V1", T0, 52.5, 13.4, 20.0, 90.0, 5.0), T0)
    feed = MapFeed(fleet, TZ)
    first = feed.build(T0)
    assert first is not None and first["v"][0][4] == "on_time" and first["v"][0][8:] == (0, "")
    t1 = T0 + timedelta(seconds=60)
    changed, _ = fleet.apply_positions([(cell_fix(t1, 52.52), False)], t1)
    feed.mark(changed)
    second = feed.build(t1)
    assert second is not None
    row = second["v"][0]
    assert (row[1], row[4], row[8]) == (52.52, "coarse", 2400)
    assert "significant-changes mode" in row[9] and "Move mode" in row[9]


def test_the_eta_comes_from_the_last_precise_fix() -> None:
    fleet = FleetState()
    fleet.apply_position(PositionReport("V1", T0, 52.5, 13.4, 20.0, 90.0, 5.0), T0)
    t1 = T0 + timedelta(seconds=60)
    fleet.apply_position(cell_fix(t1, 53.5), t1)  # 110 km away: the ETA would jump hours
    snap = fleet.get("V1")
    assert snap is not None and (snap.precise_lat, snap.lat) == (52.5, 53.5)


def test_trouble_wins_over_coarse_and_coarse_over_routine() -> None:
    assert display_state(VehicleState.MOVING, coarse=True) is DisplayState.COARSE
    assert display_state(VehicleState.IDLE, coarse=True) is DisplayState.COARSE
    assert display_state(VehicleState.MOVING, [AlertKind.LATE], coarse=True) is DisplayState.LATE
    assert display_state(VehicleState.STALE, coarse=True) is DisplayState.STALE
    assert PALETTE[DisplayState.COARSE][1] == "Coarse position"
