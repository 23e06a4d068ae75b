"""Plain descriptions of a day's fleet and orders (demo data, CSV imports) before storage."""
