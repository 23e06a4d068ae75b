"""The live map room: a Leaflet page (built with folium) in a QWebEngineView, fed once per tick.

The Qt-free rules and payloads live in :mod:`dispatcher.maps`; this package only hosts the page
(:mod:`ui.map.web`, :mod:`ui.map.scheme`, :mod:`ui.map.page`), moves batches into it
(:mod:`ui.map.view`, :mod:`ui.map.controller`) and exports the day (:mod:`ui.map.export`).
"""
