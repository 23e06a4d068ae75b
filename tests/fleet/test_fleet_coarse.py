"""Coarse fixes in the live fleet: shown where they are, counted as heard, never trusted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatcher.fleet.health import accuracy_text, position_note
from dispatcher.fleet.state import FleetState
from dispatcher.model.core import PositionReport, VehicleState

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def fix(
    dt: float, lat: float, *, acc: float = 5.0, coarse: bool = False, speed: float | None = None
) -> PositionReport:
    report = PositionReport("V1", T0 + timedelta(seconds=dt), lat, 4.9, speed, None, acc)
    report.coarse = coarse
    report.tracking_mode = "significant" if coarse else None
    return report


def test_a_coarse_fix_moves_the_vehicle_but_keeps_the_precise_one() -> None:
    fleet = FleetState()
    fleet.apply_position(fix(0, 52.30, speed=0.0), T0)
    fleet.apply_position(fix(60, 52.32, acc=1800.0, coarse=True), T0 + timedelta(seconds=60))
    snap = fleet.get("V1")
    assert snap is not None and snap.coarse and snap.tracking_mode == "significant"
    assert (snap.lat, snap.accuracy_m) == (52.32, 1800.0)
    assert (snap.precise_lat, snap.precise_lon) == (52.30, 4.9)
    assert snap.last_seen == T0 + timedelta(seconds=60)
    # 2.2 km in a minute would be "moving at 133 km/h": a cell fix decides nothing
    assert snap.state is VehicleState.STOPPED and snap.speed_kmh is None
    assert [p[1] for p in fleet.trail("V1")] == [52.30], "no cell hops in the trail"


def test_the_next_precise_fix_ends_coarse_and_is_not_compared_with_the_cell_fix() -> None:
    fleet = FleetState()
    fleet.apply_position(fix(0, 52.30), T0)
    fleet.apply_position(fix(60, 52.40, acc=3000.0, coarse=True), T0 + timedelta(seconds=60))
    fleet.apply_position(fix(120, 52.3001), T0 + timedelta(seconds=120))
    snap = fleet.get("V1")
    assert snap is not None and not snap.coarse and snap.lat == 52.3001
    assert snap.speed_kmh is None and snap.state is VehicleState.STOPPED
    assert position_note(snap) == ""


def test_the_health_line_names_the_mode_and_the_switch() -> None:
    fleet = FleetState()
    fleet.apply_position(fix(0, 52.30, acc=1414.0, coarse=True), T0)
    snap = fleet.get("V1")
    assert snap is not None
    note = position_note(snap)
    assert note.startswith("coarse position (±1.4 km)")
    assert "significant-changes mode (m=1)" in note and "switch it to Move mode" in note
    assert accuracy_text(650.0) == "±650 m" and accuracy_text(None) == ""
