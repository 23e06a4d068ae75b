"""Reports built from the day's record (stops, outbox, position history); plain Python."""
