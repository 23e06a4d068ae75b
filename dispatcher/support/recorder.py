"""The flight recorder: what the desk knew at any instant of a period.

An incident review asks "what did the desk see at 09:12?": which exceptions were in the
queue and in which state, what ETA each stop showed, which messages had gone out. The
position replay (:mod:`dispatcher.history.replay`) answers where the vans were; this module
answers the rest from records the database keeps anyway:

* **Exceptions** from the alert audit log: every workflow step writes the alert's state
  after it (``audit_view``), so an alert's state at *t* is its last entry at or before *t*.
* **ETAs** from the ``eta_log`` table, which :class:`~dispatcher.support.eta_log.EtaRecorder`
  fills from the route boards (recording began with migration ``support_1``; a period
  before it shows no ETAs, and says so).
* **Messages** from the outbox: created, sent and delivered times are on the row; a
  dispatcher's undo is in the audit log. A failure's time is not stored: a failed message
  shows as "failed (time not recorded)" from its creation on. Other message records (the
  customers' replies) plug in with :func:`register_message_source`.

:func:`load_recording` reads a period once (off the GUI thread); :meth:`Recording.state_at`
is then pure and fast, so scrubbing a slider never touches the database.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dispatcher.errors import ValidationError
from dispatcher.persistence import support_repo
from dispatcher.persistence.database import Database

log = logging.getLogger(__name__)

#: The longest period one recording loads.
MAX_PERIOD = timedelta(hours=24)
OPEN = ("new", "acknowledged", "assigned", "escalated", "snoozed")


@dataclass(frozen=True, slots=True)
class QueueRow:
    alert_id: int
    kind: str
    subject: str
    status: str
    severity: int
    assignee: str | None
    title: str
    since: datetime
    """When the alert reached this state."""


@dataclass(frozen=True, slots=True)
class EtaRow:
    stop_id: int
    order_ref: str
    eta: datetime | None
    late_s: int
    actual: bool
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRow:
    message_id: int
    order_ref: str
    direction: str
    channel: str
    situation: str
    status: str
    created_at: datetime
    body: str


@dataclass(frozen=True, slots=True)
class DeskState:
    at: datetime
    exceptions: list[QueueRow]
    etas: list[EtaRow]
    messages: list[MessageRow]


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """A message with the times that decide its status at any instant (``direction`` "in"
    for a customer's reply: give it ``sent_at`` = received, it then shows as "received")."""

    id: int
    order_ref: str
    channel: str
    situation: str
    body: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    failed: bool
    direction: str = "out"

    def status_at(self, at: datetime) -> str:
        if self.direction == "in":
            return "received"
        if self.cancelled_at is not None and self.cancelled_at <= at:
            return "cancelled"
        if self.delivered_at is not None and self.delivered_at <= at:
            return "delivered"
        if self.sent_at is not None and self.sent_at <= at:
            return "sent"
        return "failed (time not recorded)" if self.failed else "queued"


@dataclass
class Recording:
    """One period's record; :meth:`state_at` rebuilds the desk at any instant of it."""

    start: datetime
    end: datetime
    alert_steps: dict[int, list[tuple[datetime, dict[str, Any]]]] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)
    eta_steps: dict[int, list[tuple[datetime, datetime | None, int, bool]]] = field(
        default_factory=dict
    )
    order_refs: dict[int, str] = field(default_factory=dict)
    messages: list[RecordedMessage] = field(default_factory=list)
    #: Every instant inside the period when something the desk saw changed, sorted.
    moments: list[datetime] = field(default_factory=list)
    #: The ETA log has nothing before this (recording started later): said on screen.
    etas_recorded: bool = True
    #: Message sources that could not be read, with the reason (shown on screen).
    problems: list[str] = field(default_factory=list)
    _message_times: list[datetime] = field(default_factory=list, repr=False)
    _alert_times: dict[int, list[datetime]] = field(default_factory=dict, repr=False)
    _eta_times: dict[int, list[datetime]] = field(default_factory=dict, repr=False)

    def prepare(self) -> None:
        """Sort once what :meth:`state_at` searches (called by :func:`load_recording`)."""
        self.messages.sort(key=lambda m: (m.created_at, m.id))
        self._message_times = [m.created_at for m in self.messages]
        self._alert_times = {k: [ts for ts, _ in v] for k, v in self.alert_steps.items()}
        self._eta_times = {k: [c[0] for c in v] for k, v in self.eta_steps.items()}

    def state_at(self, at: datetime, max_messages: int | None = None) -> DeskState:
        """The desk at ``at``; ``max_messages`` keeps only the newest (a screen's worth)."""
        if len(getattr(self, "_message_times", ())) != len(self.messages):
            self.prepare()
        queue = []
        for alert_id, steps in self.alert_steps.items():
            i = bisect.bisect_right(self._alert_times[alert_id], at) - 1
            if i < 0:
                continue
            ts, view = steps[i]
            if str(view.get("status")) not in OPEN:
                continue
            queue.append(
                QueueRow(
                    alert_id,
                    str(view.get("kind", "")),
                    str(view.get("subject", "")),
                    str(view.get("status")),
                    int(view.get("severity") or 0),
                    view.get("assignee"),
                    self.titles.get(alert_id, ""),
                    ts,
                )
            )
        queue.sort(key=lambda r: (-r.severity, r.since, r.alert_id))
        etas = []
        for stop_id, changes in self.eta_steps.items():
            i = bisect.bisect_right(self._eta_times[stop_id], at) - 1
            if i < 0:
                continue
            ts, eta, late, actual = changes[i]
            etas.append(
                EtaRow(stop_id, self.order_refs.get(stop_id, str(stop_id)), eta, late, actual, ts)
            )
        etas.sort(key=lambda r: (r.eta is None, r.eta or r.recorded_at, r.order_ref))
        known = bisect.bisect_right(self._message_times, at)
        first = 0 if max_messages is None else max(0, known - max_messages)
        messages = [
            MessageRow(
                m.id,
                m.order_ref,
                m.direction,
                m.channel,
                m.situation,
                m.status_at(at),
                m.created_at,
                m.body,
            )
            for m in reversed(self.messages[first:known])
        ]
        return DeskState(at, queue, etas, messages)

    def next_moment(self, after: datetime) -> datetime | None:
        i = bisect.bisect_right(self.moments, after)
        return self.moments[i] if i < len(self.moments) else None

    def previous_moment(self, before: datetime) -> datetime | None:
        i = bisect.bisect_left(self.moments, before) - 1
        return self.moments[i] if i >= 0 else None


