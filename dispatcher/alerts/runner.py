"""The rule runner: a core service that turns the live situation into alerts every few seconds.

On the thread that calls :meth:`AlertRunner.tick` (the GUI thread in the console, the loop of
``dispatcher serve``) it only does cheap things: collect the result of the last evaluation and
publish one :class:`~dispatcher.alerts.events.AlertsChanged` on the bus, and, when due and
allowed (see :class:`Leadership`), copy the facts that live on that thread and hand the rest
to its worker thread. The worker reads the database, predicts arrivals, runs the
:class:`~dispatcher.alerts.engine.RuleEngine`, wakes snoozed alerts and reconciles. At most
one evaluation is in flight: a slow database makes the runner skip ticks, never pile them up.

The reconciliation is committed in chunks of about :data:`CHUNK_WRITES` rows when the store
can (:class:`~dispatcher.alerts.store.ChunkedStore`, the SQL store): at 500 vehicles one
transaction of 942 alerts held SQLite's only write lock for ~10 s, and the recorder, the
sender and the desk's saves waited or failed with "database is locked". Each chunk holds
whole alerts with their audit lines; what a failed run had committed is still announced,
and the next run carries on from what is stored without raising or counting anything twice
(:mod:`dispatcher.alerts.reconcile`, "Chunks").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from dispatcher.alerts.engine import RuleEngine
from dispatcher.alerts.events import AlertsChanged, ChangeSource
from dispatcher.alerts.live_facts import Facts, FactsSource
from dispatcher.alerts.reconcile import Checkpoint, ReconcileResult
from dispatcher.alerts.store import AlertStore, ChunkedStore
from dispatcher.alerts.thresholds import ReconcileSettings, Thresholds
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import Clock, system_monotonic
from dispatcher.errors import ValidationError
from dispatcher.events import EventBus
from dispatcher.fleet_settings import machine_zone_name
from dispatcher.model.alerts import Alert

log = logging.getLogger(__name__)

#: Alert and audit rows per committed chunk of a reconciliation (about 50 alerts raised):
#: SQLite's write lock is held some tenths of a second at a time, not the whole run.
CHUNK_WRITES = 100

StoreScope = Callable[[], AbstractContextManager[AlertStore]]
"""Opens one unit of work over the alerts (commit on success), e.g. ``alert_store(db)``."""


class Leadership(Protocol):
    """Says whether this process is the one that raises alerts (see :mod:`.sync`)."""

    def may_run(self) -> bool:
        """True when this process should evaluate the rules now."""
        ...


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """The ``[alerts]`` section of the configuration.

    Attributes:
        interval_s: Wall seconds between two evaluations. 5 s keeps the queue within a few
            seconds of the fleet while costing a fraction of a core for a few hundred stops.
        timezone: Zone of the service day (local midnight is the planner's time origin): the
            fleet's, ``[fleet] timezone``, filled in by the wiring; not a key of ``[alerts]``.
        thresholds: The rules' numbers (the other keys of the section).
        reconcile: Re-open window and refresh interval.
    """

    interval_s: float = 5.0
    timezone: str = field(default_factory=machine_zone_name)
    thresholds: Thresholds = field(default_factory=Thresholds)
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RunnerSettings:
        """Read ``[alerts]``: ``interval_s``, ``reopen_window_min``,
        ``refresh_interval_s`` and every threshold; unknown keys are refused."""
        rest = dict(values)
        interval = rest.pop("interval_s", 5.0)
        if "timezone" in rest:
            raise ValidationError("alerts.timezone: the zone is one setting now, [fleet] timezone")
        reconcile = {
            k: rest.pop(k) for k in ("reopen_window_min", "refresh_interval_s") if k in rest
        }
        if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
            raise ValidationError(f"alerts.interval_s must be a positive number, got {interval!r}")
        try:
            return cls(
                float(interval),
                machine_zone_name(),
                Thresholds.from_mapping(rest),
                ReconcileSettings(**reconcile),
            )
        except TypeError as exc:
            raise ValidationError(f"alerts: {exc}") from None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What one evaluation changed (ids of alerts), and how many conflicts it met."""

    changed: frozenset[int] = frozenset()
    raised: frozenset[int] = frozenset()
    conflicts: int = 0
    conditions: int = 0


class PartialRun(Exception):
    """An evaluation failed after some of its chunks were committed: ``outcome`` is what
    they changed (announced all the same), ``__cause__`` the failure."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__("alert rules: failed after a committed part")
        self.outcome = outcome


class AlertRunner:
    """Evaluate the rules every ``interval_s`` and keep the alert store in line.

    Args:
        clock: The house clock ("now" of the rules).
        bus: Where :class:`AlertsChanged` is published (from :meth:`tick` only).
        facts: Captures the facts (see :class:`~dispatcher.alerts.live_facts.LiveFacts`).
        store_scope: Opens a unit of work over the alert store (SQL: ``alert_store(db)``).
        settings: Interval, thresholds, reconciliation settings.
        leadership: Who may run when several consoles share a database; None: always.
        monotonic: Wall-clock seconds for the interval (tests pass a fake).
        executor: Where evaluations run; a one-thread pool by default.
        chunk_writes: Rows written per committed chunk (see the module docstring).
    """

    name = "alert rules"

    def __init__(
        self,
        clock: Clock,
        bus: EventBus,
        facts: FactsSource,
        store_scope: StoreScope,
        *,
        settings: RunnerSettings | None = None,
        leadership: Leadership | None = None,
        monotonic: Callable[[], float] = system_monotonic,
        executor: Executor | None = None,
        chunk_writes: int = CHUNK_WRITES,
    ) -> None:
        self._clock = clock
        self._bus = bus
        self._facts = facts
        self._store_scope = store_scope
        self.chunk_writes = chunk_writes
        self.settings = settings or RunnerSettings()
        self._engine = RuleEngine(clock, self.settings.thresholds)
        self._leadership = leadership
        self._monotonic = monotonic
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="alert-rules")
        self._future: Future[RunOutcome] | None = None
        self._next_due = float("-inf")
        self.last_outcome: RunOutcome | None = None
        self.last_error: str | None = None
        self.runs = 0
        #: Whether this process ran the rules at the last tick (its changes are logged).
        self._was_active: bool | None = None

    @property
    def active(self) -> bool:
        """True when this process is the one evaluating the rules."""
        return self._leadership is None or self._leadership.may_run()

    @property
    def busy(self) -> bool:
        return self._future is not None

    def tick(self) -> None:
        """Publish what the last evaluation changed; start the next one when it is due."""
        self._collect()
        active = self.active
        if active != self._was_active:
            if active:
                log.info("alert rules: this process runs them now")
            elif self._was_active:
                log.info("alert rules: another process runs them now")
            self._was_active = active
        if self._future is not None or not active:
            return
        mono = self._monotonic()
        if mono < self._next_due:
            return
        self._next_due = mono + self.settings.interval_s
        job = self._facts.capture(self._clock.now())
        self._future = self._executor.submit(self._evaluate, job)
        self._collect()  # an inline executor has already finished

    def run_now(self) -> RunOutcome:
        """Evaluate at once on the calling thread and publish (tests, ``alerts --check``)."""
        outcome = self._evaluate(self._facts.capture(self._clock.now()))
        self._publish(outcome)
        return outcome

    def stop(self) -> None:
        """Wait for the evaluation in flight (it is one transaction) and release the thread."""
        if self._own_executor:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._future = None

    # -- internals -----------------------------------------------------------------------

    def _collect(self) -> None:
        future = self._future
        if future is None or not future.done():
            return
        self._future = None
        try:
            outcome = future.result()
        except Exception as exc:  # logged, shown in the status; the next tick tries again
            cause = exc
            if isinstance(exc, PartialRun):  # its committed chunks are in the queue: say so
                self._publish(exc.outcome)
                cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
            self.last_error = f"{type(cause).__name__}: {cause}"
            log.error("alert rules failed: %s", self.last_error, exc_info=cause)
            return
        self._publish(outcome)

    def _publish(self, outcome: RunOutcome) -> None:
        self.last_outcome = outcome
        self.last_error = None
        self.runs += 1
        if outcome.changed:
            self._bus.publish(AlertsChanged(outcome.changed, outcome.raised, ChangeSource.RULES))

    def _evaluate(self, job: Callable[[], Facts]) -> RunOutcome:
        """The worker's part: facts, rules, snoozes, reconciliation, committed in chunks."""
        facts = job()
        conditions = self._engine.evaluate(facts.snapshot)
        committed: list[RunOutcome] = []  # what the chunks committed so far
        woken: list[Alert] = []
        try:
            with self._store_scope() as store:
                service = AlertService(store, self._clock, self.settings.reconcile)
                woken = service.wake_due()
                checkpoint = self._checkpoint(store, woken, committed)
                result = service.reconcile(conditions, self._engine.healthy_kinds, checkpoint)
        except Exception as exc:
            if committed:
                raise PartialRun(committed[-1]) from exc
            raise
        facts.committed()
        if result.conflicts:
            log.info("alert rules: %d conflict(s) with another writer", len(result.conflicts))
        return _outcome(woken, result, len(conditions))

    def _checkpoint(
        self, store: AlertStore, woken: list[Alert], committed: list[RunOutcome]
    ) -> Checkpoint | None:
        """Commit every :attr:`chunk_writes` rows, if ``store`` can (module docstring)."""
        if not isinstance(store, ChunkedStore):
            return None
        chunked = store
        since = [chunked.writes]

        def checkpoint(result: ReconcileResult) -> None:
            if chunked.writes - since[0] < self.chunk_writes:
                return
            chunked.commit()
            since[0] = chunked.writes
            committed.append(_outcome(woken, result, 0))

        return checkpoint


def _outcome(woken: list[Alert], result: ReconcileResult, conditions: int) -> RunOutcome:
    changed = {a.id for a in [*woken, *result.changed] if a.id is not None}
    raised = {a.id for a in [*result.raised, *result.reopened] if a.id is not None}
    return RunOutcome(frozenset(changed), frozenset(raised), len(result.conflicts), conditions)
