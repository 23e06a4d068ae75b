"""Fleet > Fleet setup…: depots, vehicles, drivers, assignments and users (docs/fleet-setup.md)."""
