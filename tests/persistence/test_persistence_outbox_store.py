"""The SQL outbox store honours the same contract as the in-memory one, on SQLite and PostgreSQL.

The contract checks live with the messaging room (``tests/messaging/outbox_store_contract.py``);
here each one gets a freshly migrated database of each backend. A few SQL-only promises follow
(input the database would choke on is refused with a reason, a second workstation sees the
same rows), and the relay delivers through the SQL store end to end.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.clock import FakeClock
from dispatcher.errors import ValidationError
from dispatcher.messaging.channels import CaptureChannel
from dispatcher.messaging.outbox import OutboxStore
from dispatcher.messaging.relay import Relay, RetryPolicy
from dispatcher.model.messaging import OutboxStatus
from dispatcher.persistence.database import Database
from dispatcher.persistence.outbox_repo import SqlOutboxStore

_MESSAGING_TESTS = str(Path(__file__).parents[1] / "messaging")
if _MESSAGING_TESTS not in sys.path:
    sys.path.insert(0, _MESSAGING_TESTS)

from outbox_store_contract import CONTRACT_CHECKS, T0, StoreFactory, draft  # noqa: E402

SqlStoreFactory = Callable[[], SqlOutboxStore]


@pytest.fixture
def make_sql_store(db_url: str) -> Iterator[SqlStoreFactory]:
    """Stores over one fresh database per test; engines are disposed afterwards.

    Each call opens its own :class:`Database` (own engine and pool), like a second
    workstation would, so checks that build two stores see one set of rows.
    """
    opened: list[Database] = []

    def make() -> SqlOutboxStore:
        db = Database(db_url)
        opened.append(db)
        return SqlOutboxStore(db)

    yield make
    for db in opened:
        db.dispose()


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__)
def test_sql_store_honours_the_outbox_contract(
    check: Callable[[StoreFactory], None], make_sql_store: SqlStoreFactory
) -> None:
    check(make_sql_store)


def test_sql_store_is_an_outbox_store(make_sql_store: SqlStoreFactory) -> None:
    store: OutboxStore = make_sql_store()
    assert store.list() == []


def test_two_workstations_share_one_row_per_key(make_sql_store: SqlStoreFactory) -> None:
    ann, bob = make_sql_store(), make_sql_store()
    first, created_by_ann = ann.enqueue(draft("k1", by="ann"))
    second, created_by_bob = bob.enqueue(draft("k1", by="bob"))
    assert created_by_ann and not created_by_bob
    assert second == first
    assert [r.id for r in bob.claim_due(T0, 10, "bob-relay")] == [first.id]
    assert ann.claim_due(T0, 10, "ann-relay") == []


def test_racing_enqueues_of_one_key_make_one_row(make_sql_store: SqlStoreFactory) -> None:
    """Four workstations click at the same instant: the unique key picks one winner."""
    stores = [make_sql_store() for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    results: list[tuple[int | None, bool]] = []
    lock = threading.Lock()

    def click(store: SqlOutboxStore, n: int) -> None:
        barrier.wait(timeout=10)
        for key in ("a", "b", "c", "d", "e"):
            row, created = store.enqueue(draft(key, by=f"user{n}"))
            with lock:
                results.append((row.id, created))

    threads = [threading.Thread(target=click, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 20
    assert sum(created for _, created in results) == 5
    assert len({row_id for row_id, _ in results}) == 5
    assert len(stores[0].list()) == 5


def test_times_come_back_as_aware_utc(make_sql_store: SqlStoreFactory) -> None:
    store = make_sql_store()
    row, _ = store.enqueue(draft("k1"))
    [claimed] = store.claim_due(T0, 1, "w1")
    for moment in (row.created_at, row.not_before, row.next_attempt_at, claimed.claimed_at):
        assert moment is not None and moment.utcoffset() == timedelta(0)


def test_input_the_database_would_refuse_is_rejected_with_a_reason(
    make_sql_store: SqlStoreFactory,
) -> None:
    store = make_sql_store()
    with pytest.raises(ValidationError, match="idempotency key"):
        store.enqueue(draft(""))
    with pytest.raises(ValidationError, match="address"):
        store.enqueue(replace(draft("k1"), address="x" * 300))
    with pytest.raises(ValidationError, match="aware"):
        store.enqueue(draft("k2", due=datetime(2026, 11, 20, 9, 0)))
    with pytest.raises(ValidationError, match="customer"):
        store.enqueue(replace(draft("k3"), customer_id=999))
    assert store.list() == []


def test_the_relay_delivers_through_the_sql_store(
    make_sql_store: SqlStoreFactory, tmp_path: Path
) -> None:
    store = make_sql_store()
    clock = FakeClock(T0)
    capture = tmp_path / "outbox.jsonl"
    relay = Relay(
        store,
        {"sms": CaptureChannel(capture, clock)},
        clock,
        worker_id="w1",
        policy=RetryPolicy(jitter=0.0),
    )
    due_now, _ = store.enqueue(draft("now", body="Your parcel arrives at 14:35."))
    later, _ = store.enqueue(draft("later", due=T0 + timedelta(minutes=5)))

    report = relay.run_once()

    assert report.sent == [due_now.id]
    sent = store.get(due_now.id or 0)
    assert sent is not None and sent.status is OutboxStatus.SENT and sent.sent_at == T0
    assert sent.provider_id == "capture-now"
    lines = [json.loads(line) for line in capture.read_text(encoding="utf-8").splitlines()]
    assert [(line["idempotency_key"], line["text"]) for line in lines] == [
        ("now", "Your parcel arrives at 14:35.")
    ]
    assert relay.next_due_in() == timedelta(minutes=5)
    row = store.get(later.id or 0)
    assert row is not None and row.status is OutboxStatus.QUEUED

    receipt = relay.record_receipt("capture-now", delivered=True)
    assert receipt is not None and receipt.status is OutboxStatus.DELIVERED
    assert receipt.delivered_at == T0
