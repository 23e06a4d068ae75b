"""The live map dock (Leaflet in a QWebEngineView, built with folium)."""
