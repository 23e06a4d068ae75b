"""Fixtures of the alerts room: a fake clock at T0, a memory store and the service over both."""

from __future__ import annotations

import pytest
from alerts_builders import T0

from dispatcher.alerts.store import InMemoryAlertStore
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store() -> InMemoryAlertStore:
    return InMemoryAlertStore()


@pytest.fixture
def service(store: InMemoryAlertStore, clock: FakeClock) -> AlertService:
    return AlertService(store, clock)
