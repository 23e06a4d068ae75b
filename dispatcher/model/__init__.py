"""Value objects shared by the core's rooms (telemetry, fleet, planning, alerts, messaging).

They are plain frozen dataclasses: cheap to create at ingest rates, safe to pass between the
paho thread and the GUI thread, and independent of the ORM rows in ``persistence``.
"""

from dispatcher.model.core import (
    DeliveryEventKind,
    EventReport,
    GeoPoint,
    PositionReport,
    StatusReport,
    StopKind,
    StopStatus,
    TimeWindow,
    VehicleState,
)

__all__ = [
    "DeliveryEventKind",
    "EventReport",
    "GeoPoint",
    "PositionReport",
    "StatusReport",
    "StopKind",
    "StopStatus",
    "TimeWindow",
    "VehicleState",
]
