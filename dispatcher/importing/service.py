"""Import a CSV of orders into the database: parse, then store the good rows in one transaction.

Shared by ``dispatcher import orders`` and File > Import in the console, so both report the
same lines and reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dispatcher.geocoding import MANUAL, Geocoder
from dispatcher.importing.orders_csv import RowError, read_orders_file
from dispatcher.model.users import Permission
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.users_repo import acting_user


@dataclass(frozen=True)
class ImportReport:
    path: Path
    valid: int
    inserted: int
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    #: rows placed from their address by the geocoder (cache hits included)
    geocoded: int = 0
    #: of those, rows placed where a dispatcher had pinned the address by hand
    by_hand: int = 0

    @property
    def already_known(self) -> int:
        return 0 if self.dry_run else self.valid - self.inserted

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        count = self.valid if self.dry_run else self.inserted
        hand = f", {self.by_hand} of them where a pin was set by hand" if self.by_hand else ""
        placed = f" ({self.geocoded} placed from their address{hand})" if self.geocoded else ""
        return (
            f"{verb} {count} orders{placed}, {self.already_known} already known, "
            f"{len(self.errors)} rows rejected"
        )


def import_orders(
    db: Database,
    path: Path,
    *,
    default_date: date,
    timezone: str,
    actor: str,
    dry_run: bool = False,
    geocoder: Geocoder | None = None,
) -> ImportReport:
    """Parse ``path`` and insert its new orders in one transaction (nothing on dry run).

    ``actor`` must be a user whose role may import orders (checked before the file is read).
    Rows with an address and no coordinates are placed by ``geocoder`` while parsing; that
    may take a second a row on a public provider, so no transaction is held open meanwhile.
    An address a dispatcher pinned by hand lands on the pin (even with geocoding off).
    """
    with db.session() as session:
        acting_user(session, actor, Permission.IMPORT_ORDERS)
        vehicles = fleet_repo.vehicle_ids(session)
    placed: set[str] = set()
    by_hand: set[str] = set()

    def locate(address: str) -> tuple[float, float]:
        assert geocoder is not None
        hit = geocoder.geocode(address)
        placed.add(address)
        if hit.provider == MANUAL:
            by_hand.add(address)
        return hit.lat, hit.lon

    result = read_orders_file(
        path,
        default_date=default_date,
        timezone=timezone,
        known_vehicles=vehicles,
        locate=locate if geocoder is not None else None,
    )
    inserted = 0
    if not dry_run:
        with db.session() as session:
            acting_user(session, actor, Permission.IMPORT_ORDERS)
            inserted = fleet_repo.insert_orders(session, result.orders)
    geocoded = sum(1 for order in result.orders if order.address in placed)
    hand = sum(1 for order in result.orders if order.address in by_hand)
    return ImportReport(path, len(result.orders), inserted, result.errors, dry_run, geocoded, hand)
