"""Road routing: one engine, configured in ``[routing]``, for every travel time and path.

:class:`Router` is what the core holds (``core.routing``); :mod:`.tools` finds OSRM's programs
and builds datasets (``dispatcher roads build``); :mod:`.engine` runs ``osrm-routed`` as a
child. docs/routing.md explains the choices.
"""

from dispatcher.routing.router import RoadProvider, Router
from dispatcher.routing.settings import RoutingSettings
from dispatcher.routing.tools import Dataset, OsrmTools, RoutingEngineError, build_dataset
from dispatcher.routing.warm import WarmRoads, day_places

__all__ = [
    "Dataset",
    "OsrmTools",
    "RoadProvider",
    "Router",
    "RoutingEngineError",
    "RoutingSettings",
    "WarmRoads",
    "build_dataset",
    "day_places",
]
