"""The support desk: where is my order, flight recorder, shift handover (docs/support.md)."""
