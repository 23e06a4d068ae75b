"""Offline raster tiles from an MBTiles file (SQLite, TMS row order).

A control room prepares one file for its area (``tilemaker``, ``gdal``, QGIS…) and names it in
``[map] mbtiles``; the app serves it to the page on its own URL scheme, so the map works with
the internet down. Only raster tiles (PNG, JPEG, WebP) can be drawn by Leaflet; a vector file
is refused with a message saying so.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dispatcher.errors import ConfigError

_MIME = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


class MBTilesReader:
    """Read-only access to one MBTiles file (use from one thread: the GUI's)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise ConfigError(f"[map] mbtiles: no such file {str(path)!r}.")
        try:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            self.metadata = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
            self._db.execute("SELECT 1 FROM tiles LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise ConfigError(
                f"[map] mbtiles: {str(path)!r} is not an MBTiles file ({exc})."
            ) from exc
        fmt = str(self.metadata.get("format", "png")).lower()
        if fmt not in _MIME:
            raise ConfigError(
                f"[map] mbtiles: {str(path)!r} holds {fmt!r} tiles; only raster tiles "
                "(png, jpg, webp) can be shown."
            )
        self.mime_type = _MIME[fmt]

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.path.stem)

    @property
    def attribution(self) -> str:
        return str(self.metadata.get("attribution") or "")

    @property
    def zoom_range(self) -> tuple[int, int]:
        try:
            return int(self.metadata.get("minzoom", 0)), int(self.metadata.get("maxzoom", 19))
        except ValueError:
            return 0, 19

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """``(west, south, east, north)`` from the metadata, if given and well formed."""
        try:
            w, s, e, n = (float(v) for v in str(self.metadata["bounds"]).split(","))
        except (KeyError, ValueError):
            return None
        return w, s, e, n

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ ``(z, x, y)`` or None; the file stores rows bottom-up (TMS)."""
        if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        row = self._db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        self._db.close()


def write_mbtiles(
    path: Path, tiles: dict[tuple[int, int, int], bytes], metadata: dict[str, str]
) -> None:
    """Write a small MBTiles file (XYZ keys); for tests, demos and tile pre-seeding."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS metadata (name TEXT, value TEXT)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER, tile_column INTEGER,"
            " tile_row INTEGER, tile_data BLOB)"
        )
        db.executemany("INSERT INTO metadata VALUES (?, ?)", metadata.items())
        db.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()],
        )
    db.close()
