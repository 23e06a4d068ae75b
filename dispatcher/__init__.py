"""Dispatcher: the domain core of a dispatch console for last-mile delivery fleets.

This package is plain Python. It never imports Qt, pyqtgraph or folium (a contract checked
in CI), so every rule, planner and parser runs and is tested headless.
"""

__version__ = "0.1.0"
