"""A message that failed for good becomes an exception in the dispatcher's queue.

The relay calls the sink from its worker thread with the failed row (attempts exhausted, a
permanent gateway refusal, a negative delivery receipt). The sink raises (or counts up) one
open alert per stop through the exception queue's public API
(:class:`~dispatcher.alerts.workflow.AlertService` over the SQL alert store), so the failure
shows where dispatchers already look, with the audit trail of every alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import Clock
from dispatcher.model.alerts import AlertKind, Condition, Severity
from dispatcher.model.messaging import OutboxMessage
from dispatcher.persistence import messaging_repo
from dispatcher.persistence.alert_repo import SqlAlertStore
from dispatcher.persistence.database import Database

log = logging.getLogger(__name__)

#: ``sink(row) -> alert id`` (``None`` when no alert could be raised).
FailureSink = Callable[[OutboxMessage], int | None]

#: The alert kind's stored value (the exception queue's vocabulary).
FAILURE_KIND = "message_failed"


def failure_alert_kind() -> AlertKind | None:
    """The exception queue's kind for undeliverable customer messages, if it has one."""
    try:
        return AlertKind(FAILURE_KIND)
    except ValueError:
        return None


def failure_condition(row: OutboxMessage, stop_id: int | None) -> Condition | None:
    """The condition to raise for ``row``: one open alert per stop (or per message)."""
    kind = failure_alert_kind()
    if kind is None:
        return None
    subject = f"stop:{stop_id}" if stop_id is not None else f"message:{row.id}"
    title = f"{row.channel.upper()} to {row.address} ({row.stop_ref or 'no stop'}) failed"
    if row.last_error:
        title = f"{title}: {row.last_error}"
    return Condition(
        kind=kind,
        subject=subject,
        severity=Severity.HIGH,
        title=title[:300],
        details={
            "message_id": row.id,
            "situation": row.situation,
            "channel": row.channel,
            "address": row.address,
            "attempts": row.attempts,
            "error": row.last_error[:500],
            "order_ref": row.stop_ref,
        },
        stop_id=str(stop_id) if stop_id is not None else None,
        occurrence=f"outbox:{row.id}",
    )


def alert_failure_sink(db: Database, clock: Clock) -> FailureSink:
    """A sink that raises the failure in the SQL exception queue (one unit of work)."""

    def sink(row: OutboxMessage) -> int | None:
        stop_id = messaging_repo.stop_id_of(db, row.stop_ref) if row.stop_ref else None
        condition = failure_condition(row, stop_id)
        if condition is None:
            log.error(
                "outbox row %s failed (%s) but the exception queue has no '%s' kind",
                row.id,
                row.last_error,
                FAILURE_KIND,
            )
            return None
        with db.session() as session:
            service = AlertService(SqlAlertStore(session), clock)
            # Only this kind is reconciled: nothing else is touched, and a latched kind never
            # auto-resolves.
            result = service.reconcile([condition], (condition.kind,))
        changed = [*result.raised, *result.reopened, *result.updated]
        return changed[0].id if changed else None

    return sink
