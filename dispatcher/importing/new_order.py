"""One order typed in by a dispatcher (an urgent order by phone), stored like an imported row.

The console's New order form hands the fields here; they are checked by the same rules as a
CSV row (:func:`~dispatcher.importing.orders_csv.parse_order_fields`), an address without
coordinates is placed by the geocoder, and the order is stored in one transaction with an
audit entry naming who typed it. Runs off the GUI thread (the geocoder may take a second).

When the geocoder cannot place the address, the form lets the dispatcher click the place on
the map: the order then comes with those coordinates and ``placed_by_hand``, and the
position is kept as the address's pin (the next import of the address lands on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from dispatcher.geocoding import Geocoder
from dispatcher.importing.orders_csv import parse_order_fields
from dispatcher.persistence import fleet_repo, stop_position_repo
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
    placed_by_hand: bool = False,
) -> tuple[int, OrderRecord]:
    """Validate, place and store one order; returns its stop id and the stored record.

    Raises FieldRefused (a ValidationError naming the field) for bad input or an address
    that cannot be placed, ValidationError for an order id already taken; nothing is stored
    then. ``placed_by_hand``: ``lat``/``lon`` are where the dispatcher clicked on the map.
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
        locate=locate if geocoder is not None else None,
    )
    with db.session() as session:
        stop_id = fleet_repo.create_order(session, order, actor, placed_by_hand=placed_by_hand)
        if placed_by_hand:
            stop_position_repo.remember_pin(
                session, order.address, order.lat, order.lon, actor=actor
            )
        return stop_id, order
