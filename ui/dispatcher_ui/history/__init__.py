"""History in the console: replay bar, proof-of-visit dialog, day report export."""
