"""Device bindings: explicit, never automatic; unknown devices are listed, logged sparingly."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from dispatcher.clock import FakeClock
from dispatcher.telemetry.bindings import DeviceBindings, device_key


def test_bind_resolve_unbind() -> None:
    b = DeviceBindings(clock=FakeClock())
    key = device_key("owntracks", "eric/phone")
    assert b.resolve(key) is None
    b.bind(key, "VAN-1")
    assert b.resolve(key) == "VAN-1" and key in b and len(b) == 1
    b.unbind(key)
    assert b.resolve(key) is None


def test_binding_a_device_removes_it_from_the_unknown_list() -> None:
    b = DeviceBindings(clock=FakeClock())
    b.resolve("traccar:1")
    assert [u.key for u in b.unknown_devices()] == ["traccar:1"]
    b.replace({"traccar:1": "VAN-2"})
    assert b.unknown_devices() == []
    assert b.resolve("traccar:1") == "VAN-2"


def test_unknown_device_warning_is_rate_limited_the_reload_request_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(datetime(2026, 11, 20, tzinfo=UTC))
    calls: list[str] = []
    b = DeviceBindings(clock=clock, on_unknown=calls.append, log_interval_s=60)
    with caplog.at_level(logging.WARNING, logger="dispatcher.telemetry.bindings"):
        for _ in range(10):
            b.resolve("owntracks:x/y")
        clock.advance(61)
        b.resolve("owntracks:x/y")
    assert calls == ["owntracks:x/y"] * 11, "each message asks for a reload (coalesced)"
    assert len(caplog.records) == 2
    assert b.unknown_devices()[0].messages == 11


def test_the_unknown_list_is_bounded() -> None:
    b = DeviceBindings(clock=FakeClock(), max_unknown=3)
    for i in range(10):
        b.resolve(f"ha:{i}")
    assert [u.key for u in b.unknown_devices()] == ["ha:7", "ha:8", "ha:9"]


@pytest.mark.allow_error_logs  # the failure is provoked; it must be logged, not raised
def test_a_failing_callback_does_not_break_ingest() -> None:
    def boom(key: str) -> None:
        raise RuntimeError(key)

    b = DeviceBindings(clock=FakeClock(), on_unknown=boom)
    assert b.resolve("ha:1") is None


def test_a_device_bound_in_the_database_is_taken_from_its_next_message(
    sqlite_url: str,
) -> None:
    """Not at the next periodic reload: the unknown device's next message asks for one."""
    import threading

    from dispatcher.live import BindingsRefresher
    from dispatcher.persistence import fleet_repo
    from dispatcher.persistence.database import Database
    from dispatcher.persistence.orm import Vehicle

    db = Database(sqlite_url)
    with db.session() as s:
        s.add(Vehicle(id="VAN-1", name="Van 1"))
    reloads = threading.Semaphore(0)

    class Counting(DeviceBindings):
        def replace(self, *args: Any, **kwargs: Any) -> None:
            super().replace(*args, **kwargs)
            reloads.release()

    refresher: BindingsRefresher | None = None

    def on_unknown(key: str) -> None:
        if refresher is not None:
            refresher.request(key)

    b = Counting(clock=FakeClock(), on_unknown=on_unknown)
    refresher = BindingsRefresher(db, b, interval_s=3600, min_gap_s=0)
    refresher.start()
    try:
        assert b.resolve("owntracks:eric/phone") is None
        assert reloads.acquire(timeout=10)
        with db.session() as s:
            fleet_repo.bind_device(s, "owntracks:eric/phone", "VAN-1")
        assert b.resolve("owntracks:eric/phone") is None  # this one asks for the reload
        assert reloads.acquire(timeout=10), "reloaded at once, not after 3600 s"
        assert b.resolve("owntracks:eric/phone") == "VAN-1"
    finally:
        refresher.stop()
        db.dispose()
