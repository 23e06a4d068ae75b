"""The live map page, built with folium: base map, tile layers, scale, layer control.

folium writes the Leaflet boilerplate (map, tile layers, controls); we swap its CDN links for
the app's own ``dmap://app/static/...`` copies so the page loads with no internet, and add our
bridge script, which then owns everything live (vehicles, trails, the selected route).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from dispatcher import display
from dispatcher.maps.jsbridge import escape_html, to_js
from dispatcher.maps.settings import OSM_ATTRIBUTION
from dispatcher.maps.styling import PALETTE

STATIC = "dmap://app/static"
LOCAL_JS = [("leaflet", f"{STATIC}/leaflet/leaflet.js")]
LOCAL_CSS = [("leaflet_css", f"{STATIC}/leaflet/leaflet.css")]
#: Shown where a tile could not be had (offline): transparent, so the grid shows through.
EMPTY_TILE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
DEFAULT_CENTER = (52.52, 13.405)
#: Vehicle names drawn at most at once (where they fit); a tooltip names every vehicle.
LABEL_MAX = 300


@dataclass(frozen=True, slots=True)
class BaseLayer:
    """One basemap choice: a ``dmap://tiles/...`` URL template and what to credit."""

    name: str
    url: str
    #: Markup (Leaflet shows it as HTML): escape what comes from a file, not from our config.
    attribution: str
    max_zoom: int = 19
    min_zoom: int = 0


@dataclass
class PageOptions:
    """What the page starts with; everything live arrives later through the bridge."""

    center: tuple[float, float] = DEFAULT_CENTER
    zoom: int = 12
    layers: list[BaseLayer] = field(default_factory=list)
    depots: list[list[Any]] = field(default_factory=list)
    geofences: list[dict[str, Any]] = field(default_factory=list)
    label_zoom: int = 14
    trail_minutes: float = 10.0
    trail_all_max: int = 300
    cluster_zoom: int = 12
    cluster_min: int = 400
    #: Fit the view to the fleet as vehicles report in, until the dispatcher moves the map.
    auto_fit: bool = True


class _Init(MacroElement):
    """Calls ``DispatcherMap.init(<the folium map>, options)`` once the map exists."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "DispatcherMap.init({{ this._parent.get_name() }}, {{ this.options }});"
        "{% endmacro %}"
    )

    def __init__(self, options: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca: unannotated __init__
        self._name = "DispatcherMapInit"
        self.options = options


def build_map(options: PageOptions) -> folium.Map:
    """The folium map object of the live page (also a starting point for exports)."""
    fmap = folium.Map(
        location=list(options.center),
        zoom_start=options.zoom,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        max_zoom=20,
    )
    fmap.default_js = LOCAL_JS
    fmap.default_css = LOCAL_CSS
    for i, layer in enumerate(options.layers):
        folium.TileLayer(
            tiles=layer.url,
            attr=layer.attribution or OSM_ATTRIBUTION,
            name=escape_html(layer.name),  # Leaflet's layer control shows names as markup
            max_zoom=layer.max_zoom,
            min_zoom=layer.min_zoom,
            max_native_zoom=layer.max_zoom,
            show=i == 0,
            overlay=False,
            errorTileUrl=EMPTY_TILE,
        ).add_to(fmap)
    if len(options.layers) > 1:
        folium.LayerControl(position="topright", collapsed=True).add_to(fmap)
    return fmap


def page_html(options: PageOptions) -> str:
    """The complete page: folium's map plus our channel script, bridge and styles."""
    fmap = build_map(options)
    root = fmap.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(f'<link rel="stylesheet" href="{STATIC}/map/map.css"/>'))
    # In the body, so they run after Leaflet (head) and before the map script (end).
    root.html.add_child(Element(f'<script src="{STATIC}/qwebchannel.js"></script>'))
    root.html.add_child(Element(f'<script src="{STATIC}/map/spread.js"></script>'))
    root.html.add_child(Element(f'<script src="{STATIC}/map/bridge.js"></script>'))
    root.html.add_child(Element(f'<script src="{STATIC}/map/pick.js"></script>'))
    init = {
        "palette": {state.value: list(entry) for state, entry in PALETTE.items()},
        "labelZoom": options.label_zoom,
        "labelMax": LABEL_MAX,
        "trailMinutes": options.trail_minutes,
        "trailAllMax": options.trail_all_max,
        "clusterZoom": options.cluster_zoom,
        "clusterMin": options.cluster_min,
        "autoFit": options.auto_fit,
        "depots": options.depots,
        "geofences": options.geofences,
        "speedUnit": display.current().speed_unit,  # the feed's speeds are in it
    }
    fmap.add_child(_Init(to_js(init)))
    return str(fmap.get_root().render())
