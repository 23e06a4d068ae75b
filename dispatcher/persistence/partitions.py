"""Position history by day on PostgreSQL: one range partition of ``positions`` per UTC day.

At a control room's scale (2,000 vehicles, a fix stored every few seconds each) history grows
by millions of rows a day. Retention by ``DELETE`` removes them row by row, and vacuum then
goes over them again; dropping a day's partition is a catalogue change. A query over a time
range reads only the days it touches (partition pruning).

Days are **UTC** days whatever the fleet's zone: the zone is a setting that can change, a
table's bounds cannot. A fleet's local day therefore spans two partitions, which every query
reads as one table (tests/history/test_history_partitions.py).

Partitions are named ``positions_pYYYYMMDD``. They are created ahead by the recorder's history
upkeep (today and the next :data:`AHEAD_DAYS` days, :class:`~dispatcher.history.retention.
RetentionService`) and on demand by the writer for a day that has none (a device's buffered
fix of yesterday). Neither takes a lock that stops readers or writers: a partition is made as
a plain table and then *attached*, which takes ``SHARE UPDATE EXCLUSIVE`` on ``positions``
(``CREATE TABLE ... PARTITION OF`` would take ``ACCESS EXCLUSIVE`` and queue every query
behind it). Retention *detaches* a day concurrently (PostgreSQL 14 and later), then drops it.
Several recorders may do all this at once: a session advisory lock makes them take turns.

SQLite keeps one plain table; :func:`is_partitioned` says ``False`` there and the callers use
the row-by-row paths.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

PARENT = "positions"
PREFIX = "positions_p"
#: Days created ahead of today by the recorder's upkeep (a day's first fixes never wait).
AHEAD_DAYS = 2
#: Key of the advisory lock that serializes partition changes across processes.
LOCK_KEY = 0x64_69_73_70_61_72_74  # "dispart"
_NAME = re.compile(r"^positions_p(\d{8})$")


def partition_name(day: date) -> str:
    """``positions_p20261120`` for 2026-11-20 (UTC)."""
    return f"{PREFIX}{day:%Y%m%d}"


def day_of(name: str) -> date | None:
    """The day a partition name stands for; ``None`` for any other table."""
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None


def utc_day(ts: datetime) -> date:
    """The UTC day ``ts`` falls on (the partition that holds it)."""
    return ts.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    """The first instant of a UTC day (a partition's lower bound, included)."""
    return datetime.combine(day, time(0), UTC)


@dataclass(frozen=True, slots=True)
class DayPartition:
    """One attached partition: its table name, its day, and whether a concurrent detach of
    it was interrupted (it must be finalized before it can go)."""

    name: str
    day: date
    detach_pending: bool = False


def is_partitioned(engine: Engine) -> bool:
    """True when ``positions`` is a partitioned table (PostgreSQL after partition_1)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%(t)s)",
            {"t": PARENT},
        ).scalar()
    return bool(found)


def day_partitions(conn: Connection) -> list[DayPartition]:
    """The partitions attached to ``positions``, oldest day first (ours only, by name)."""
    pending = "i.inhdetachpending" if _version(conn) >= 140000 else "false"
    rows = conn.exec_driver_sql(
        f"SELECT c.relname, {pending} FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(%(t)s)",
        {"t": PARENT},
    )
    found = [DayPartition(name, day, bool(p)) for name, p in rows if (day := day_of(name))]
    return sorted(found, key=lambda p: p.day)


def ensure_days(engine: Engine, days: Iterable[date]) -> list[date]:
    """Make sure each of ``days`` has its partition; returns the days created.

    Each partition is its own short transaction: created as a table shaped like
    ``positions``, then attached (see the module docstring for the locks).
    """
    wanted = set(days)
    if not wanted:
        return []
    created: list[date] = []
    with _turn(engine) as conn:
        have = {p.day for p in day_partitions(conn)}
        for day in sorted(wanted - have):
            name = partition_name(day)
            lo, hi = day_start(day), day_start(day + timedelta(days=1))
            conn.exec_driver_sql(f'CREATE TABLE IF NOT EXISTS "{name}" (LIKE {PARENT})')
            conn.exec_driver_sql(
                f'ALTER TABLE {PARENT} ATTACH PARTITION "{name}" '
                f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
            )
            created.append(day)
    if created:
        log.info("history: partitions created for %s", ", ".join(map(str, created)))
    return created


def ensure_ahead(engine: Engine, now: datetime, ahead: int = AHEAD_DAYS) -> list[date]:
    """Partitions for today (UTC) and the next ``ahead`` days."""
    today = utc_day(now)
    return ensure_days(engine, (today + timedelta(days=n) for n in range(ahead + 1)))


def drop_before(engine: Engine, cutoff: datetime) -> list[tuple[date, int]]:
    """Drop every partition whose whole day is older than ``cutoff``; returns each dropped
    day with the fixes it held.

    A day goes once its last instant has passed the cutoff, so history is kept up to one
    day longer than ``retention_days`` says (the price of dropping instead of deleting).
    """
    dropped: list[tuple[date, int]] = []
    with _turn(engine) as conn:
        concurrently = _version(conn) >= 140000
        for part in day_partitions(conn):
            if day_start(part.day + timedelta(days=1)) > cutoff:
                break  # sorted by day: the rest are younger
            rows = int(conn.exec_driver_sql(f'SELECT count(*) FROM "{part.name}"').scalar() or 0)
            detach = f'ALTER TABLE {PARENT} DETACH PARTITION "{part.name}"'
            if part.detach_pending:  # an earlier detach was interrupted: finish it
                conn.exec_driver_sql(f"{detach} FINALIZE")
            elif concurrently:  # waits for the day's readers, blocks nobody
                conn.exec_driver_sql(f"{detach} CONCURRENTLY")
            conn.exec_driver_sql(f'DROP TABLE "{part.name}"')
            dropped.append((part.day, rows))
    return dropped


def is_missing_partition(exc: BaseException) -> bool:
    """True for PostgreSQL's "no partition of relation ... found for row" (a day without
    its partition: dropped by retention meanwhile, or never created)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "23514" and "no partition" in str(orig)


@contextmanager
def _turn(engine: Engine) -> Iterator[Connection]:
    """An autocommit connection holding the partition lock (one process at a time)."""
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("SELECT pg_advisory_lock(%(k)s)", {"k": LOCK_KEY})
        try:
            yield conn
        finally:
            conn.exec_driver_sql("SELECT pg_advisory_unlock(%(k)s)", {"k": LOCK_KEY})


def _version(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SHOW server_version_num").scalar() or 0)
