"""The relay: takes due outbox rows, hands each to its channel, writes down what happened.

It never sleeps. A temporary failure moves the row's ``next_attempt_at`` by an exponential
backoff with jitter and leaves it to a later :meth:`Relay.run_once`; the schedule lives in the
database, so a restart resumes it and two workstations share it. The caller (a worker thread
or a timer in the app) calls :meth:`Relay.run_once` every few seconds.

Crash safety: a row is claimed (``sending``, with a lease) before the channel is called. If
the process dies after the gateway accepted but before ``mark_sent``, the row's lease runs out,
another run claims it again and sends it with the *same* idempotency key, which a gateway that
honours the key turns into a no-op. "At least once" towards the gateway, "exactly once" to the
customer when the gateway deduplicates.

Rows are claimed one at a time, each just before it is sent: a crash holds back only the one
message in flight until its lease ends, never a batch of claimed-but-unsent rows. The attempt
is counted when the row is handed to its channel (``start_attempt``), not at the claim, so a
claim a crash cut short is not an attempt.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatcher.clock import Clock
from dispatcher.errors import ConflictError, DispatcherError, InvalidTransition
from dispatcher.messaging.channels import Channel, SendResult
from dispatcher.messaging.outbox import OutboxStore
from dispatcher.messaging.sandbox import over_channel_limit
from dispatcher.model.messaging import DEFAULT_LEASE, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, as data (readable from TOML).

    The n-th retry waits ``min(max_delay, initial * multiplier**(n-1))`` scaled by a random
    factor in ``[1 - jitter, 1 + jitter]`` (so a gateway outage does not make every
    workstation retry in lock-step). After ``max_attempts`` attempts the row fails.
    """

    max_attempts: int = 6
    initial: timedelta = timedelta(seconds=30)
    multiplier: float = 2.0
    max_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.multiplier < 1 or not 0 <= self.jitter < 1:
            raise ValueError("retry policy needs max_attempts >= 1, multiplier >= 1, jitter < 1")

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """Wait after the ``attempt``-th (1-based) failed attempt."""
        base = self.initial.total_seconds() * self.multiplier ** max(attempt - 1, 0)
        base = min(base, self.max_delay.total_seconds())
        factor = rng.uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else 1.0
        return timedelta(seconds=base * factor)


@dataclass(slots=True)
class RelayReport:
    """What one :meth:`Relay.run_once` did, for logs and the status bar."""

    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    lost_claims: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return len(self.sent) + len(self.retried) + len(self.failed)


FailedCallback = Callable[[OutboxMessage], None]


class Relay:
    """Deliver due outbox rows through the channel named by each row's ``channel``."""

    def __init__(
        self,
        store: OutboxStore,
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        worker_id: str,
        policy: RetryPolicy | None = None,
        on_failed: FailedCallback | None = None,
        lease: timedelta = DEFAULT_LEASE,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._channels = dict(channels)
        self._clock = clock
        self._worker_id = worker_id
        self._policy = policy or RetryPolicy()
        self._on_failed = on_failed
        self._lease = lease
        self._rng = rng or random.Random()

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    def run_once(
        self, limit: int = 20, should_stop: Callable[[], bool] | None = None
    ) -> RelayReport:
        """Make one attempt at each of up to ``limit`` due rows, claiming them one by one.

        ``should_stop`` is asked before each claim, so a shutdown leaves no claimed row
        behind (the rest stay ``queued`` for the next run).
        """
        report = RelayReport()
        for _ in range(max(limit, 0)):
            if should_stop is not None and should_stop():
                break
            claimed = self._store.claim_due(self._clock.now(), 1, self._worker_id, self._lease)
            if not claimed:
                break
            message = claimed[0]
            try:
                message = self._store.start_attempt(message.id or 0, self._worker_id)
                self._deliver(message, report)
            except (ConflictError, InvalidTransition) as exc:
                # Our lease ran out mid-send and another worker took the row; it will
                # resend with the same key, so there is nothing to repair here.
                log.warning("lost outbox row %s: %s", message.id, exc)
                report.lost_claims.append(message.id or 0)
        return report

    def _deliver(self, message: OutboxMessage, report: RelayReport) -> None:
        assert message.id is not None
        channel = self._channels.get(message.channel)
        too_big = over_channel_limit(
            message.channel, message.body, message.subject, message.body_html
        )
        if too_big is not None:
            result = SendResult.permanent(too_big)
        elif channel is None:
            result = SendResult.permanent(f"no channel configured for '{message.channel}'")
        else:
            result = self._attempt(channel, message)
        now = self._clock.now()
        if result.ok:
            self._store.mark_sent(message.id, now, result.provider_id, self._worker_id)
            report.sent.append(message.id)
        elif result.temporary_failure and message.attempts < self._policy.max_attempts:
            next_at = now + self._policy.delay(message.attempts, self._rng)
            self._store.mark_retry(message.id, now, next_at, result.error, self._worker_id)
            report.retried.append(message.id)
        else:
            error = result.error
            if result.temporary_failure:
                error = f"gave up after {message.attempts} attempts: {error}"
            failed = self._store.mark_failed(message.id, now, error, self._worker_id)
            report.failed.append(message.id)
            self._notify_failed(failed)

    def _attempt(self, channel: Channel, message: OutboxMessage) -> SendResult:
        try:
            return channel.send(message)
        except Exception as exc:  # a channel bug must not stop the other rows
            log.exception("channel %s raised on outbox row %s", message.channel, message.id)
            return SendResult.temporary(f"channel error: {exc}")

    def _notify_failed(self, message: OutboxMessage) -> None:
        if self._on_failed is None:
            return
        try:
            self._on_failed(message)
        except Exception:
            log.exception("on_failed callback raised for outbox row %s", message.id)

    def record_receipt(
        self, provider_id: str, delivered: bool, error: str = ""
    ) -> OutboxMessage | None:
        """Apply a delivery receipt (gateway callback, DSN) to the row it names.

        Returns the updated row, or ``None`` when no row has that provider id (a receipt
        for a message from another system) or the transition does not apply. A negative
        receipt fails the row and calls ``on_failed``, like a failed send.
        """
        row = self._store.get_by_provider_id(provider_id)
        if row is None or row.id is None:
            return None
        now = self._clock.now()
        try:
            if delivered:
                return self._store.mark_delivered(row.id, now)
            failed = self._store.mark_failed(row.id, now, error or "not delivered")
        except DispatcherError as exc:
            log.info("receipt for outbox row %s ignored: %s", row.id, exc)
            return None
        self._notify_failed(failed)
        return failed

    def next_due_in(self, now: datetime | None = None) -> timedelta | None:
        """How long until the earliest queued row is due (``None``: nothing queued).

        Lets a timer sleep until there is work instead of polling blindly; cheap on the
        in-memory store, a ``list`` on the SQL one.
        """
        queued = self._store.list(OutboxStatus.QUEUED)
        if not queued:
            return None
        now = now or self._clock.now()
        earliest = min(row.next_attempt_at for row in queued)
        return max(earliest - now, timedelta(0))
