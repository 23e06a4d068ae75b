"""One prediction of a vehicle's remaining stops, shared by the queue, messages and KPIs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fleet_zone import local

from dispatcher.errors import ValidationError
from dispatcher.eta.travel import HaversineProvider
from dispatcher.planning.live_eta import LiveVehicle, arrivals, predict_route
from dispatcher.planning.model import PlanStop

ORIGIN = local(0)
DEPOT = (52.47, 13.40)
STOPS = [PlanStop("a", (52.48, 13.41), service_s=300.0), PlanStop("b", (52.49, 13.42))]


def vehicle(position: tuple[float, float] | None) -> LiveVehicle:
    return LiveVehicle("V1", 100, ORIGIN.replace(hour=8), ORIGIN.replace(hour=17), DEPOT, position)


def test_a_vehicle_on_the_road_starts_now_from_where_it_is() -> None:
    now = ORIGIN.replace(hour=10)
    at_first_stop = predict_route(
        vehicle(STOPS[0].location), STOPS, now, ORIGIN, HaversineProvider()
    )
    times = arrivals(at_first_stop, ORIGIN)
    assert times["a"] == now
    assert times["b"] > now + timedelta(minutes=5)  # service at "a", then the drive


def test_before_a_first_fix_the_vehicle_leaves_the_depot_at_shift_start() -> None:
    early = ORIGIN.replace(hour=6)
    times = arrivals(
        predict_route(vehicle(None), STOPS, early, ORIGIN, HaversineProvider()), ORIGIN
    )
    assert ORIGIN.replace(hour=8) < times["a"] < ORIGIN.replace(hour=8, minute=30)


def test_nowhere_to_start_from_is_a_validation_error() -> None:
    lost = LiveVehicle("V1", 100, ORIGIN, None, None, None)
    with pytest.raises(ValidationError):
        predict_route(lost, STOPS, ORIGIN, ORIGIN, HaversineProvider())
