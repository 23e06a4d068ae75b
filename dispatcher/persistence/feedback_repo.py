"""Customers' feedback after delivery, and why the automation sent a message.

Feedback (:class:`~dispatcher.persistence.orm.CustomerFeedbackRow`): one row per stop,
stored with its audit row in one unit of work; a second one for the same stop is refused
(:class:`~dispatcher.errors.ConflictError`), whoever sends it. The period view sums the
ratings in :func:`dispatcher.persistence.kpi_period_repo.feedback_sums`.

Automatic messages' reasons (:class:`~dispatcher.persistence.orm.AutoReasonRow`): one row
per outbox message the automation queued, read by the Messages dock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatcher.errors import ConflictError, NotFoundError
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import (
    AuditEntry,
    AutoReasonRow,
    CustomerFeedbackRow,
    Route,
    Stop,
)


@dataclass(frozen=True, slots=True)
class Feedback:
    id: int
    stop_id: int
    order_ref: str
    service_date: date
    vehicle_id: str
    outcome: str
    rating: int
    comment: str
    alert_id: int | None
    created_at: datetime


def _feedback(row: CustomerFeedbackRow) -> Feedback:
    return Feedback(
        row.id,
        row.stop_id,
        row.order_ref,
        row.service_date,
        row.vehicle_id,
        row.outcome,
        row.rating,
        row.comment,
        row.alert_id,
        row.created_at,
    )


def add_feedback(db: Database, stop_id: int, rating: int, comment: str, now: datetime) -> Feedback:
    """Store the stop's feedback and its audit row (actor ``customer``).

    ``ConflictError`` when the stop has feedback already (the unique key decides, so two
    submissions racing store one); ``NotFoundError`` when the stop is gone.
    """
    try:
        with db.session() as s:
            found = s.execute(
                select(Stop.order_ref, Stop.service_date, Stop.status, Route.vehicle_id)
                .outerjoin(Route, Route.id == Stop.route_id)
                .where(Stop.id == stop_id)
            ).first()
            if found is None:
                raise NotFoundError(f"stop {stop_id} does not exist")
            if s.scalar(
                select(CustomerFeedbackRow.id).where(CustomerFeedbackRow.stop_id == stop_id)
            ):
                raise ConflictError("this delivery has feedback already")
            row = CustomerFeedbackRow(
                stop_id=stop_id,
                order_ref=found[0],
                service_date=found[1],
                vehicle_id=found[3] or "",
                outcome=str(found[2]),
                rating=rating,
                comment=comment,
                created_at=now,
            )
            s.add(row)
            s.flush()
            s.add(
                AuditEntry(
                    ts=now,
                    actor="customer",
                    action="customer_feedback.add",
                    entity="stop",
                    entity_id=str(stop_id),
                    before=None,
                    after={"feedback": row.id, "rating": rating, "comment": comment},
                )
            )
            return _feedback(row)
    except IntegrityError as exc:
        raise ConflictError("this delivery has feedback already") from exc


def link_alert(db: Database, feedback_id: int, alert_id: int | None) -> None:
    with db.session() as s:
        row = s.get(CustomerFeedbackRow, feedback_id)
        if row is not None:
            row.alert_id = alert_id


def feedback_of_stop(db: Database, stop_id: int) -> Feedback | None:
    with db.session() as s:
        row = s.scalar(select(CustomerFeedbackRow).where(CustomerFeedbackRow.stop_id == stop_id))
        return _feedback(row) if row is not None else None


def feedback_in_session(session: Session, stop_id: int) -> Feedback | None:
    """The stop's feedback, in the caller's session (the order card's sources)."""
    row = session.scalar(select(CustomerFeedbackRow).where(CustomerFeedbackRow.stop_id == stop_id))
    return _feedback(row) if row is not None else None


def feedback_of_order(db: Database, order_ref: str) -> Feedback | None:
    with db.session() as s:
        row = s.scalar(
            select(CustomerFeedbackRow)
            .where(CustomerFeedbackRow.order_ref == order_ref)
            .order_by(CustomerFeedbackRow.id.desc())
            .limit(1)
        )
        return _feedback(row) if row is not None else None


def ratings_of_day(session: Session, day: date) -> dict[int, int]:
    """``stop_id -> rating`` of the feedback on ``day``'s stops (the KPI dock's card)."""
    stmt = select(CustomerFeedbackRow.stop_id, CustomerFeedbackRow.rating).where(
        CustomerFeedbackRow.service_date == day
    )
    return {int(stop): int(rating) for stop, rating in session.execute(stmt)}


def add_auto_reason(
    db: Database, message_id: int, trigger: str, reason: str, now: datetime
) -> None:
    """Remember why the automation queued ``message_id`` (kept once: a retried pass that
    finds the same outbox row leaves the first reason)."""
    try:
        with db.session() as s:
            if s.get(AutoReasonRow, message_id) is None:
                s.add(
                    AutoReasonRow(
                        message_id=message_id,
                        trigger=trigger[:32],
                        reason=reason[:200],
                        created_at=now,
                    )
                )
    except IntegrityError:  # another pass stored it first
        pass


def auto_reasons(db: Database, message_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """``message_id -> (trigger, reason)`` for those of ``message_ids`` the automation sent."""
    ids = sorted(set(message_ids))
    out: dict[int, tuple[str, str]] = {}
    with db.session() as s:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for row in s.scalars(select(AutoReasonRow).where(AutoReasonRow.message_id.in_(chunk))):
                out[row.message_id] = (row.trigger, row.reason)
    return out
