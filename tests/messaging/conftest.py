"""Fixtures of the messaging room: a fake clock, a real SMS gateway and SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from messaging_fakes import FakeGateway, SmtpInbox, free_port, running_gateway, running_smtp

from dispatcher.clock import FakeClock

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    """A real HTTP SMS gateway on loopback that deduplicates on ``Idempotency-Key``."""
    with running_gateway() as fake:
        yield fake


@pytest.fixture
def closed_port() -> int:
    """A port where nothing listens: connection refused, like a gateway that is down."""
    return free_port()


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    """A real SMTP server (aiosmtpd) on a free loopback port, collecting what it receives."""
    with running_smtp() as inbox:
        yield inbox
