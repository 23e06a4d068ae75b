"""Retention deletes position history older than K days in small batches, keeps the rest,
and never deletes anything when it is switched off. (On PostgreSQL, where history is
partitioned by day, whole days go: tests/history/test_history_partitions.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.clock import FakeClock
from dispatcher.history.retention import RetentionService
from dispatcher.history.settings import HistorySettings
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.persistence import history_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def plain(sqlite_url: str) -> Iterator[Database]:
    """A database whose history is one plain table (SQLite): retention deletes in batches."""
    db = Database(sqlite_url)
    yield db
    db.dispose()


def fill(db: Database) -> None:
    """25 fixes a day for the last 10 days, and one event 20 days ago."""
    fixes = [
        PositionReport("v1", NOW - timedelta(days=d, minutes=m), 52.5, 13.4 + m / 1000)
        for d in range(10)
        for m in range(1, 26)
    ]
    sink = SqlTelemetrySink(db)
    sink.write_positions(fixes)
    sink.write_events(
        [EventReport("v1", NOW - timedelta(days=20), DeliveryEventKind.DELIVERED, "old")]
    )


def tick(service: RetentionService) -> None:
    """One tick, and its upkeep (run on the service's own thread) to its end."""
    service.tick()
    service.wait()


def test_old_history_is_pruned_in_batches_on_successive_ticks(plain: Database) -> None:
    database = plain
    fill(database)
    settings = HistorySettings(retention_days=7, prune_batch=20, prune_interval_s=60)
    service = RetentionService(database, FakeClock(NOW), settings)
    tick(service)
    assert service.pruned == 20  # one small batch per tick
    for _ in range(5):
        tick(service)
    # days 7, 8 and 9 are older than the cutoff (7 days back)
    with database.session() as session:
        remaining = history_repo.count_positions(session)
        oldest = history_repo.positions_between(session, NOW - timedelta(days=30), NOW)[0][1]
    assert service.pruned == 3 * 25 and remaining == 250 - 75
    assert oldest >= NOW - timedelta(days=7)
    # the event record is never pruned
    with database.session() as session:
        assert len(history_repo.events_between(session, NOW - timedelta(days=30), NOW)) == 1


def test_after_a_partial_batch_the_service_waits_for_its_interval(plain: Database) -> None:
    database = plain
    fill(database)
    settings = HistorySettings(retention_days=9, prune_batch=1000, prune_interval_s=60)
    clock = FakeClock(NOW)
    service = RetentionService(database, clock, settings)
    tick(service)
    assert service.pruned == 25
    late = PositionReport("v2", NOW - timedelta(days=12), 52.5, 13.4)  # a late, old fix
    SqlTelemetrySink(database).write_positions([late])
    clock.advance(30)
    tick(service)
    assert service.pruned == 25  # not due yet
    clock.advance(31)
    tick(service)
    assert service.pruned == 26


def test_a_batch_runs_off_the_ticking_thread(database: Database) -> None:
    import threading

    fill(database)
    threads: list[threading.Thread] = []
    service = RetentionService(database, FakeClock(NOW), HistorySettings(retention_days=7))
    prune_once, prune_all = service.prune_once, service.prune_all

    def watched_once() -> int:
        threads.append(threading.current_thread())
        return prune_once()

    def watched_all() -> int:  # PostgreSQL's upkeep: partitions, then every batch
        threads.append(threading.current_thread())
        return prune_all()

    service.prune_once = watched_once  # type: ignore[method-assign]  # a spy on the instance
    service.prune_all = watched_all  # type: ignore[method-assign]  # a spy on the instance
    tick(service)
    assert threads and threading.current_thread() not in threads
    with database.session() as session:
        oldest = history_repo.positions_between(session, NOW - timedelta(days=30), NOW)[0][1]
    assert oldest >= NOW - timedelta(days=8)  # past the cutoff: gone (a partition: by UTC day)


def test_retention_zero_keeps_everything(database: Database) -> None:
    fill(database)
    service = RetentionService(database, FakeClock(NOW), HistorySettings(retention_days=0))
    tick(service)
    assert service.prune_all() == 0
    with database.session() as session:
        assert history_repo.count_positions(session) == 250
