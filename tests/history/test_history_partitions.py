"""Position history by day on PostgreSQL (migration partition_1, persistence/partitions.py).

Partitions appear for new days (the writer's first fix of a day, the recorder's days ahead),
retention drops whole old days and keeps the rest, and a fleet's day, which crosses UTC
midnight in every zone but UTC's, reads as one table. The unique (vehicle, instant) that
makes a redelivered fix harmless holds on both backends, and the migration carries older
history (duplicates reduced to one) into the new layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fleet_zone import DAY, local
from sqlalchemy import func, select, text

from dispatcher.clock import FakeClock
from dispatcher.history.replay import load_replay
from dispatcher.history.retention import RetentionService
from dispatcher.history.settings import HistorySettings
from dispatcher.history.visits import Circle, proof_of_visit
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.persistence import database as dbmod
from dispatcher.persistence import history_repo, partitions
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import PositionRow
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def pg(pg_url: str) -> Iterator[Database]:
    db = Database(pg_url)
    yield db
    db.dispose()


def fix(vid: str, ts: datetime, i: int = 0) -> PositionReport:
    return PositionReport(vid, ts, 52.5 + i * 1e-4, 13.4, 30.0, 90.0, 5.0)


def days(db: Database) -> list[date]:
    with db.engine.connect() as conn:
        return [p.day for p in partitions.day_partitions(conn)]


def count(db: Database) -> int:
    with db.session() as session:
        return history_repo.count_positions(session)


def test_a_fresh_postgresql_history_is_partitioned_and_sqlite_plain(
    pg: Database, sqlite_url: str
) -> None:
    assert partitions.is_partitioned(pg.engine)
    assert days(pg) == [], "no day before its first fix (or the recorder's upkeep)"
    plain = Database(sqlite_url)
    try:
        assert not partitions.is_partitioned(plain.engine)
    finally:
        plain.dispose()


def test_the_first_fix_of_a_day_creates_its_partition(pg: Database) -> None:
    sink = SqlTelemetrySink(pg)
    sink.write_positions([fix("V1", NOW)])
    assert days(pg) == [date(2026, 11, 20)]
    late = NOW - timedelta(days=1)  # a device's buffer, flushed a day later
    sink.write_positions([fix("V1", NOW + timedelta(hours=13), 1), fix("V1", late, 2)])
    assert days(pg) == [date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 21)]
    assert count(pg) == 3
    with pg.engine.connect() as conn:
        in_day = conn.execute(text('SELECT count(*) FROM "positions_p20261121"')).scalar()
    assert in_day == 1, "each fix lies in its UTC day's table"


def test_the_recorder_prepares_today_and_the_next_days(pg: Database) -> None:
    clock = FakeClock(NOW)
    service = RetentionService(pg, clock, HistorySettings(prune_interval_s=60))
    service.tick()
    service.wait()
    assert days(pg) == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
    clock.advance(days=1)
    service.tick()
    service.wait()
    assert days(pg)[-1] == date(2026, 11, 23) and len(days(pg)) == 4


def fill(db: Database) -> None:
    """25 fixes a day at 11:35-11:59 UTC for the last 10 days, one event 20 days ago."""
    sink = SqlTelemetrySink(db)
    sink.write_positions(
        [fix("v1", NOW - timedelta(days=d, minutes=m), m) for d in range(10) for m in range(1, 26)]
    )
    sink.write_events(
        [EventReport("v1", NOW - timedelta(days=20), DeliveryEventKind.DELIVERED, "old")]
    )


def test_retention_drops_whole_old_days_and_keeps_the_rest(pg: Database) -> None:
    fill(pg)
    assert len(days(pg)) == 10
    service = RetentionService(pg, FakeClock(NOW), HistorySettings(retention_days=7))
    service.tick()  # the upkeep runs in its own thread: a detach may wait for readers
    service.wait()
    # The cutoff is Nov 13 12:00: Nov 11 and 12 are wholly older and go; Nov 13 holds fixes
    # older than the cutoff (11:35-11:59) and stays until its last instant is (a day more).
    assert service.pruned == 50
    assert days(pg)[0] == date(2026, 11, 13) and date(2026, 11, 12) not in days(pg)
    assert count(pg) == 200
    with pg.session() as session:
        rows = history_repo.positions_between(session, NOW - timedelta(days=30), NOW)
        events = history_repo.events_between(session, NOW - timedelta(days=30), NOW)
    assert rows[0][1].date() == date(2026, 11, 13) and len(rows) == 200
    assert len(events) == 1, "the day's record is never pruned"
    assert service.prune_all() == 0


def test_a_fix_of_a_day_dropped_meanwhile_gets_its_day_back(pg: Database) -> None:
    """The writer knew the day's partition; retention dropped it: the fix is still stored."""
    sink = SqlTelemetrySink(pg)
    old = NOW - timedelta(days=10)
    sink.write_positions([fix("V1", old)])
    assert RetentionService(pg, FakeClock(NOW), HistorySettings(retention_days=7)).prune_all()
    assert days(pg) == []
    sink.write_positions([fix("V1", old + timedelta(minutes=1))])
    assert count(pg) == 1 and days(pg) == [old.date()]


