"""The optimizer preview's map: proposed and current routes next to the preview's table.

It reuses the live map's machinery rather than a second technology: a QWebEngineView on the
shared ``dmap:`` profile (:mod:`dispatcher_ui.map.web`), a page built with folium by
:func:`dispatcher_ui.map.page.build_map` (Leaflet and the basemap served by the app, offline too),
and data handed over with :func:`dispatcher.maps.jsbridge.to_js`. The page is static — no
QWebChannel: the dialog only tells it what to show (:meth:`PreviewMap.set_mode`,
:meth:`PreviewMap.focus`), and the payload (:func:`dispatcher.maps.optimize_preview.
preview_payload`) is embedded in it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from branca.element import Element, Figure, MacroElement
from jinja2 import Template
from PySide6.QtCore import QUrl
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QWidget

from dispatcher.maps.jsbridge import call, escape_html, to_js
from dispatcher_ui.map.page import STATIC, BaseLayer, PageOptions, build_map
from dispatcher_ui.map.view import MapPage
from dispatcher_ui.map.web import scheme_handler

#: Route colours, one per vehicle in the boards' vehicle order (cycled): the table's swatches
#: and the map's lines use the same list. No red in it: red is "late", as on the live map.
PREVIEW_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#7b4173", "#e6ab02",
)  # fmt: skip
MODES = ("after", "before", "both")


class _Init(MacroElement):
    """Calls ``OptimizePreview.init(<the folium map>, payload)`` once the map exists."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "OptimizePreview.init({{ this._parent.get_name() }}, {{ this.payload }});"
        "{% endmacro %}"
    )

    def __init__(self, payload: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca: unannotated __init__
        self._name = "OptimizePreviewInit"
        self.payload = payload


def registered_layers() -> list[BaseLayer]:
    """The basemaps the live map registered with the ``dmap:`` handler (MBTiles first).

    Read from the handler rather than built again: building opens the MBTiles file and the
    tile cache a second time, for the same tiles.
    """
    handler = scheme_handler()
    layers = []
    for key, reader in handler.mbtiles.items():
        lo, hi = reader.zoom_range
        url = f"dmap://tiles/{key}/{{z}}/{{x}}/{{y}}"
        layers.append(BaseLayer(reader.name, url, escape_html(reader.attribution), hi, lo))
    for key, online in handler.online.items():
        source = online.source
        url = f"dmap://tiles/{key}/{{z}}/{{x}}/{{y}}"
        layers.append(BaseLayer(source.name, url, source.attribution, source.max_zoom))
    return layers


def page_html(payload: dict[str, Any]) -> str:
    """The whole preview page: folium's map, our script and styles, the payload inlined."""
    first = payload["stops"][0] if payload["stops"] else None
    centre = (first[0], first[1]) if first else PageOptions().center
    fmap = build_map(PageOptions(center=centre, zoom=12, layers=registered_layers()))
    root = fmap.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(f'<link rel="stylesheet" href="{STATIC}/map/preview.css"/>'))
    root.html.add_child(Element(f'<script src="{STATIC}/map/spread.js"></script>'))
    root.html.add_child(Element(f'<script src="{STATIC}/map/preview.js"></script>'))
    fmap.add_child(_Init(to_js(payload)))
    return str(root.render())


class PreviewMap(QWebEngineView):
    """The preview's map; ``loaded`` becomes True once the page is drawn."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.map_page = MapPage(self)
        self.setPage(self.map_page)
        self.loaded = False
        self.mode = "after"
        self.focused: str | None = None
        self._token = token = uuid.uuid4().hex
        self.loadFinished.connect(self._on_loaded)
        self.destroyed.connect(lambda *_: scheme_handler().pages.pop(token, None))
        self.setMinimumSize(360, 300)

    def show_payload(self, payload: dict[str, Any]) -> None:
        """Draw a preview (see :func:`~dispatcher.maps.optimize_preview.preview_payload`)."""
        self.loaded = False
        url = scheme_handler().add_page(self._token, page_html(payload))
        self.load(QUrl(url))

    def _on_loaded(self, ok: bool) -> None:
        self.loaded = ok
        if ok and (self.mode != "after" or self.focused is not None):
            self._run("OptimizePreview.setMode", self.mode)
            self._run("OptimizePreview.setFocus", self.focused)

    def set_mode(self, mode: str) -> None:
        """``"after"`` (proposed), ``"before"`` (current) or ``"both"`` (current dashed)."""
        self.mode = mode if mode in MODES else "after"
        self._run("OptimizePreview.setMode", self.mode)

    def focus(self, vehicle_id: str | None) -> None:
        """Zoom to one vehicle's routes and number its stops (None: the whole preview)."""
        self.focused = vehicle_id
        self._run("OptimizePreview.setFocus", vehicle_id)

    def summary(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """What the page shows (mode, focus, routes, stops, numbered, moved, unassigned)."""

        def parse(text: object) -> None:
            callback(json.loads(text) if isinstance(text, str) and text else {})

        self._run("OptimizePreview.summary", callback=parse)

    def release(self) -> None:
        """Forget the page's HTML (the dialog closed); the view goes with the dialog."""
        scheme_handler().pages.pop(self._token, None)

    def _run(
        self, function: str, *args: Any, callback: Callable[[Any], None] | None = None
    ) -> None:
        if not self.loaded:
            return
        source = call(function, *args)
        if callback is None:
            self.map_page.runJavaScript(source, 0)
        else:
            self.map_page.runJavaScript(source, 0, callback)
