"""The in-memory outbox store passes the OutboxStore contract (the SQL store runs the same)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from outbox_store_contract import CONTRACT_CHECKS, StoreFactory

from dispatcher.messaging.outbox import MAX_KEY_LENGTH, InMemoryOutboxStore, idempotency_key
from dispatcher.model.messaging import OutboxStatus


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__)
def test_in_memory_store_honours_the_contract(check: Callable[[StoreFactory], None]) -> None:
    check(InMemoryOutboxStore)


ETA = datetime(2026, 11, 20, 14, 31, tzinfo=UTC)


def key(**kwargs: Any) -> str:
    args: dict[str, Any] = {
        "situation": "running_late",
        "stop_ref": "S-1",
        "channel": "sms",
        "template_id": "running_late/sms/en",
        "template_version": 1,
        "eta": ETA,
    }
    args.update(kwargs)
    return idempotency_key(**args)


def test_key_is_the_same_for_an_eta_in_the_same_ten_minutes() -> None:
    assert key() == key(eta=ETA + timedelta(minutes=5))


def test_key_changes_with_a_fresh_eta_template_version_stop_or_channel() -> None:
    base = key()
    assert key(eta=ETA + timedelta(minutes=20)) != base
    assert key(template_version=2) != base
    assert key(stop_ref="S-2") != base
    assert key(channel="email") != base
    assert key(discriminator="hello") != key(discriminator="bye")


def test_key_is_ascii_and_fits_the_column_whatever_the_stop_ref() -> None:
    long_key = key(stop_ref="Straße/" + "x" * 500)
    assert long_key.isascii()
    assert len(long_key) <= MAX_KEY_LENGTH
    assert long_key == key(stop_ref="Straße/" + "x" * 500)
    assert long_key != key(stop_ref="Straße/" + "x" * 499)


def test_statuses_know_which_are_final() -> None:
    assert OutboxStatus.DELIVERED.is_final and OutboxStatus.CANCELLED.is_final
    assert not OutboxStatus.SENT.is_final and not OutboxStatus.QUEUED.is_final
