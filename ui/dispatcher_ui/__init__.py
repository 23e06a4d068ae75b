"""The PySide6 user interface: thin adapters over the ``dispatcher`` core."""
