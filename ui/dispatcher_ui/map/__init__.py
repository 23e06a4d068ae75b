"""The live map room: a Leaflet page (built with folium) in a QWebEngineView, fed once per tick.

The Qt-free rules and payloads live in :mod:`dispatcher.maps`; this package only hosts the page
(:mod:`dispatcher_ui.map.web`, :mod:`dispatcher_ui.map.scheme`, :mod:`dispatcher_ui.map.page`),
moves batches into it (:mod:`dispatcher_ui.map.view`, :mod:`dispatcher_ui.map.controller`) and
exports the day (:mod:`dispatcher_ui.map.export`).
"""
