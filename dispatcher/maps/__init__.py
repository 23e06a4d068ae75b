"""The live map's Qt-free core: what the map shows, computed and tested without a browser.

* :mod:`~dispatcher.maps.settings` — the ``[map]`` config section (tile source, cache, MBTiles);
* :mod:`~dispatcher.maps.styling` — a vehicle's display state and colour (on time, at risk…);
* :mod:`~dispatcher.maps.feed` — the per-tick payload carrying only what changed;
* :mod:`~dispatcher.maps.routes` — the selected route's numbered stops, depots, geofences;
* :mod:`~dispatcher.maps.jsbridge` — safe JSON for a page (no string ever becomes markup);
* :mod:`~dispatcher.maps.mbtiles` / :mod:`~dispatcher.maps.tile_cache` — offline tiles.

The Qt side (``ui/dispatcher_ui/map``) only moves these payloads into the page and clicks back out.
"""
