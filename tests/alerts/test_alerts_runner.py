"""The rule runner as a core service: scripted facts, a fake clock, a memory store.

The runner must publish one AlertsChanged per evaluation that changed something, respect its
interval, stay quiet while another process holds the rules, never feed the same facts' events
twice after a failed transaction, and never let one bad tick stop the next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

import pytest
from alerts_builders import T0, minutes, snap, stop, vehicle

from dispatcher.alerts.events import AlertsChanged, ChangeSource
from dispatcher.alerts.facts import Snapshot
from dispatcher.alerts.live_facts import Facts
from dispatcher.alerts.runner import AlertRunner, RunnerSettings
from dispatcher.alerts.store import AlertStore, InMemoryAlertStore
from dispatcher.clock import FakeClock
from dispatcher.errors import ValidationError
from dispatcher.events import EventBus
from dispatcher.model.alerts import AlertKind, AlertStatus


class InlineExecutor(Executor):
    """Runs the job at submit time: the runner's logic without a thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


class ScriptedFacts:
    """Facts a test sets by hand; counts captures and commits."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.fail: Exception | None = None
        self.captured: list[datetime] = []
        self.commits = 0

    def capture(self, now: datetime) -> Callable[[], Facts]:
        self.captured.append(now)

        def build() -> Facts:
            if self.fail is not None:
                raise self.fail
            return Facts(self.snapshot, self._commit)

        return build

    def _commit(self) -> None:
        self.commits += 1


class Switch:
    def __init__(self, on: bool = True) -> None:
        self.on = on

    def may_run(self) -> bool:
        return self.on


@pytest.fixture
def events() -> list[AlertsChanged]:
    return []


@pytest.fixture
def bus(events: list[AlertsChanged]) -> EventBus:
    b = EventBus()
    b.subscribe(AlertsChanged, events.append)
    return b


def scope(store: AlertStore) -> Callable[[], AbstractContextManager[AlertStore]]:
    @contextmanager
    def open_store() -> Iterator[AlertStore]:
        yield store

    return open_store


def runner(
    clock: FakeClock,
    bus: EventBus,
    facts: ScriptedFacts,
    store: InMemoryAlertStore,
    **kw: Any,
) -> AlertRunner:
    kw.setdefault("executor", InlineExecutor())
    kw.setdefault("monotonic", clock.monotonic)
    return AlertRunner(clock, bus, facts, scope(store), **kw)


def offline() -> Snapshot:
    return snap(vehicle(online=False), stop())


def test_a_tick_raises_alerts_and_publishes_one_change_event(
    clock: FakeClock, bus: EventBus, events: list[AlertsChanged], store: InMemoryAlertStore
) -> None:
    facts = ScriptedFacts(offline())
    r = runner(clock, bus, facts, store)
    r.tick()
    [alert] = store.list_alerts()
    assert alert.kind is AlertKind.VEHICLE_OFFLINE and alert.id is not None
    assert events == [
        AlertsChanged(frozenset({alert.id}), frozenset({alert.id}), ChangeSource.RULES)
    ]
    assert facts.commits == 1 and r.runs == 1


def test_the_runner_waits_for_its_interval(
    clock: FakeClock, bus: EventBus, store: InMemoryAlertStore
) -> None:
    facts = ScriptedFacts(offline())
    r = runner(clock, bus, facts, store, settings=RunnerSettings(interval_s=5.0))
    r.tick()
    clock.advance(4.9)
    r.tick()
    assert len(facts.captured) == 1
    clock.advance(0.1)
    r.tick()
    assert facts.captured == [T0, T0 + minutes(5 / 60)]


def test_the_cause_going_away_auto_resolves_and_is_announced(
    clock: FakeClock, bus: EventBus, events: list[AlertsChanged], store: InMemoryAlertStore
) -> None:
    facts = ScriptedFacts(offline())
    r = runner(clock, bus, facts, store)
    r.tick()
    facts.snapshot = snap(vehicle(online=True, last_seen=T0 + minutes(1)), stop())
    clock.advance(60)
    r.tick()
    [alert] = store.list_alerts()
    assert alert.status is AlertStatus.RESOLVED and alert.auto_resolved
    assert events[-1].alert_ids == {alert.id} and not events[-1].raised_ids


def test_nothing_changed_means_nothing_published(
    clock: FakeClock, bus: EventBus, events: list[AlertsChanged], store: InMemoryAlertStore
) -> None:
    r = runner(clock, bus, ScriptedFacts(snap(vehicle(), stop())), store)
    r.tick()
    assert events == [] and r.runs == 1 and store.list_alerts() == []


def test_a_process_without_the_lease_does_not_evaluate(
    clock: FakeClock, bus: EventBus, store: InMemoryAlertStore
) -> None:
    facts = ScriptedFacts(offline())
    lease = Switch(on=False)
    r = runner(clock, bus, facts, store, leadership=lease)
    r.tick()
    assert facts.captured == [] and not r.active
    lease.on = True
    r.tick()
    assert len(store.list_alerts()) == 1


@pytest.mark.allow_error_logs  # the failure is provoked; it must be logged, not raised
def test_a_failing_tick_is_reported_and_the_next_one_runs(
    clock: FakeClock, bus: EventBus, store: InMemoryAlertStore, caplog: pytest.LogCaptureFixture
) -> None:
    facts = ScriptedFacts(offline())
    facts.fail = RuntimeError("database went away")
    r = runner(clock, bus, facts, store)
    r.tick()
    assert r.last_error == "RuntimeError: database went away"
    assert facts.commits == 0, "events of a failed tick must be fed again"
    assert "alert rules failed" in caplog.text
    facts.fail = None
    clock.advance(10)
    r.tick()
    assert r.last_error is None and len(store.list_alerts()) == 1


def test_a_stale_vehicle_then_offline_supersedes_stale(
    clock: FakeClock, bus: EventBus, store: InMemoryAlertStore
) -> None:
    """The silent-then-last-will story on scripted facts (the broker version is end to end)."""
    facts = ScriptedFacts(snap(vehicle(last_seen=T0), stop()))
    r = runner(clock, bus, facts, store)
    clock.advance(minutes(5).total_seconds())
    r.tick()
    assert [a.kind for a in store.list_alerts()] == [AlertKind.VEHICLE_STALE]
    facts.snapshot = snap(vehicle(last_seen=T0, online=False), stop())
    clock.advance(10)
    r.tick()
    stale, off = store.list_alerts()
    assert stale.status is AlertStatus.RESOLVED and stale.resolution_code == "superseded"
    assert off.kind is AlertKind.VEHICLE_OFFLINE and off.is_open


def test_the_default_worker_thread_runs_the_evaluation(
    clock: FakeClock, bus: EventBus, events: list[AlertsChanged], store: InMemoryAlertStore
) -> None:
    r = AlertRunner(clock, bus, ScriptedFacts(offline()), scope(store), monotonic=clock.monotonic)
    try:
        r.tick()
        assert r.busy or r.runs == 1
        while r.busy:
            r.tick()  # collects as soon as the worker is done
        assert len(events) == 1
    finally:
        r.stop()


def test_run_now_evaluates_on_the_calling_thread(
    clock: FakeClock, bus: EventBus, store: InMemoryAlertStore
) -> None:
    outcome = runner(clock, bus, ScriptedFacts(offline()), store).run_now()
    assert outcome.conditions == 1 and len(outcome.raised) == 1


def test_settings_read_the_alerts_section_and_refuse_typos() -> None:
    s = RunnerSettings.from_mapping(
        {"interval_s": 2, "stale_after_min": 3, "reopen_window_min": 10}
    )
    assert (s.interval_s, s.thresholds.stale_after_min) == (2.0, 3)
    assert s.reconcile.reopen_window_min == 10
    with pytest.raises(ValidationError, match=r"\[fleet\] timezone"):
        RunnerSettings.from_mapping({"timezone": "UTC"})  # one zone for the fleet, not per room
    with pytest.raises(ValidationError, match="stale_afer_min"):
        RunnerSettings.from_mapping({"stale_afer_min": 3})
    with pytest.raises(ValidationError, match="interval_s"):
        RunnerSettings.from_mapping({"interval_s": 0})
