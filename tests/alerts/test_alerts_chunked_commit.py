"""The rule runner commits its reconciliation in chunks (issue 17), exactly once.

At 500 vehicles one transaction of 942 alerts held SQLite's only write lock for ~10 s; the
recorder and the desk waited or failed with "database is locked". Chunks release the lock
between them, and a run that dies between two chunks loses nothing and doubles nothing when
the next run (another process: a new runner, the same facts) carries on. SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from alerts_builders import T0, event, snap, stop, vehicle
from test_alerts_runner import InlineExecutor

from dispatcher.alerts.events import AlertsChanged
from dispatcher.alerts.facts import Snapshot
from dispatcher.alerts.live_facts import Facts
from dispatcher.alerts.runner import AlertRunner, PartialRun
from dispatcher.alerts.store import AlertStore
from dispatcher.clock import FakeClock
from dispatcher.events import EventBus
from dispatcher.model.alerts import AlertKind, AuditEntry
from dispatcher.persistence.alert_repo import SqlAlertStore, alert_store
from dispatcher.persistence.database import Database

VANS = 60  # 60 offline vans: 60 alerts, 120 rows with their audit lines


class Died(Exception):
    """The process "dies" here: nothing after this point of the run happens."""


class Once:
    """The same facts every run, and whether they were taken as committed."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.commits = 0

    def capture(self, now: datetime) -> Callable[[], Facts]:
        return lambda: Facts(self.snapshot, self._done)

    def _done(self) -> None:
        self.commits += 1


def day() -> Snapshot:
    vans = [vehicle(vehicle_id=f"V{i:03}", label=f"Van {i}", online=False) for i in range(VANS)]
    # Two failed attempts at one stop: one alert counting both (an event kind).
    failures = [event(event_id=f"E{n}", stop_id="S1", ts=T0) for n in (1, 2)]
    return snap(*vans, stop(), *failures)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def scope(
    db: Database,
    before: Callable[[int], None] = lambda n: None,
    after: Callable[[int], None] = lambda n: None,
) -> Callable[[], Any]:
    """``alert_store(db)`` whose n-th chunk commit calls ``before(n)`` and ``after(n)``."""

    class Watched(SqlAlertStore):
        commits = 0

        def commit(self) -> None:
            Watched.commits += 1
            before(Watched.commits)
            super().commit()
            after(Watched.commits)

    @contextmanager
    def open_store() -> Iterator[AlertStore]:
        with db.session() as session:
            yield Watched(session)

    return open_store


def runner(db: Database, facts: Once, bus: EventBus, store_scope: Any) -> AlertRunner:
    return AlertRunner(FakeClock(T0), bus, facts, store_scope, chunk_writes=20)


def audit(db: Database) -> list[AuditEntry]:
    with alert_store(db) as store:
        return store.list_audit()


def test_chunks_are_committed_and_release_the_database_between_them(db: Database) -> None:
    others: list[int] = []

    def another_writer(n: int) -> None:
        """Between chunks another connection writes (SQLite: it gets the write lock)."""
        if n == 1:
            with alert_store(db) as store:
                assert len(store.list_alerts()) == 10  # the first chunk, visible to others
                others.append(len(store.list_alerts()))

    facts = Once(day())
    outcome = runner(db, facts, EventBus(), scope(db, after=another_writer)).run_now()
    assert others == [10] and facts.commits == 1
    with alert_store(db) as store:
        alerts = store.list_alerts()
    assert len(alerts) == VANS + 1 and len(outcome.raised) == VANS + 1
    assert Counter(e.action for e in audit(db)) == {"raise": VANS + 1, "repeat": 1}


@pytest.mark.allow_error_logs  # the first run's death is logged as the failure it is
def test_a_run_that_dies_between_chunks_loses_and_doubles_nothing(db: Database) -> None:
    def die(n: int) -> None:
        if n == 4:
            raise Died("killed before the fourth chunk was committed")

    facts, bus = Once(day()), EventBus()
    first = runner(db, facts, bus, scope(db, before=die))
    with pytest.raises(PartialRun) as failed:
        first.run_now()
    assert isinstance(failed.value.__cause__, Died)
    assert facts.commits == 0, "its events must be fed again"
    with alert_store(db) as store:
        kept = store.list_alerts()
    assert len(kept) == 30 and all(a.kind is AlertKind.VEHICLE_OFFLINE for a in kept)
    assert len(audit(db)) == 30  # each alert with its audit line, never one without
    assert failed.value.outcome.raised == {a.id for a in kept}  # what a tick announces
    # The next run, as another process would: the same facts, a new runner.
    runner(db, facts, bus, lambda: alert_store(db)).run_now()
    with alert_store(db) as store:
        alerts = store.list_alerts()
    keys = Counter((a.kind, a.subject) for a in alerts)
    assert len(alerts) == VANS + 1 and set(keys.values()) == {1}
    failed_stop = next(a for a in alerts if a.kind is not AlertKind.VEHICLE_OFFLINE)
    assert failed_stop.count == 2  # both attempts, each counted once
    assert all(a.count == 1 for a in alerts if a.kind is AlertKind.VEHICLE_OFFLINE)
    raises = Counter(e.alert_id for e in audit(db) if e.action == "raise")
    assert len(raises) == VANS + 1 and set(raises.values()) == {1}


@pytest.mark.allow_error_logs  # the tick logs the failure
def test_a_tick_that_failed_after_a_chunk_announces_what_it_committed(db: Database) -> None:
    def die(n: int) -> None:
        if n == 2:
            raise Died("the disk filled up")

    events: list[AlertsChanged] = []
    bus = EventBus()
    bus.subscribe(AlertsChanged, events.append)
    r = AlertRunner(
        FakeClock(T0),
        bus,
        Once(day()),
        scope(db, before=die),
        chunk_writes=20,
        executor=InlineExecutor(),
    )
    r.tick()
    assert r.last_error == "Died: the disk filled up"
    [announced] = events
    with alert_store(db) as store:
        kept = {a.id for a in store.list_alerts()}
    assert announced.raised_ids == kept and len(kept) == 10
