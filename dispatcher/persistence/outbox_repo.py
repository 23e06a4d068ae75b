"""The outbox in SQL: :class:`SqlOutboxStore` implements the messaging room's ``OutboxStore``.

Every transition is one conditional ``UPDATE ... WHERE id = ? AND status = ? [AND claimed_by
= ?] RETURNING *``: the database, not a Python read followed by a write, decides whether the
step is allowed, so two workstations (or two relay threads) can never both win. When the
update touches nothing, a second read says why (no row, wrong status, someone else's claim),
which is what turns into the right :mod:`dispatcher.errors` exception.

Claiming is where the backends differ. PostgreSQL locks the due rows with ``SELECT ... FOR
UPDATE SKIP LOCKED`` and then updates exactly those, so concurrent relays take disjoint rows
without waiting on each other. SQLite has one writer at a time, so its claim is a single
``UPDATE ... WHERE id IN (SELECT ... LIMIT n)``: the statement is the write transaction, and a
second claimer waits for the first (busy timeout) and then sees its rows as taken.

The store never reads a clock: ``now`` comes from the caller, as in the in-memory store.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, String, Table, and_, func, literal, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatcher.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from dispatcher.model.messaging import DEFAULT_LEASE, OutboxMessage, OutboxStatus
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import OutboxRow, UtcDateTime

_T: Table = OutboxRow.__table__  # type: ignore[assignment]  # SA types it as a FromClause
_C = _T.c

#: Message fields written by ``enqueue`` (the rest is the store's own bookkeeping).
_CONTENT_FIELDS = (
    "idempotency_key",
    "customer_id",
    "stop_ref",
    "situation",
    "template_id",
    "template_version",
    "channel",
    "address",
    "subject",
    "body",
    "body_html",
    "not_before",
    "next_attempt_at",
    "created_by",
    "created_at",
)

#: A fresh (or re-queued) row starts from these, whatever the message carried.
_FRESH_STATE: dict[str, Any] = {
    "status": OutboxStatus.QUEUED.value,
    "attempts": 0,
    "last_error": "",
    "provider_id": "",
    "claimed_by": None,
    "claimed_at": None,
    "sent_at": None,
    "delivered_at": None,
}

_NO_CLAIM: dict[str, Any] = {"claimed_by": None, "claimed_at": None}

#: How often ``enqueue`` re-reads after losing a race before it gives up (a third round
#: would need three other writers to win one key in the same instant).
_ENQUEUE_ROUNDS = 3


class SqlOutboxStore:
    """:class:`~dispatcher.messaging.outbox.OutboxStore` over ``outbox_messages``.

    One method call is one unit of work (:meth:`Database.session`); rows come back as frozen
    :class:`OutboxMessage` snapshots, never ORM objects, so callers on other threads cannot
    trip over a closed session.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- writing a row -------------------------------------------------------------------

    def enqueue(self, message: OutboxMessage) -> tuple[OutboxMessage, bool]:
        """Insert the row, or return / re-queue the row holding its key (see the Protocol).

        Two workstations enqueueing one key at once both try the insert; the unique
        constraint lets one through, and the other reads and returns the winner's row.
        """
        values = _content(message)
        for _ in range(_ENQUEUE_ROUNDS):
            with self._db.session() as session:
                existing = _select_one(session, _C.idempotency_key == message.idempotency_key)
                if existing is not None and existing.status is not OutboxStatus.CANCELLED:
                    return existing, False
                if existing is not None:
                    requeued = _update_one(
                        session,
                        _C.id == existing.id,
                        _C.status == OutboxStatus.CANCELLED.value,
                        values={**values, **_FRESH_STATE},
                    )
                    if requeued is not None:
                        return requeued, True
                    continue  # someone re-queued or changed it meanwhile: look again
            try:
                return self._insert(values), True
            except IntegrityError:
                if self.get_by_key(message.idempotency_key) is None:
                    # Not a lost race: a constraint other than the key (customer_id).
                    raise ValidationError(
                        f"outbox message for customer {message.customer_id} refers to a "
                        "customer that does not exist"
                    ) from None
        found = self.get_by_key(message.idempotency_key)
        if found is None:  # pragma: no cover - needs a delete between our reads
            raise ConflictError(f"outbox key {message.idempotency_key} keeps changing; retry")
        return found, False

    def _insert(self, values: Mapping[str, Any]) -> OutboxMessage:
        with self._db.session() as session:
            stmt = _T.insert().values({**values, **_FRESH_STATE, "version": 1})
            row = session.execute(stmt.returning(*_C)).mappings().one()
            return _snapshot(row)

    # -- reading -------------------------------------------------------------------------

    def get(self, message_id: int) -> OutboxMessage | None:
        with self._db.session() as session:
            return _select_one(session, _C.id == message_id)

    def get_by_key(self, key: str) -> OutboxMessage | None:
        with self._db.session() as session:
            return _select_one(session, _C.idempotency_key == key)

    def get_by_provider_id(self, provider_id: str) -> OutboxMessage | None:
        if not provider_id:
            return None
        with self._db.session() as session:
            stmt = select(_T).where(_C.provider_id == provider_id).order_by(_C.id.desc())
            row = session.execute(stmt.limit(1)).mappings().first()
            return None if row is None else _snapshot(row)

    # -- the relay's transitions -----------------------------------------------------------

    def claim_due(
        self, now: datetime, limit: int, worker_id: str, lease: timedelta = DEFAULT_LEASE
    ) -> builtins.list[OutboxMessage]:
        """Take up to ``limit`` due rows for ``worker_id`` (disjoint across workers)."""
        if limit <= 0:
            return []
        _check_aware(now, "now")
        _check_length("claimed_by", worker_id)
        claim: dict[str, Any] = {
            "status": OutboxStatus.SENDING.value,
            "claimed_by": worker_id,
            "claimed_at": now,
            "version": _C.version + 1,
        }
        due = select(_C.id).where(_due(now, lease)).order_by(_C.next_attempt_at, _C.id).limit(limit)
        with self._db.session() as session:
            if self._db.backend == "postgresql":
                ids = builtins.list(session.scalars(due.with_for_update(skip_locked=True)))
                if not ids:
                    return []
                target: ColumnElement[bool] = _C.id.in_(ids)
            else:
                # One statement = one write transaction on SQLite: claimers serialize.
                target = _C.id.in_(due.scalar_subquery())
            stmt = sql_update(_T).where(target).values(claim).returning(*_C)
            rows = [_snapshot(r) for r in session.execute(stmt).mappings()]
        rows.sort(key=lambda r: (r.next_attempt_at, r.id or 0))
        return rows

    def start_attempt(self, message_id: int, worker_id: str) -> OutboxMessage:
        return self._owned_step(message_id, worker_id, {"attempts": _C.attempts + 1})

    def mark_sent(
        self, message_id: int, now: datetime, provider_id: str, worker_id: str
    ) -> OutboxMessage:
        _check_aware(now, "now")
        _check_length("provider_id", provider_id)
        values = {
            "status": OutboxStatus.SENT.value,
            "sent_at": now,
            "provider_id": provider_id,
            "last_error": "",
            **_NO_CLAIM,
        }
        return self._owned_step(message_id, worker_id, values)

    def mark_retry(
        self, message_id: int, now: datetime, next_at: datetime, error: str, worker_id: str
    ) -> OutboxMessage:
        _check_aware(next_at, "next_at")
        values = {
            "status": OutboxStatus.QUEUED.value,
            "next_attempt_at": next_at,
            "last_error": error,
            **_NO_CLAIM,
        }
        return self._owned_step(message_id, worker_id, values)

    def mark_failed(
        self, message_id: int, now: datetime, error: str, worker_id: str | None = None
    ) -> OutboxMessage:
        values = {"status": OutboxStatus.FAILED.value, "last_error": error, **_NO_CLAIM}
        if worker_id is not None:
            return self._owned_step(message_id, worker_id, values)
        allowed = (OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.FAILED)
        with self._db.session() as session:
            row = _update_one(
                session, _C.id == message_id, _C.status.in_([s.value for s in allowed]), values
            )
            if row is not None:
                return row
            current = _require(session, message_id)
        raise InvalidTransition(
            f"outbox message {message_id} is {current.status}, it cannot fail now"
        )

    def mark_delivered(self, message_id: int, now: datetime) -> OutboxMessage:
        _check_aware(now, "now")
        stamp = literal(now, UtcDateTime())
        values = {
            "status": OutboxStatus.DELIVERED.value,
            "delivered_at": func.coalesce(_C.delivered_at, stamp),
            "sent_at": func.coalesce(_C.sent_at, stamp),
            **_NO_CLAIM,
        }
        with self._db.session() as session:
            row = _update_one(
                session, _C.id == message_id, _C.status != OutboxStatus.CANCELLED.value, values
            )
            if row is not None:
                return row
            _require(session, message_id)
        raise InvalidTransition(f"outbox message {message_id} was cancelled")

    def cancel(self, message_id: int, now: datetime) -> bool:
        values = {"status": OutboxStatus.CANCELLED.value}
        with self._db.session() as session:
            row = _update_one(
                session, _C.id == message_id, _C.status == OutboxStatus.QUEUED.value, values
            )
            if row is None:
                _require(session, message_id)
            return row is not None

    def _owned_step(
        self, message_id: int, worker_id: str, values: Mapping[str, Any]
    ) -> OutboxMessage:
        """A step only the claiming worker may take: ``sending`` and ``claimed_by`` it."""
        with self._db.session() as session:
            row = _update_one(
                session,
                _C.id == message_id,
                and_(_C.status == OutboxStatus.SENDING.value, _C.claimed_by == worker_id),
                values,
            )
            if row is not None:
                return row
            current = _require(session, message_id)
        if current.status is not OutboxStatus.SENDING:
            raise InvalidTransition(f"outbox message {message_id} is {current.status}, not sending")
        raise ConflictError(
            f"outbox message {message_id} is now handled by {current.claimed_by}, not {worker_id}"
        )

    # -- listing (last: its name shadows the builtin in the class body) --------------------

    def list(
        self, status: OutboxStatus | None = None, limit: int | None = None
    ) -> builtins.list[OutboxMessage]:
        stmt = select(_T).order_by(_C.id.desc())
        if status is not None:
            stmt = stmt.where(_C.status == OutboxStatus(status).value)
        if limit is not None:
            stmt = stmt.limit(max(limit, 0))
        with self._db.session() as session:
            return [_snapshot(r) for r in session.execute(stmt).mappings()]


