"""Who works at the desks and what each role may change (used by every room)."""
