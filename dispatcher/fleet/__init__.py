"""Live fleet state: last good position, status (moving/stopped/idle/stale/offline), trail."""

from dispatcher.fleet.state import FleetChanged, FleetConfig, FleetState, VehicleSnapshot
from dispatcher.fleet.trail import Trail

__all__ = ["FleetChanged", "FleetConfig", "FleetState", "Trail", "VehicleSnapshot"]
