"""Shift handover: what the outgoing shift leaves open, acknowledged by the incoming one.

A control room that works in shifts loses what one person knew when they go home: the
exception they were chasing, the customer they told "between 14:00 and 15:00", the stop they
pinned to a van for a reason. The report gathers it:

* **open exceptions** (every alert not resolved or dismissed, most severe first);
* **promises**: messages sent to customers during the shift whose body names a time
  (:func:`promised_times`), with whether the order is still open;
* **locks**: the day's stops pinned, kept on their vehicle or in a lock group;
* **notes**: notes written on exceptions during the shift, and the outgoing shift's own note.

The report is stored whole in the audit log (``handover.create``) and is acknowledged by a
*different*, active user of at least the dispatcher role (``handover.ack``): the audit log
then says who handed what to whom, when. Nothing is deleted or edited afterwards.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from dispatcher.errors import ConflictError, PermissionDenied, ValidationError
from dispatcher.model.users import Permission, User
from dispatcher.persistence import support_repo, users_repo
from dispatcher.persistence.database import Database

CREATE, ACK = "handover.create", "handover.ack"
MAX_NOTE = 4000

_TIME = re.compile(
    r"(?<![\d:.])(?:"
    r"(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?:\s*(?P<ap>[ap]\.?m\.?)(?![a-z]))?"
    r"|(?P<h2>1[0-2]|0?[1-9])(?:[.:](?P<m2>[0-5]\d))?\s*(?P<ap2>[ap]\.?m\.?)(?![a-z])"
    r")(?![\d:])",
    re.IGNORECASE,
)


def promised_times(body: str) -> list[str]:
    """The clock times a message names, as ``HH:MM`` (24 h), in order: "between 2 and 3pm"
    gives ``15:00`` only (a bare "2" is no time); "14:30", "2:30 PM", "2pm", "9.15 a.m." are
    read. Nothing else (dates, prices, order numbers) is taken for a time."""
    found = []
    for m in _TIME.finditer(body or ""):
        if m.group("h") is not None:
            hour, minute, ap = int(m.group("h")), int(m.group("m")), m.group("ap")
        else:
            hour, minute, ap = int(m.group("h2")), int(m.group("m2") or 0), m.group("ap2")
        if ap:
            if hour > 12 or hour == 0:
                continue
            pm = ap.lower().startswith("p")
            hour = (hour % 12) + (12 if pm else 0)
        found.append(f"{hour:02d}:{minute:02d}")
    return found


@dataclass(frozen=True, slots=True)
class Promise:
    message_id: int
    order_ref: str
    sent_at: str
    times: list[str]
    body: str
    order_status: str


@dataclass
class HandoverReport:
    """One handover; times are ISO text so the report is stored in the audit log as is."""

    id: str
    author: str
    created_at: str
    since: str
    day: str
    shift_note: str = ""
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    promises: list[Promise] = field(default_factory=list)
    locks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HandoverReport:
        values = dict(data)
        values["promises"] = [Promise(**p) for p in values.get("promises", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def open_promises(self) -> list[Promise]:
        """Promises on orders still open: what the next shift must keep."""
        return [p for p in self.promises if p.order_status in ("pending", "arrived", "")]


@dataclass(frozen=True, slots=True)
class HandoverState:
    report: HandoverReport
    acknowledged_by: str | None
    acknowledged_at: datetime | None


def build_report(
    db: Database,
    author: User,
    now: datetime,
    since: datetime,
    day: date,
    shift_note: str = "",
) -> HandoverReport:
    """Gather the handover of the shift that began at ``since`` (not stored yet)."""
    if since >= now:
        raise ValidationError("the shift must have begun before now")
    note = shift_note.strip()
    if len(note) > MAX_NOTE:
        raise ValidationError(f"the shift note is longer than {MAX_NOTE} characters")
    report = HandoverReport(
        id=f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}",
        author=author.id,
        created_at=now.isoformat(),
        since=since.isoformat(),
        day=day.isoformat(),
        shift_note=note,
    )
    with db.session() as session:
        for a in support_repo.open_alerts(session):
            report.exceptions.append(
                {
                    "id": a.id,
                    "kind": a.kind,
                    "subject": a.subject,
                    "title": a.title,
                    "status": a.status,
                    "severity": a.severity,
                    "assignee": a.assignee,
                    "opened_at": a.opened_at.isoformat(),
                }
            )
        sent = [
            (m, promised_times(m.body)) for m in support_repo.sent_messages_since(session, since)
        ]
        sent = [(m, t) for m, t in sent if t and m.created_at <= now]
        states = support_repo.stop_states(session, [m.stop_ref for m, _ in sent if m.stop_ref])
        for m, times in sent:
            status = states.get(m.stop_ref or "", ("", None))[0]
            report.promises.append(
                Promise(
                    m.id,
                    m.stop_ref or "",
                    (m.sent_at or m.created_at).isoformat(),
                    times,
                    m.body[:500],
                    status,
                )
            )
        for order, vehicle, pinned, kept, group in support_repo.locked_stops(session, day):
            report.locks.append(
                {
                    "order": order,
                    "vehicle": vehicle,
                    "pinned": pinned,
                    "keep_on_vehicle": kept,
                    "lock_group": group,
                }
            )
        for e in support_repo.alert_notes_since(session, since):
            if e.ts > now:
                continue
            after = e.after or {}
            report.notes.append(
                {
                    "alert_id": e.entity_id,
                    "ts": e.ts.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "note": str(after.get("note", ""))[:1000],
                }
            )
    return report


def publish(db: Database, report: HandoverReport) -> None:
    """Store the report in the audit log; its author must be a user who may take a shift."""
    with db.session() as session:
        users_repo.acting_user(session, report.author, Permission.ACK_HANDOVER)
        if support_repo.handover_entries(session, report.id):
            raise ConflictError(f"handover {report.id} is already stored")
        support_repo.add_handover_entry(
            session,
            datetime.fromisoformat(report.created_at),
            report.author,
            CREATE,
            report.id,
            report.to_json(),
        )


def acknowledge(db: Database, username: str, handover_id: str, now: datetime) -> None:
    """``username`` takes over the shift of handover ``handover_id``.

    Refused (nothing stored) when the user is unknown, inactive, below the dispatcher role,
    the report's own author, or the handover is unknown or already acknowledged.
    """
    with db.session() as session:
        user = users_repo.acting_user(session, username, Permission.ACK_HANDOVER)
        entries = support_repo.handover_entries(session, handover_id)
        created = [e for e in entries if e.action == CREATE]
        if not created:
            raise ValidationError(f"there is no handover {handover_id!r}")
        if created[0].actor == user.id:
            raise PermissionDenied(
                f"{user.id} wrote handover {handover_id}; the next shift acknowledges it"
            )
        acked = [e for e in entries if e.action == ACK]
        if acked:
            raise ConflictError(f"handover {handover_id} was acknowledged by {acked[0].actor}")
        support_repo.add_handover_entry(
            session, now, user.id, ACK, handover_id, {"author": created[0].actor}
        )


def handovers(db: Database) -> list[HandoverState]:
    """Every stored handover, newest first, with who acknowledged it (if anyone)."""
    with db.session() as session:
        entries = support_repo.handover_entries(session)
    reports: dict[str, HandoverReport] = {}
    acks: dict[str, tuple[str, datetime]] = {}
    for e in entries:
        if e.action == CREATE and e.after:
            reports[e.entity_id] = HandoverReport.from_json(dict(e.after))
        elif e.action == ACK and e.entity_id not in acks:
            acks[e.entity_id] = (e.actor, e.ts)
    out = [HandoverState(r, *(acks.get(hid) or (None, None))) for hid, r in reports.items()]
    out.sort(key=lambda s: s.report.created_at, reverse=True)
    return out
