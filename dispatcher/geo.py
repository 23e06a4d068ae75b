"""Great-circle distance: the one formula the core's rooms share (fleet, filters, rules,
simulator, travel times), so they never disagree on how far apart two points are; and the
one check of a position a person placed by hand (:func:`check_position`)."""

from __future__ import annotations

import math

from dispatcher.errors import ValidationError

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


#: Within this many degrees of 0,0 (about a metre) a position is "0,0": the mark a failed
#: geocode leaves in an export, never a delivery address (it is in the Gulf of Guinea).
NULL_ISLAND_DEG = 1e-5


def check_position(lat: float, lon: float) -> tuple[float, float]:
    """A position a person placed by hand, or a ValidationError saying why it is none.

    Refused: a value that is not a finite number, a latitude outside -90..90, a longitude
    outside -180..180 (a click on a copy of the world the map repeats east or west), and
    0,0. Kept to 7 decimals (about a centimetre): what a click can mean.
    """
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        raise ValidationError("that is not a position on the map") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValidationError("that is not a position on the map")
    if not -90.0 <= lat <= 90.0:
        raise ValidationError(f"latitude {lat:.5f} is outside -90 to 90")
    if not -180.0 <= lon <= 180.0:
        raise ValidationError(
            f"longitude {lon:.5f} is outside -180 to 180 (a copy of the world the map "
            "repeats): click the copy your fleet is on"
        )
    if abs(lat) < NULL_ISLAND_DEG and abs(lon) < NULL_ISLAND_DEG:
        raise ValidationError("0,0 is the mark of a failed geocode, not an address")
    return round(lat, 7), round(lon, 7)