def _due(now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Queued and due, or sending under a claim older than the lease (a dead worker)."""
    return or_(
        and_(_C.status == OutboxStatus.QUEUED.value, _C.next_attempt_at <= now),
        and_(_C.status == OutboxStatus.SENDING.value, _C.claimed_at <= now - lease),
    )


def _select_one(session: Session, where: ColumnElement[bool]) -> OutboxMessage | None:
    row = session.execute(select(_T).where(where)).mappings().first()
    return None if row is None else _snapshot(row)


def _require(session: Session, message_id: int) -> OutboxMessage:
    row = _select_one(session, _C.id == message_id)
    if row is None:
        raise NotFoundError(f"outbox message {message_id} does not exist")
    return row


def _update_one(
    session: Session,
    match_id: ColumnElement[bool],
    condition: ColumnElement[bool],
    values: Mapping[str, Any],
) -> OutboxMessage | None:
    """Apply ``values`` if ``condition`` still holds; the updated row, or ``None``."""
    stmt = (
        sql_update(_T)
        .where(match_id, condition)
        .values({**values, "version": _C.version + 1})
        .returning(*_C)
    )
    row = session.execute(stmt).mappings().first()
    return None if row is None else _snapshot(row)


def _content(message: OutboxMessage) -> dict[str, Any]:
    """The message's own fields, validated so the database never sees bad input."""
    if not message.idempotency_key:
        raise ValidationError("an outbox message needs an idempotency key")
    values = {name: getattr(message, name) for name in _CONTENT_FIELDS}
    for name, value in values.items():
        if isinstance(value, datetime):
            _check_aware(value, name)
        elif isinstance(value, str):
            _check_length(name, value)
    return values


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name} must be an aware (UTC) datetime, got {value!r}")


def _check_length(name: str, value: str) -> None:
    """Refuse a value longer than its column (PostgreSQL would fail, SQLite would not)."""
    column_type = _C[name].type
    length = getattr(column_type, "length", None) if isinstance(column_type, String) else None
    if length is not None and len(value) > length:
        raise ValidationError(f"outbox {name} is {len(value)} characters long; at most {length}")


def _snapshot(row: RowMapping) -> OutboxMessage:
    """A frozen copy of one result row."""
    return OutboxMessage(
        id=int(row["id"]),
        idempotency_key=row["idempotency_key"],
        customer_id=row["customer_id"],
        stop_ref=row["stop_ref"],
        situation=row["situation"],
        template_id=row["template_id"],
        template_version=int(row["template_version"]),
        channel=row["channel"],
        address=row["address"],
        subject=row["subject"],
        body=row["body"],
        body_html=row["body_html"],
        status=OutboxStatus(row["status"]),
        attempts=int(row["attempts"]),
        not_before=row["not_before"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        provider_id=row["provider_id"],
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
    )


__all__ = ["SqlOutboxStore"]
