"""The outbox: every message is a row before it is a send.

Writing the row first (in the same transaction as the dispatcher's action) is what makes the
guarantees possible: a double click finds the row by its idempotency key and adds nothing, a
crash leaves the row to be picked up again, and a failing gateway only moves the row's
``next_attempt_at``. The relay (:mod:`dispatcher.messaging.relay`) is the only writer after
``enqueue``.

:class:`OutboxStore` is the storage seam. :class:`InMemoryOutboxStore` is the reference
implementation used by the tests; the SQLAlchemy one in ``dispatcher.persistence`` must pass
the same contract (``tests/messaging/store_contract.py``).

State machine::

    queued --claim--> sending (--start_attempt-->) --mark_sent--> sent --mark_delivered--> delivered
      ^  |              |  |                   |
      |  cancel         |  +--mark_failed--+   +--mark_failed (negative receipt)--> failed
      |  v              |                  v
      | cancelled       +--mark_retry--> queued (attempts kept, next_attempt_at later)
      +-- a "sending" row whose claim is older than the lease is claimable again (crash)
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote

from dispatcher.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from dispatcher.model.messaging import DEFAULT_LEASE, OutboxMessage, OutboxStatus

#: Width of the ETA bucket in idempotency keys: two clicks for ETAs in the same 10 minutes
#: are one message; a fresh ETA in another bucket is news worth a new message.
ETA_BUCKET = timedelta(minutes=10)
MAX_KEY_LENGTH = 200


def idempotency_key(
    situation: str,
    stop_ref: str | None,
    channel: str,
    template_id: str,
    template_version: int,
    *,
    eta: datetime | None = None,
    discriminator: str = "",
) -> str:
    """Build the key that makes one message out of many clicks.

    The key is ``situation + stop + channel + template id@version + ETA bucket`` and, for
    messages whose content is the point (free text, a new window), a short hash of
    ``discriminator``. ASCII only and at most 200 characters, so it can travel in an HTTP
    header and fit the unique column.

    A limit worth knowing: ETAs on either side of a bucket edge (10:09 and 10:11) are two
    messages. That is the price of a key that needs no look-up of earlier messages.
    """
    bucket = "-"
    if eta is not None:
        bucket = str(int(eta.timestamp() // ETA_BUCKET.total_seconds()))
    parts = [situation, stop_ref or "-", channel, f"{template_id}@{template_version}", bucket]
    if discriminator:
        parts.append(hashlib.sha256(discriminator.encode()).hexdigest()[:16])
    key = ":".join(quote(part, safe="@/-_.") for part in parts)
    if len(key) > MAX_KEY_LENGTH:
        digest = hashlib.sha256(key.encode()).hexdigest()
        key = f"{key[: MAX_KEY_LENGTH - 66]}~{digest}"
    return key


class OutboxStore(Protocol):
    """Durable storage of outbox rows. Every method is atomic; ``now`` is passed in.

    The store never reads a clock: the relay and the composer pass ``now`` from the injected
    :class:`~dispatcher.clock.Clock`, so the SQL store and the in-memory store agree under a
    fake clock. Returned rows are snapshots (frozen dataclasses), never live ORM objects.
    """

    def enqueue(self, message: OutboxMessage) -> tuple[OutboxMessage, bool]:
        """Save a new row, or find the row that already has its idempotency key.

        Returns ``(row, created)``. ``message.id`` is ignored; a new row gets a fresh id,
        ``status=queued``, ``attempts=0`` and the rest of ``message`` as given.
        When a row with ``message.idempotency_key`` exists:

        * in any status but ``cancelled``: it is returned unchanged, ``created=False``
          (a double click, or a second workstation clicking, gives one row);
        * ``cancelled`` (undone, then clicked again): that row is re-queued in place with
          the new message's content, ``not_before``/``next_attempt_at``, ``created_by`` and
          ``created_at``; attempts, errors, claim and provider id are reset;
          ``created=True``.

        Must be safe against two concurrent enqueues of the same key (unique constraint;
        the loser reads and returns the winner's row).
        """
        ...

    def get(self, message_id: int) -> OutboxMessage | None:
        """The row with this id, or ``None``."""
        ...

    def get_by_key(self, key: str) -> OutboxMessage | None:
        """The row with this idempotency key, or ``None``."""
        ...

    def get_by_provider_id(self, provider_id: str) -> OutboxMessage | None:
        """The row whose ``provider_id`` is this non-empty value (delivery receipts)."""
        ...

    def claim_due(
        self, now: datetime, limit: int, worker_id: str, lease: timedelta = DEFAULT_LEASE
    ) -> list[OutboxMessage]:
        """Atomically take up to ``limit`` rows that are due, for ``worker_id``.

        Due means ``status=queued and next_attempt_at <= now``, or ``status=sending and
        claimed_at <= now - lease`` (the worker that claimed it died). Oldest
        ``next_attempt_at`` first, then lowest id. Each claimed row gets ``status=sending``,
        ``claimed_by=worker_id``, ``claimed_at=now`` (``attempts`` unchanged: see
        :meth:`start_attempt`); the updated rows are returned. Two workers calling at once
        never get the same row (PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite:
        one writer at a time).
        ``limit <= 0`` claims nothing.
        """
        ...

    def start_attempt(self, message_id: int, worker_id: str) -> OutboxMessage:
        """``attempts += 1`` on a row ``worker_id`` holds, right before its channel is called.

        Raises:
            NotFoundError, ConflictError (other worker), InvalidTransition (not sending).
        """
        ...

    def mark_sent(
        self, message_id: int, now: datetime, provider_id: str, worker_id: str
    ) -> OutboxMessage:
        """``sending`` -> ``sent``: ``sent_at=now``, ``provider_id``, claim cleared,
        ``last_error`` cleared.

        Raises:
            NotFoundError: no such row.
            ConflictError: the row is ``sending`` but claimed by another worker (our lease
                ran out and someone took it over).
            InvalidTransition: the row is not ``sending``.
        """
        ...

    def mark_delivered(self, message_id: int, now: datetime) -> OutboxMessage:
        """A positive receipt: any status but ``cancelled`` -> ``delivered``.

        ``delivered_at`` is set the first time only (a repeated receipt changes nothing);
        ``sent_at`` is set to ``now`` if it was empty; the claim is cleared. A receipt
        wins over our own view (a timed-out send that did arrive, a row queued for retry).

        Raises:
            NotFoundError, InvalidTransition (``cancelled``).
        """
        ...

    def mark_retry(
        self, message_id: int, now: datetime, next_at: datetime, error: str, worker_id: str
    ) -> OutboxMessage:
        """``sending`` -> ``queued`` with ``next_attempt_at=next_at``, ``last_error=error``,
        claim cleared; ``attempts`` unchanged.

        Raises:
            NotFoundError, ConflictError (other worker), InvalidTransition (not sending).
        """
        ...

    def mark_failed(
        self, message_id: int, now: datetime, error: str, worker_id: str | None = None
    ) -> OutboxMessage:
        """Give up: -> ``failed`` with ``last_error=error``, claim cleared.

        With ``worker_id`` (the relay): the row must be ``sending`` and claimed by it.
        Without (a negative delivery receipt): allowed from ``sent`` or ``sending``;
        a ``failed`` row stays failed (error updated).

        Raises:
            NotFoundError, ConflictError, InvalidTransition.
        """
        ...

    def cancel(self, message_id: int, now: datetime) -> bool:
        """Undo: ``queued`` -> ``cancelled`` and ``True``; any other status: ``False``
        and nothing changes (it has already left, or is leaving right now).

        Raises:
            NotFoundError: no such row.
        """
        ...

    def list(
        self, status: OutboxStatus | None = None, limit: int | None = None
    ) -> list[OutboxMessage]:
        """Rows (all, or of one status) newest id first, at most ``limit``."""
        ...


class InMemoryOutboxStore:
    """A thread-safe :class:`OutboxStore` in a dict: the tests' store and the reference."""

    def __init__(self) -> None:
        self._rows: dict[int, OutboxMessage] = {}
        self._by_key: dict[str, int] = {}
        self._next_id = 1
        self._lock = threading.Lock()

    def enqueue(self, message: OutboxMessage) -> tuple[OutboxMessage, bool]:
        if not message.idempotency_key:
            raise ValidationError("an outbox message needs an idempotency key")
        with self._lock:
            existing_id = self._by_key.get(message.idempotency_key)
            if existing_id is not None:
                existing = self._rows[existing_id]
                if existing.status is not OutboxStatus.CANCELLED:
                    return existing, False
                row = _fresh(message, existing_id)
            else:
                row = _fresh(message, self._next_id)
                self._next_id += 1
            self._rows[row.id or 0] = row
            self._by_key[row.idempotency_key] = row.id or 0
            return row, True

    def get(self, message_id: int) -> OutboxMessage | None:
        with self._lock:
            return self._rows.get(message_id)

    def get_by_key(self, key: str) -> OutboxMessage | None:
        with self._lock:
            found = self._by_key.get(key)
            return None if found is None else self._rows[found]

    def get_by_provider_id(self, provider_id: str) -> OutboxMessage | None:
        if not provider_id:
            return None
        with self._lock:
            return next((r for r in self._rows.values() if r.provider_id == provider_id), None)

    def claim_due(
        self, now: datetime, limit: int, worker_id: str, lease: timedelta = DEFAULT_LEASE
    ) -> list[OutboxMessage]:
        with self._lock:
            due = sorted(
                (r for r in self._rows.values() if _is_due(r, now, lease)),
                key=lambda r: (r.next_attempt_at, r.id or 0),
            )[: max(limit, 0)]
            claimed = []
            for row in due:
                new = replace(
                    row,
                    status=OutboxStatus.SENDING,
                    claimed_by=worker_id,
                    claimed_at=now,
                )
                self._rows[row.id or 0] = new
                claimed.append(new)
            return claimed

    def start_attempt(self, message_id: int, worker_id: str) -> OutboxMessage:
        with self._lock:
            row = self._owned(message_id, worker_id)
            return self._put(replace(row, attempts=row.attempts + 1))

    def mark_sent(
        self, message_id: int, now: datetime, provider_id: str, worker_id: str
    ) -> OutboxMessage:
        with self._lock:
            row = self._owned(message_id, worker_id)
            return self._put(
                replace(
                    row,
                    status=OutboxStatus.SENT,
                    sent_at=now,
                    provider_id=provider_id,
                    last_error="",
                    claimed_by=None,
                    claimed_at=None,
                )
            )

    def mark_delivered(self, message_id: int, now: datetime) -> OutboxMessage:
        with self._lock:
            row = self._row(message_id)
            if row.status is OutboxStatus.CANCELLED:
                raise InvalidTransition(f"outbox message {message_id} was cancelled")
            return self._put(
                replace(
                    row,
                    status=OutboxStatus.DELIVERED,
                    delivered_at=row.delivered_at or now,
                    sent_at=row.sent_at or now,
                    claimed_by=None,
                    claimed_at=None,
                )
            )

    def mark_retry(
        self, message_id: int, now: datetime, next_at: datetime, error: str, worker_id: str
    ) -> OutboxMessage:
        with self._lock:
            row = self._owned(message_id, worker_id)
            return self._put(
                replace(
                    row,
                    status=OutboxStatus.QUEUED,
                    next_attempt_at=next_at,
                    last_error=error,
                    claimed_by=None,
                    claimed_at=None,
                )
            )

    def mark_failed(
        self, message_id: int, now: datetime, error: str, worker_id: str | None = None
    ) -> OutboxMessage:
        with self._lock:
            if worker_id is not None:
                row = self._owned(message_id, worker_id)
            else:
                row = self._row(message_id)
                allowed = (OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.FAILED)
                if row.status not in allowed:
                    raise InvalidTransition(
                        f"outbox message {message_id} is {row.status}, it cannot fail now"
                    )
            return self._put(
                replace(
                    row,
                    status=OutboxStatus.FAILED,
                    last_error=error,
                    claimed_by=None,
                    claimed_at=None,
                )
            )

    def cancel(self, message_id: int, now: datetime) -> bool:
        with self._lock:
            row = self._row(message_id)
            if row.status is not OutboxStatus.QUEUED:
                return False
            self._put(replace(row, status=OutboxStatus.CANCELLED))
            return True

    def list(
        self, status: OutboxStatus | None = None, limit: int | None = None
    ) -> list[OutboxMessage]:
        with self._lock:
            rows = [r for r in self._rows.values() if status is None or r.status is status]
        rows.sort(key=lambda r: r.id or 0, reverse=True)
        return rows if limit is None else rows[: max(limit, 0)]

    def _row(self, message_id: int) -> OutboxMessage:
        row = self._rows.get(message_id)
        if row is None:
            raise NotFoundError(f"outbox message {message_id} does not exist")
        return row

    def _owned(self, message_id: int, worker_id: str) -> OutboxMessage:
        row = self._row(message_id)
        if row.status is not OutboxStatus.SENDING:
            raise InvalidTransition(f"outbox message {message_id} is {row.status}, not sending")
        if row.claimed_by != worker_id:
            raise ConflictError(
                f"outbox message {message_id} is now handled by {row.claimed_by}, not {worker_id}"
            )
        return row

    def _put(self, row: OutboxMessage) -> OutboxMessage:
        self._rows[row.id or 0] = row
        return row


def _is_due(row: OutboxMessage, now: datetime, lease: timedelta) -> bool:
    if row.status is OutboxStatus.QUEUED:
        return row.next_attempt_at <= now
    if row.status is OutboxStatus.SENDING:
        return row.claimed_at is not None and row.claimed_at <= now - lease
    return False


def _fresh(message: OutboxMessage, message_id: int) -> OutboxMessage:
    return replace(
        message,
        id=message_id,
        status=OutboxStatus.QUEUED,
        attempts=0,
        last_error="",
        provider_id="",
        claimed_by=None,
        claimed_at=None,
        sent_at=None,
        delivered_at=None,
    )
