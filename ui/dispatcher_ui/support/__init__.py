"""The support desk's screens: where is my order, flight recorder, shift handover."""
