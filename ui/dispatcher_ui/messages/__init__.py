"""The Messages dock: outbox, history, templates and one-click sending."""
