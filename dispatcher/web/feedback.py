"""The feedback step after delivery: a rating (1-5) and an optional comment, once per order.

Offered on the tracking page once the stop is delivered or failed (a failed visit is worth
hearing about too). The first submission is the record: a second one — a replayed form, a
second tab, a script — is refused with a fixed "already have it" message, so nobody can
flip a rating after the fact. The comment is cleaned like every customer text (one line,
printable); over :data:`MAX_COMMENT` characters it is refused. Shown escaped everywhere.

A rating at or below ``[web] low_rating`` raises a ``low_rating`` exception in the console's
queue (severity medium; high for a 1), so a supervisor calls the customer back. Stored with
an audit row (dispatcher/persistence/feedback_repo.py); the period view and the KPI dock
sum the ratings (docs/kpi.md, "Customer feedback").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import Clock
from dispatcher.errors import ValidationError
from dispatcher.model.alerts import AlertKind, Condition, Severity
from dispatcher.model.core import StopStatus
from dispatcher.persistence import feedback_repo
from dispatcher.persistence.alert_repo import SqlAlertStore
from dispatcher.persistence.database import Database
from dispatcher.persistence.feedback_repo import Feedback

log = logging.getLogger(__name__)

MAX_COMMENT = 1000
RATINGS = range(1, 6)
_RATING_TEXTS = frozenset(str(n) for n in RATINGS)
#: Stop statuses after which the page asks for feedback.
ASKED_AFTER = (StopStatus.DONE.value, StopStatus.FAILED.value)


def parse_rating(raw: object) -> int:
    """``"1"``..``"5"`` → the int; anything else (``0``, ``6``, ``abc``, ``4.5``) refused."""
    text = str(raw or "").strip()
    if text not in _RATING_TEXTS:  # not isdigit(): "٣" is a digit too, and int() takes it
        raise ValidationError("please choose a rating from 1 to 5")
    return int(text)


def clean_comment(raw: object) -> str:
    """One line of printable text; longer than :data:`MAX_COMMENT` characters is refused
    (the page's field stops there, so only a script sends more: nothing is cut silently)."""
    text = " ".join("".join(ch for ch in str(raw or "") if ch.isprintable()).split())
    if len(text) > MAX_COMMENT:
        raise ValidationError(f"comment too long (at most {MAX_COMMENT} characters)")
    return text


def submit_feedback(
    db: Database,
    clock: Clock,
    stop_id: int,
    status: str,
    rating_raw: object,
    comment_raw: object,
    *,
    low_rating: int = 2,
    on_raised: Callable[[int], None] | None = None,
) -> Feedback:
    """Store the customer's feedback on ``stop_id`` (whose status is ``status``).

    ``ValidationError`` for a bad rating or a stop not finished yet; ``ConflictError`` when
    the order has feedback already.
    """
    if status not in ASKED_AFTER:
        raise ValidationError("feedback is asked for once the delivery is over")
    rating = parse_rating(rating_raw)
    comment = clean_comment(comment_raw)
    feedback = feedback_repo.add_feedback(db, stop_id, rating, comment, clock.now())
    if rating <= low_rating:
        alert_id = _raise(db, clock, feedback)
        feedback_repo.link_alert(db, feedback.id, alert_id)
        if alert_id is not None and on_raised is not None:
            on_raised(alert_id)
    return feedback


def _raise(db: Database, clock: Clock, feedback: Feedback) -> int | None:
    said = f": “{feedback.comment[:120]}”" if feedback.comment else ""
    condition = Condition(
        kind=AlertKind.LOW_RATING,
        subject=f"feedback:{feedback.id}",
        severity=Severity.HIGH if feedback.rating <= 1 else Severity.MEDIUM,
        title=f"{feedback.order_ref}: customer rated {feedback.rating}/5{said}"[:300],
        details={
            "feedback_id": feedback.id,
            "order_ref": feedback.order_ref,
            "rating": feedback.rating,
            "comment": feedback.comment,
            "outcome": feedback.outcome,
        },
        vehicle_id=feedback.vehicle_id or None,
        stop_id=str(feedback.stop_id),
        occurrence=f"feedback:{feedback.id}",
    )
    try:
        with db.session() as session:
            result = AlertService(SqlAlertStore(session), clock).reconcile(
                [condition], (AlertKind.LOW_RATING,)
            )
    except Exception:  # the feedback stands even if the queue cannot take it now
        log.warning("no exception for feedback %s", feedback.id, exc_info=True)
        return None
    raised = [*result.raised, *result.reopened, *result.updated]
    return raised[0].id if raised and raised[0].id is not None else None
