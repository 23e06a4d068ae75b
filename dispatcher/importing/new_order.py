"""One order typed in by a dispatcher (an urgent order by phone), stored like an imported row.

The console's New order form hands the fields here; they are checked by the same rules as a
CSV row (:func:`~dispatcher.importing.orders_csv.parse_order_fields`), an address without
coordinates is placed by the geocoder, and the order is stored in one transaction with an
audit entry naming who typed it. Runs off the GUI thread (the geocoder may take a second).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from dispatcher.geocoding import Geocoder
from dispatcher.importing.orders_csv import parse_order_fields
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.scenario.records import OrderRecord


def create_order(
    db: Database,
    fields: Mapping[str, str],
    *,
    default_date: date,
    timezone: str,
    geocoder: Geocoder | None,
    actor: str,
) -> tuple[int, OrderRecord]:
    """Validate, place and store one order; returns its stop id and the stored record.

    Raises ValidationError (with the field's reason) for bad input or an order id that is
    already taken, GeocodeError when the address cannot be placed; nothing is stored then.
    """
    with db.session() as session:
        vehicles = fleet_repo.vehicle_ids(session)

    def locate(address: str) -> tuple[float, float]:
        assert geocoder is not None
        hit = geocoder.geocode(address)
        return hit.lat, hit.lon

    order = parse_order_fields(
        fields,
        default_date=default_date,
        timezone=timezone,
        known_vehicles=vehicles,
        locate=locate if geocoder is not None and geocoder.enabled else None,
    )
    with db.session() as session:
        return fleet_repo.create_order(session, order, actor), order
