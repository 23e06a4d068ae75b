"""Self-contained folium pages whose popups and tooltips cannot run script.

folium's own ``Popup`` and ``Tooltip`` paste their HTML into JavaScript template literals, so
a customer name holding ``${...}`` runs when the file is opened, and a backtick or quote can
break the whole map. The two elements here hand Leaflet a string literal made by
:func:`dispatcher.maps.jsbridge.html_in_js` instead: the markup is ours, every value in it is
escaped text. :func:`standalone` inlines Leaflet from the installed ``xstatic-leaflet`` copy,
so a written page needs no CDN (the basemap shows when the reader is online).

Every HTML file the product writes (the day report's map, File > Export map) is built here.
"""

from __future__ import annotations

from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.template import Template

from dispatcher.maps.jsbridge import escape_html, html_in_js
from dispatcher.maps.settings import OSM_ATTRIBUTION, OSM_URL
from dispatcher_ui.map.scheme import LEAFLET_DIR


class _Bound(MacroElement):
    """Binds a popup or tooltip, given as a safe JS literal, to its parent layer."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.{{ this.method }}({{ this.content }}, {{ this.options }});"
        "{% endmacro %}"
    )

    def __init__(self, method: str, content: str, options: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca: unannotated __init__
        self._name = "Bound"
        self.method = method
        self.content = content
        self.options = options


def tooltip(template: str, *values: object, sticky: bool = True) -> MacroElement:
    """A tooltip of trusted ``template`` markup with ``values`` filled in as text."""
    options = '{"sticky": true}' if sticky else '{"sticky": false}'
    return _Bound("bindTooltip", html_in_js(template, *values), options)


def popup(template: str, *values: object, max_width: int = 320) -> MacroElement:
    """A popup of trusted ``template`` markup with ``values`` filled in as text."""
    return _Bound("bindPopup", html_in_js(template, *values), f'{{"maxWidth": {int(max_width)}}}')


def layer_name(text: object) -> str:
    """A layer-control label: Leaflet shows it as markup, folium quotes it as JSON."""
    return escape_html(text)


def standalone(title: str, **map_options: Any) -> folium.Map:
    """An empty folium map whose page carries Leaflet inline and ``title`` as text."""
    fmap = folium.Map(tiles=None, control_scale=True, **map_options)
    fmap.default_js = []
    fmap.default_css = []
    root = fmap.get_root()
    assert isinstance(root, Figure)
    css = (LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")
    js = (LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    root.header.add_child(Element(f"<title>{escape_html(title)}</title>"))
    root.header.add_child(Element(f"<style>{css}</style>"))
    root.header.add_child(Element(f"<script>{js}</script>"))
    folium.TileLayer(OSM_URL, attr=OSM_ATTRIBUTION, name="OpenStreetMap").add_to(fmap)
    return fmap
