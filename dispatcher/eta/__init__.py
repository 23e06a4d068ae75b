"""Travel-time model: how long and how far between two places.

Planning never asks a road network directly; it asks a :class:`TravelTimeProvider` for a
:class:`TravelMatrix` (distances and free-flow durations between a list of locations) and applies
a :class:`SpeedProfile` for the time of day. Straight-line providers work offline and in tests;
the OSRM provider is used when configured and falls back to straight lines when it fails.
"""

from dispatcher.eta.osrm import OsrmProvider
from dispatcher.eta.travel import (
    EuclideanProvider,
    HaversineProvider,
    Location,
    RoadPath,
    SpeedProfile,
    TravelMatrix,
    TravelTimeProvider,
    build_matrix,
    haversine_m,
    straight_path,
)

__all__ = [
    "EuclideanProvider",
    "HaversineProvider",
    "Location",
    "OsrmProvider",
    "RoadPath",
    "SpeedProfile",
    "TravelMatrix",
    "TravelTimeProvider",
    "build_matrix",
    "haversine_m",
    "straight_path",
]