def test_a_fleet_day_across_utc_midnight_reads_as_one(db_url: str) -> None:
    """Every query over the fleet's local day (or any range across midnight UTC) returns
    the fixes of both partitions, in time order."""
    db = Database(db_url)
    try:
        start, end = local(0, 0), local(0, 0, day=DAY + timedelta(days=1))
        stamps = []
        t = start
        while t < end:
            stamps.append(t)
            t += timedelta(minutes=5)
        reports = [fix(v, ts, i) for i, ts in enumerate(stamps) for v in ("V1", "V2", "V3")]
        SqlTelemetrySink(db).write_positions(reports)
        if partitions.is_partitioned(db.engine):
            assert len(days(db)) == 2, "the local day lies on two UTC days"
        with db.session() as session:
            rows = history_repo.positions_between(session, start, end - timedelta(seconds=1))
        assert len(rows) == len(reports)
        assert [r[1] for r in rows] == sorted(r[1] for r in rows)
        midnight = datetime.combine(
            start.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC
        )
        assert start < midnight < end
        window = load_replay(db, midnight - timedelta(hours=1), midnight + timedelta(hours=1))
        assert len(window.positions) == 3 * 25  # 5-minute fixes of two hours, both ends in
        visits = proof_of_visit(db, Circle(52.5, 13.4, 20_000), start, end)
        assert {v.vehicle_id: v.fixes for v in visits} == {
            v: len(stamps) for v in ("V1", "V2", "V3")
        }
    finally:
        db.dispose()


def test_a_fix_stored_twice_is_one_row(database: Database) -> None:
    """A QoS 1 fix redelivered after a crash, or heard by two recorders, is stored once."""
    sink = SqlTelemetrySink(database)
    first = fix("V1", NOW)
    sink.write_positions([first, fix("V1", NOW + timedelta(seconds=1), 1)])
    SqlTelemetrySink(database).write_positions([first, fix("V1", NOW + timedelta(seconds=2), 2)])
    assert count(database) == 3


def test_the_migration_carries_history_over_with_one_row_per_instant(db_url: str) -> None:
    db = Database(db_url)
    try:
        dbmod.downgrade(db.engine, "registry_1")
        insert = text(
            "INSERT INTO positions (vehicle_id, ts, lat, lon, source, out_of_order, cell)"
            " VALUES (:v, :ts, 52.5, 13.4, 'native', false, 1)"
        )
        rows = [{"v": "V1", "ts": NOW - timedelta(days=d)} for d in (0, 1, 1, 3)]
        with db.engine.begin() as conn:
            conn.execute(insert, rows)  # the old schema let a fix be stored twice
        dbmod.upgrade(db.engine)
        assert count(db) == 3
        with db.session() as session:
            stored = session.scalars(select(PositionRow.ts).order_by(PositionRow.ts)).all()
            top = session.scalar(select(func.max(PositionRow.id)))
        assert [t.date() for t in stored] == [date(2026, 11, 17), date(2026, 11, 19), NOW.date()]
        if partitions.is_partitioned(db.engine):
            assert days(db) == [date(2026, 11, 17), date(2026, 11, 19), NOW.date()]
        SqlTelemetrySink(db).write_positions([fix("V1", NOW + timedelta(minutes=1))])
        with db.session() as session:
            assert session.scalar(select(func.max(PositionRow.id))) == (top or 0) + 1, (
                "ids go on from the same sequence"
            )
        dbmod.downgrade(db.engine, "registry_1")  # and back: a plain table with every row
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM positions")).scalar() == 4
    finally:
        db.dispose()
