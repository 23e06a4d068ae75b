"""Console views for devices: setting up a driver's phone."""
