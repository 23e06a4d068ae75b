"""A simulated fleet that drives the day's routes and publishes real MQTT (demo and tests)."""
