"""The web front's keys: read, create once, rotate (dispatcher/web/signing.py uses them).

Two processes starting together may both find no key and both try to create key 1: the
primary key lets one win, and the other reads the winner's (never two secrets for one id).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import WebKeyRow

#: Key ids fit one byte of a token; rotation past it wraps to the oldest retired id.
MAX_KEY_ID = 255


def load_keys(db: Database) -> tuple[int | None, dict[int, bytes]]:
    """The current key's id (the newest active one) and every active key's secret by id."""
    with db.session() as s:
        rows = [r for r in s.scalars(select(WebKeyRow)).all() if r.retired_at is None]
    if not rows:
        return None, {}
    current = max(rows, key=lambda r: (r.created_at, r.id)).id
    return current, {r.id: bytes.fromhex(r.secret) for r in rows}


def ensure_key(db: Database) -> None:
    """Create key 1 if the database has no key at all (idempotent, race-safe)."""
    if load_keys(db)[0] is not None:
        return
    try:
        with db.session() as s:
            s.add(WebKeyRow(id=1, secret=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another process created it first


def rotate_key(db: Database, now: datetime, *, retire_old: bool = False) -> int:
    """Add a new current key and return its id; ``retire_old`` revokes every older link."""
    with db.session() as s:
        rows = list(s.scalars(select(WebKeyRow).order_by(WebKeyRow.id)))
        used = {r.id for r in rows}
        new_id = next((i for i in range(1, MAX_KEY_ID + 1) if i not in used), None)
        if new_id is None:  # all ids taken: reuse the oldest retired one
            retired = [r for r in rows if r.retired_at is not None]
            if not retired:
                raise ValueError("no key id left: retire an old key first")
            oldest = min(retired, key=lambda r: r.retired_at or now)
            new_id = oldest.id
            s.delete(oldest)
            s.flush()
        if retire_old:
            for r in rows:
                if r.retired_at is None:
                    r.retired_at = now
        s.add(WebKeyRow(id=new_id, secret=secrets.token_hex(32), created_at=now))
        return new_id
