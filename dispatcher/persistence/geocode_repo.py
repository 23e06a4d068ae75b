"""The geocoder's cache in the database, so every workstation and every import share it."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from dispatcher.config import Settings
from dispatcher.geocoding import GeocodeHit, Geocoder, GeocodingSettings
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import GeocodeCacheRow


class SqlGeocodeCache:
    """:class:`dispatcher.geocoding.GeocodeCache` on the ``geocode_cache`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str) -> GeocodeHit | None:
        with self._db.session() as session:
            row = session.get(GeocodeCacheRow, key)
            if row is None:
                return None
            return GeocodeHit(row.lat, row.lon, row.label, row.provider)

    def put(self, key: str, hit: GeocodeHit) -> None:
        """Remember a hit; a colleague who stored the same key first wins, which is fine."""
        try:
            with self._db.session() as session:
                session.merge(
                    GeocodeCacheRow(
                        key=key,
                        lat=hit.lat,
                        lon=hit.lon,
                        label=_clean(hit.label)[:500],
                        provider=hit.provider[:20],
                    )
                )
        except IntegrityError:
            pass


def _clean(text: str) -> str:
    """PostgreSQL refuses NUL in text; a provider's label is not worth an error."""
    return text.replace("\x00", "")


def database_geocoder(settings: Settings, db: Database) -> Geocoder:
    """The configured geocoder with the database's cache (the CLI's and the console's)."""
    return Geocoder(GeocodingSettings.from_settings(settings), SqlGeocodeCache(db))
