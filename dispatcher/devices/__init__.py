"""Devices that speak to the console: phones, trackers, their bindings and broker credentials."""
