"""The ``[map]`` config section: which basemap, where tiles are cached, offline MBTiles.

Example ``config.toml``::

    [map]
    tiles = "osm"                       # "osm", "none", an xyzservices name
                                        # ("CartoDB.Positron") or a URL template
    attribution = ""                    # required with a URL template of your own
    mbtiles = "/srv/tiles/berlin.mbtiles"   # offline tiles, shown instead of the XYZ source
    cache_dir = ""                      # default: <user cache dir>/tiles
    cache_max_mb = 500
    trail_minutes = 10
    label_zoom = 14                     # vehicle labels from this zoom on
    center = [52.52, 13.405]
    zoom = 12

Bad values are a :class:`~dispatcher.errors.ConfigError` naming the key, so a typo is fixed
in a minute instead of showing a blank map.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from dispatcher.config import APP_NAME
from dispatcher.errors import ConfigError

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
_KEY_RE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class TileSource:
    """An XYZ tile source: ``url`` has ``{z}``, ``{x}``, ``{y}`` (and maybe ``{s}``/``{r}``)."""

    key: str
    name: str
    url: str
    attribution: str
    max_zoom: int = 19
    subdomains: str = "abc"

    def tile_url(self, z: int, x: int, y: int) -> str:
        """The upstream URL of one tile (first subdomain, no retina suffix)."""
        return (
            self.url.replace("{s}", self.subdomains[:1] or "a")
            .replace("{r}", "")
            .replace("{z}", str(z))
            .replace("{x}", str(x))
            .replace("{y}", str(y))
        )


@dataclass(frozen=True, slots=True)
class MapSettings:
    """Everything the map room reads from the config file."""

    source: TileSource | None
    mbtiles: Path | None
    cache_dir: Path
    cache_max_bytes: int
    trail_minutes: float
    label_zoom: int
    center: tuple[float, float] | None
    zoom: int

    @classmethod
    def from_sections(cls, sections: Mapping[str, Mapping[str, Any]]) -> MapSettings:
        """Read ``sections["map"]`` (missing = defaults); raises ConfigError on bad values."""
        raw = dict(sections.get("map") or {})
        known = {
            "tiles",
            "attribution",
            "mbtiles",
            "cache_dir",
            "cache_max_mb",
            "trail_minutes",
            "label_zoom",
            "center",
            "zoom",
        }
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"[map]: unknown setting '{unknown[0]}'.")
        source = resolve_source(_str(raw, "tiles", "osm"), _str(raw, "attribution", ""))
        mbtiles = _str(raw, "mbtiles", "")
        cache_dir = _str(raw, "cache_dir", "")
        return cls(
            source=source,
            mbtiles=Path(mbtiles).expanduser() if mbtiles else None,
            cache_dir=Path(cache_dir).expanduser() if cache_dir else default_cache_dir(),
            cache_max_bytes=int(_number(raw, "cache_max_mb", 500, 0, 1e6) * 1024 * 1024),
            trail_minutes=_number(raw, "trail_minutes", 10, 0, 24 * 60),
            label_zoom=int(_number(raw, "label_zoom", 14, 0, 22)),
            center=_center(raw.get("center")),
            zoom=int(_number(raw, "zoom", 12, 1, 20)),
        )


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "tiles"


def resolve_source(tiles: str, attribution: str = "") -> TileSource | None:
    """Turn the ``tiles`` setting into a source; ``"none"`` means no online basemap."""
    name = tiles.strip()
    if name.lower() in ("", "none", "off"):
        return None
    if name.lower() in ("osm", "openstreetmap"):
        return TileSource("osm", "OpenStreetMap", OSM_URL, attribution or OSM_ATTRIBUTION)
    if "://" in name:
        if not all(part in name for part in ("{z}", "{x}", "{y}")):
            raise ConfigError(f"[map] tiles: the URL {name!r} needs {{z}}, {{x}} and {{y}}.")
        if not name.startswith(("http://", "https://")):
            raise ConfigError(f"[map] tiles: only http(s) URLs are fetched, not {name!r}.")
        if not attribution:
            raise ConfigError("[map] attribution: a tile URL of your own needs its attribution.")
        return TileSource(_key(name), "Custom tiles", name, attribution)
    return _xyzservices_source(name, attribution)


def _xyzservices_source(name: str, attribution: str) -> TileSource:
    import xyzservices

    try:
        provider = xyzservices.providers.query_name(name)
    except ValueError:
        raise ConfigError(f"[map] tiles: no tile provider called {name!r}.") from None
    if provider.requires_token():
        raise ConfigError(f"[map] tiles: provider {name!r} needs an API key in its URL.")
    url = str(provider.build_url(scale_factor="{r}"))
    return TileSource(
        key=_key(name),
        name=str(provider.name),
        url=url,
        attribution=attribution or str(provider.html_attribution),
        max_zoom=int(provider.get("max_zoom", 19)),
        subdomains=str(provider.get("subdomains", "abc")),
    )


def _key(text: str) -> str:
    return _KEY_RE.sub("-", text.lower()).strip("-")[:60] or "tiles"


def _str(raw: Mapping[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"[map] {key}: expected a string, got {value!r}.")
    return value


def _number(raw: Mapping[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ConfigError(f"[map] {key}: expected a number from {lo:g} to {hi:g}, got {value!r}.")
    return float(value)


def _center(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and -90 <= value[0] <= 90
        and -180 <= value[1] <= 180
    )
    if not ok:
        raise ConfigError(f"[map] center: expected [lat, lon], got {value!r}.")
    return float(value[0]), float(value[1])
