"""Is a failed write worth retrying? Transient trouble versus a record the database refuses.

Telemetry storage must neither lose data to a brief outage nor stall forever on one bad
record. A *transient* failure (connection lost, server restarting, lock or statement timeout,
serialization failure, deadlock, disk full) goes away by itself: the writer retries with
backoff. A *poison* record (a value too long for its column, a NUL byte, a number out of
range, a constraint one row breaks) fails the same way every time: it is set aside with its
reason and the rest of the batch is stored. Callers outside this package only see the plain
core types: :class:`~dispatcher.errors.DatabaseError` (transient) or
:class:`~dispatcher.errors.RecordRefused` (poison).

PostgreSQL says which it is with its SQLSTATE class; SQLite with the DBAPI exception class.
"""

from __future__ import annotations

import enum

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from dispatcher.errors import DatabaseError, RecordRefused

#: SQLSTATE classes about the data of the statement, not the state of the server:
#: 22 data exception (too long, NUL, out of range), 23 integrity constraint violation,
#: 54 program limit exceeded (e.g. an index row too large).
POISON_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})


class Fault(enum.Enum):
    """What to do about a failed write."""

    TRANSIENT = "transient"  # retry with backoff
    POISON = "poison"  # set the record aside; retrying cannot help


def classify(exc: BaseException) -> Fault:
    """Transient or poison, from a SQLAlchemy (or already translated) error."""
    if isinstance(exc, RecordRefused):
        return Fault.POISON
    if isinstance(exc, DatabaseError):
        return Fault.TRANSIENT
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return Fault.TRANSIENT
        state = getattr(exc.orig, "sqlstate", None)
        if isinstance(state, str) and len(state) == 5:
            return Fault.POISON if state[:2] in POISON_SQLSTATE_CLASSES else Fault.TRANSIENT
        # No SQLSTATE: SQLite, or psycopg refusing a value before sending it (NUL bytes).
        return Fault.POISON if isinstance(exc, DataError | IntegrityError) else Fault.TRANSIENT
    if isinstance(exc, StatementError):
        return Fault.POISON  # a value no bind processor accepts (e.g. a naive datetime)
    return Fault.TRANSIENT


def refused(exc: BaseException) -> RecordRefused:
    """The core error for a poison record, with the database's own first line as reason."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()
    return RecordRefused(first[0][:300] if first else type(orig).__name__)
