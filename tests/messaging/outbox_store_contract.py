"""The OutboxStore contract, as reusable checks: every store must pass all of them.

Each check takes a factory returning a fresh, empty store and raises AssertionError (or a
pytest failure) when the store breaks the contract documented on
:class:`dispatcher.messaging.outbox.OutboxStore`. The in-memory store runs them in
``test_messaging_outbox_contract.py``; the SQL store runs the same list::

    import sys, pathlib
    sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "messaging"))
    from outbox_store_contract import CONTRACT_CHECKS

    @pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__)
    def test_sql_outbox_store(check, sql_store_factory):
        check(sql_store_factory)

Rows use ``customer_id=None`` so no customers table rows are needed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.errors import ConflictError, InvalidTransition, NotFoundError
from dispatcher.messaging.outbox import OutboxStore
from dispatcher.model.messaging import OutboxMessage, OutboxStatus

StoreFactory = Callable[[], OutboxStore]
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def draft(key: str, *, due: datetime = T0, body: str = "Hello", by: str = "ann") -> OutboxMessage:
    """A message ready for ``enqueue`` (no id yet)."""
    return OutboxMessage(
        idempotency_key=key,
        customer_id=None,
        stop_ref="S-1",
        situation="running_late",
        template_id="running_late/sms/en",
        template_version=1,
        channel="sms",
        address="+447700900123",
        body=body,
        not_before=due,
        next_attempt_at=due,
        created_at=T0,
        created_by=by,
    )


def _id(row: OutboxMessage) -> int:
    assert row.id is not None
    return row.id


def check_enqueue_saves_a_queued_row(make_store: StoreFactory) -> None:
    store = make_store()
    row, created = store.enqueue(draft("k1"))
    assert created
    assert row.id is not None
    assert row.status is OutboxStatus.QUEUED
    assert row.attempts == 0
    assert row.body == "Hello" and row.created_by == "ann" and row.stop_ref == "S-1"
    assert store.get(_id(row)) == row
    assert store.get_by_key("k1") == row


def check_same_key_gives_the_existing_row(make_store: StoreFactory) -> None:
    store = make_store()
    first, _ = store.enqueue(draft("k1", body="first"))
    second, created = store.enqueue(draft("k1", body="second"))
    assert not created
    assert second.id == first.id and second.body == "first"
    assert len(store.list()) == 1


def check_same_key_after_sending_still_gives_the_existing_row(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1"))
    store.claim_due(T0, 10, "w1", LEASE)
    store.mark_sent(_id(row), T0, "p-1", "w1")
    again, created = store.enqueue(draft("k1"))
    assert not created and again.status is OutboxStatus.SENT


def check_same_key_after_cancel_requeues_the_row(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1", body="old"))
    assert store.cancel(_id(row), T0)
    later = T0 + timedelta(minutes=1)
    again, created = store.enqueue(draft("k1", body="new", due=later, by="bob"))
    assert created
    assert again.id == row.id
    assert again.status is OutboxStatus.QUEUED
    assert again.body == "new" and again.created_by == "bob"
    assert again.next_attempt_at == later and again.attempts == 0
    assert len(store.list()) == 1


def check_claim_takes_only_due_rows_oldest_first(make_store: StoreFactory) -> None:
    store = make_store()
    late, _ = store.enqueue(draft("late", due=T0 + timedelta(minutes=2)))
    b, _ = store.enqueue(draft("b", due=T0 - timedelta(minutes=1)))
    a, _ = store.enqueue(draft("a", due=T0 - timedelta(minutes=5)))
    claimed = store.claim_due(T0, 10, "w1", LEASE)
    assert [r.id for r in claimed] == [a.id, b.id]
    for row in claimed:
        assert row.status is OutboxStatus.SENDING
        assert row.claimed_by == "w1" and row.claimed_at == T0 and row.attempts == 0
    fetched = store.get(_id(late))
    assert fetched is not None and fetched.status is OutboxStatus.QUEUED


def check_claim_respects_limit(make_store: StoreFactory) -> None:
    store = make_store()
    for n in range(5):
        store.enqueue(draft(f"k{n}"))
    assert len(store.claim_due(T0, 2, "w1", LEASE)) == 2
    assert len(store.claim_due(T0, 0, "w1", LEASE)) == 0
    assert len(store.claim_due(T0, 10, "w1", LEASE)) == 3


def check_a_claimed_row_is_not_claimed_again_within_the_lease(make_store: StoreFactory) -> None:
    store = make_store()
    store.enqueue(draft("k1"))
    assert len(store.claim_due(T0, 10, "w1", LEASE)) == 1
    assert store.claim_due(T0 + LEASE - timedelta(seconds=1), 10, "w2", LEASE) == []


def check_an_expired_claim_is_taken_over(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1"))
    store.claim_due(T0, 10, "w1", LEASE)
    store.start_attempt(_id(row), "w1")  # w1 handed it to its channel, then died
    taken = store.claim_due(T0 + LEASE, 10, "w2", LEASE)
    assert [r.id for r in taken] == [row.id]
    assert taken[0].claimed_by == "w2" and taken[0].attempts == 1
    with pytest.raises(ConflictError):
        store.start_attempt(_id(row), "w1")
    assert store.start_attempt(_id(row), "w2").attempts == 2
    with pytest.raises(ConflictError):
        store.mark_sent(_id(row), T0 + LEASE, "p", "w1")
    sent = store.mark_sent(_id(row), T0 + LEASE, "p", "w2")
    assert sent.status is OutboxStatus.SENT


def check_mark_sent(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1"))
    with pytest.raises(InvalidTransition):
        store.mark_sent(_id(row), T0, "p-1", "w1")
    store.claim_due(T0, 10, "w1", LEASE)
    sent = store.mark_sent(_id(row), T0 + timedelta(seconds=3), "p-1", "w1")
    assert sent.status is OutboxStatus.SENT
    assert sent.sent_at == T0 + timedelta(seconds=3)
    assert sent.provider_id == "p-1"
    assert sent.claimed_by is None and sent.claimed_at is None
    assert store.get_by_provider_id("p-1") == sent
    assert store.get_by_provider_id("nope") is None
    assert store.claim_due(T0 + timedelta(hours=1), 10, "w1", LEASE) == []


def check_mark_retry_requeues_for_later(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1"))
    store.claim_due(T0, 10, "w1", LEASE)
    store.start_attempt(_id(row), "w1")
    next_at = T0 + timedelta(seconds=30)
    retry = store.mark_retry(_id(row), T0, next_at, "gateway answered 500", "w1")
    assert retry.status is OutboxStatus.QUEUED
    assert retry.next_attempt_at == next_at and retry.last_error == "gateway answered 500"
    assert retry.attempts == 1 and retry.claimed_by is None
    assert store.claim_due(next_at - timedelta(seconds=1), 10, "w1", LEASE) == []
    again = store.claim_due(next_at, 10, "w1", LEASE)
    assert [r.attempts for r in again] == [1]
    assert store.start_attempt(_id(row), "w1").attempts == 2


def check_a_claim_cut_short_is_not_an_attempt(make_store: StoreFactory) -> None:
    store = make_store()
    store.enqueue(draft("k1"))
    store.claim_due(T0, 10, "w1", LEASE)  # w1 dies before it reaches the channel
    taken = store.claim_due(T0 + LEASE, 10, "w2", LEASE)
    assert [r.attempts for r in taken] == [0]
    other, _ = store.enqueue(draft("k2", due=T0 + timedelta(hours=1)))
    with pytest.raises(InvalidTransition):
        store.start_attempt(_id(other), "w2")  # queued, not claimed: nothing to count


def check_mark_retry_needs_the_claim(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1"))
    with pytest.raises(InvalidTransition):
        store.mark_retry(_id(row), T0, T0, "x", "w1")
    store.claim_due(T0, 10, "w1", LEASE)
    with pytest.raises(ConflictError):
        store.mark_retry(_id(row), T0, T0, "x", "w2")


def check_mark_failed_by_the_relay(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1"))
    store.claim_due(T0, 10, "w1", LEASE)
    with pytest.raises(ConflictError):
        store.mark_failed(_id(row), T0, "boom", "w2")
    failed = store.mark_failed(_id(row), T0, "boom", "w1")
    assert failed.status is OutboxStatus.FAILED and failed.last_error == "boom"
    assert failed.claimed_by is None
    assert store.claim_due(T0 + timedelta(days=1), 10, "w1", LEASE) == []


def check_mark_failed_by_a_negative_receipt(make_store: StoreFactory) -> None:
    store = make_store()
    queued, _ = store.enqueue(draft("q"))
    row, _ = store.enqueue(draft("k1", due=T0 - timedelta(seconds=1)))
    store.claim_due(T0 - timedelta(seconds=1), 1, "w1", LEASE)
    store.mark_sent(_id(row), T0, "p-1", "w1")
    failed = store.mark_failed(_id(row), T0, "undelivered")
    assert failed.status is OutboxStatus.FAILED and failed.last_error == "undelivered"
    with pytest.raises(InvalidTransition):
        store.mark_failed(_id(queued), T0, "receipt for a queued row")


def check_mark_delivered(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1"))
    store.claim_due(T0, 10, "w1", LEASE)
    store.mark_sent(_id(row), T0, "p-1", "w1")
    t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    delivered = store.mark_delivered(_id(row), t1)
    assert delivered.status is OutboxStatus.DELIVERED and delivered.delivered_at == t1
    assert delivered.sent_at == T0
    assert store.mark_delivered(_id(row), t2).delivered_at == t1


def check_a_receipt_beats_a_pending_retry(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1"))
    store.claim_due(T0, 10, "w1", LEASE)
    store.mark_retry(_id(row), T0, T0 + timedelta(minutes=1), "timeout", "w1")
    delivered = store.mark_delivered(_id(row), T0 + timedelta(seconds=20))
    assert delivered.status is OutboxStatus.DELIVERED
    assert delivered.sent_at == T0 + timedelta(seconds=20)
    assert store.claim_due(T0 + timedelta(hours=1), 10, "w1", LEASE) == []


def check_cancel_only_before_it_leaves(make_store: StoreFactory) -> None:
    store = make_store()
    row, _ = store.enqueue(draft("k1", due=T0 + timedelta(seconds=10)))
    other, _ = store.enqueue(draft("k2"))
    assert store.cancel(_id(row), T0)
    fetched = store.get(_id(row))
    assert fetched is not None and fetched.status is OutboxStatus.CANCELLED
    assert store.cancel(_id(row), T0) is False
    assert [r.id for r in store.claim_due(T0 + timedelta(minutes=1), 10, "w1", LEASE)] == [other.id]
    assert store.cancel(_id(other), T0) is False
    with pytest.raises(InvalidTransition):
        store.mark_delivered(_id(row), T0)


def check_unknown_ids_are_not_found(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.get(424242) is None
    assert store.get_by_key("nope") is None
    with pytest.raises(NotFoundError):
        store.cancel(424242, T0)
    with pytest.raises(NotFoundError):
        store.mark_delivered(424242, T0)
    with pytest.raises(NotFoundError):
        store.mark_sent(424242, T0, "p", "w1")


def check_list_filters_by_status_newest_first(make_store: StoreFactory) -> None:
    store = make_store()
    a, _ = store.enqueue(draft("a"))
    b, _ = store.enqueue(draft("b"))
    c, _ = store.enqueue(draft("c", due=T0 + timedelta(hours=1)))
    store.cancel(_id(b), T0)
    assert [r.id for r in store.list()] == [c.id, b.id, a.id]
    assert [r.id for r in store.list(OutboxStatus.QUEUED)] == [c.id, a.id]
    assert [r.id for r in store.list(OutboxStatus.CANCELLED)] == [b.id]
    assert [r.id for r in store.list(limit=1)] == [c.id]


def check_concurrent_claims_never_share_a_row(make_store: StoreFactory) -> None:
    store = make_store()
    for n in range(40):
        store.enqueue(draft(f"k{n}"))
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait(timeout=10)
        mine: list[int] = []
        for _ in range(20):
            mine.extend(_id(r) for r in store.claim_due(T0, 3, name, LEASE))
        results[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    claimed = [row_id for ids in results.values() for row_id in ids]
    assert len(claimed) == 40
    assert len(set(claimed)) == 40


CONTRACT_CHECKS: list[Callable[[StoreFactory], None]] = [
    check_enqueue_saves_a_queued_row,
    check_same_key_gives_the_existing_row,
    check_same_key_after_sending_still_gives_the_existing_row,
    check_same_key_after_cancel_requeues_the_row,
    check_claim_takes_only_due_rows_oldest_first,
    check_claim_respects_limit,
    check_a_claimed_row_is_not_claimed_again_within_the_lease,
    check_an_expired_claim_is_taken_over,
    check_mark_sent,
    check_mark_retry_requeues_for_later,
    check_a_claim_cut_short_is_not_an_attempt,
    check_mark_retry_needs_the_claim,
    check_mark_failed_by_the_relay,
    check_mark_failed_by_a_negative_receipt,
    check_mark_delivered,
    check_a_receipt_beats_a_pending_retry,
    check_cancel_only_before_it_leaves,
    check_unknown_ids_are_not_found,
    check_list_filters_by_status_newest_first,
    check_concurrent_claims_never_share_a_row,
]
