"""The one selection model: changes are announced once, equal selections are not echoed."""

from __future__ import annotations

from dispatcher_ui.selection import Selection, SelectionModel


def test_selection_announces_changes_once(qtbot: object) -> None:
    model = SelectionModel()
    seen: list[Selection] = []
    model.changed.connect(seen.append)
    model.select_vehicle("V1", source="map")
    model.select_vehicle("V1", source="routes")  # same target from another view: no echo
    model.select_stop(42, "V1", source="routes")
    model.select_alert(7, vehicle_id="V1", stop_id=42, source="exceptions")
    model.clear()
    assert [(s.vehicle_id, s.stop_id, s.alert_id, s.source) for s in seen] == [
        ("V1", None, None, "map"),
        ("V1", 42, None, "routes"),
        ("V1", 42, 7, "exceptions"),
        (None, None, None, ""),
    ]
    assert model.current == Selection()
