"""Fixing where an order is, as the console's pick mode asks it: each step one transaction.

The rules (permission, optimistic lock on the stop's version, the address's pin, the route's
new version, the audit row) are the repository's
(:mod:`dispatcher.persistence.stop_position_repo`); the window calls these off the GUI thread
(ui/dispatcher_ui/map/fix_position.py) and never opens a session itself.
"""

from __future__ import annotations

from dispatcher.model.positions import PositionFix, StopPlace
from dispatcher.persistence import stop_position_repo
from dispatcher.persistence.database import Database


def read_place(db: Database, stop_id: int) -> StopPlace:
    """The stop as the pick mode shows it, with the version a fix is made from."""
    with db.session() as session:
        return stop_position_repo.read_stop_place(session, stop_id)


def fix_position(
    db: Database, stop_id: int, lat: float, lon: float, *, expected_version: int, actor: str
) -> PositionFix:
    """Put the stop at ``lat, lon`` for ``actor`` (the refusals are the repository's)."""
    with db.session() as session:
        return stop_position_repo.fix_stop_position(
            session, stop_id, lat, lon, expected_version=expected_version, actor=actor
        )


def undo_fix(db: Database, fix: PositionFix, *, actor: str) -> PositionFix:
    """Put the stop of ``fix`` back where it was, with its address's pin."""
    with db.session() as session:
        return stop_position_repo.undo_position_fix(session, fix, actor=actor)
