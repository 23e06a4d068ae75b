"""The Exceptions dock: the alert queue, its detail pane and actions."""
