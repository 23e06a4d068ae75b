"""Value objects shared by the core's rooms (telemetry, fleet, planning, alerts, messaging).

They are plain frozen dataclasses: cheap to create at ingest rates, safe to pass between the
paho thread and the GUI thread, and independent of the ORM rows in ``persistence``.

This package is the floor the repositories stand on: ``persistence`` fills and stores these
types and imports no room, every room imports ``persistence`` (the layers contract in
``pyproject.toml``, docs/architecture.md). :mod:`~dispatcher.model.core` holds the telemetry
and stop types; one module per room holds the types its repository needs
(:mod:`~dispatcher.model.alerts`, :mod:`~dispatcher.model.devices`,
:mod:`~dispatcher.model.fleet_setup`, :mod:`~dispatcher.model.kpi`,
:mod:`~dispatcher.model.messaging`, :mod:`~dispatcher.model.positions`,
:mod:`~dispatcher.model.users`), and :mod:`~dispatcher.model.stops` the one read model of a
stored stop every view shows.
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
