"""The coarse grid cell stored with each position: the index key of proof-of-visit queries.

0.01 degree cells (about 1.1 km x 0.7 km in central Europe). Kept in a module of its own so
the ORM can fill the column by default and the history queries can list a box's cells.
"""

from __future__ import annotations

from typing import Any

CELL_DEG = 0.01
LON_CELLS = 36_001
#: Beyond this many grid cells the time index alone is cheaper than an IN list.
MAX_CELLS = 400


def cell_of(lat: float, lon: float) -> int:
    """The grid cell of a point (both terms are positive, so ``int`` is ``floor``)."""
    return int((lat + 90.0) * 100.0) * LON_CELLS + int((lon + 180.0) * 100.0)


def cell_default(context: Any) -> int | None:
    """Column default: the cell of the row being inserted (any insert path gets one)."""
    params = context.get_current_parameters()
    lat, lon = params.get("lat"), params.get("lon")
    if lat is None or lon is None:
        return None
    return cell_of(float(lat), float(lon))