#: A source of more messages for a period (inbound replies, another channel's log): called
#: with the reader's session (SQLAlchemy, typed loosely: no SQLAlchemy outside persistence).
MessageSource = Callable[[Any, datetime, datetime], list[RecordedMessage]]
_MESSAGE_SOURCES: dict[str, MessageSource] = {}


def register_message_source(name: str, source: MessageSource) -> None:
    """Add (or replace) a source of messages the recorder shows next to the outbox's."""
    _MESSAGE_SOURCES[name] = source


def load_recording(db: Database, start: datetime, end: datetime) -> Recording:
    """Read the record of ``[start, end]`` (at most :data:`MAX_PERIOD`). Off the GUI thread."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("the period's start and end must be aware times")
    if end <= start:
        raise ValidationError("the period ends before it starts")
    if end - start > MAX_PERIOD:
        raise ValidationError("a recording covers at most 24 hours; pick a shorter period")
    rec = Recording(start, end)
    moments: set[datetime] = set()
    with db.session() as session:
        steps: dict[int, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
        for e in support_repo.alert_entries(session, start, end):
            try:
                alert_id = int(e.entity_id)
            except ValueError:
                continue
            steps[alert_id].append((e.ts, dict(e.after or {})))
            if e.ts >= start:
                moments.add(e.ts)
        rec.alert_steps = dict(steps)
        rec.titles = {
            k: title for k, (title, _s) in support_repo.alert_titles(session, steps).items()
        }
        etas: dict[int, list[tuple[datetime, datetime | None, int, bool]]] = defaultdict(list)
        for stop_id, ts, eta, late, actual in support_repo.eta_rows(session, start, end):
            etas[stop_id].append((ts, eta, late, actual))
            if ts >= start:
                moments.add(ts)
        rec.eta_steps = dict(etas)
        rec.order_refs = support_repo.order_refs(session, etas)
        rec.etas_recorded = support_repo.eta_log_starts_before(session, end)
        undone = {
            int(e.entity_id): e.ts
            for e in support_repo.message_audit_between(session, start, end)
            if e.action == "message_undo" and e.entity_id.isdigit()
        }
        for m in support_repo.outbox_between(session, start, end):
            msg = RecordedMessage(
                m.id,
                m.stop_ref or "",
                m.channel,
                m.situation,
                m.body,
                m.created_at,
                m.sent_at,
                m.delivered_at,
                undone.get(m.id) if m.status == "cancelled" else None,
                m.status == "failed",
            )
            rec.messages.append(msg)
        for name, source in _MESSAGE_SOURCES.items():
            try:
                with session.begin_nested():
                    rec.messages += source(session, start, end)
            except Exception as exc:  # one broken source must not hide the rest
                log.warning("flight recorder source %s failed: %s", name, exc)
                rec.problems.append(f"{name}: could not be read ({exc})")
        for msg in rec.messages:
            for when in (msg.created_at, msg.sent_at, msg.delivered_at, msg.cancelled_at):
                if when is not None and start <= when <= end:
                    moments.add(when)
    rec.moments = sorted(moments)
    rec.prepare()
    return rec
