"""The exception queue in SQL: :class:`SqlAlertStore` implements the alerts core's ``AlertStore``.

The store works *inside* a unit of work it is given (a :class:`~sqlalchemy.orm.Session`) and
never commits: the alerts core writes an alert and then its audit line, and only the caller
knows where the unit of work ends (one command, one ``reconcile``, one ``wake_due``)::

    with db.session() as session:
        AlertService(SqlAlertStore(session), clock).assign(alert_id, user, to, version)

so an alert never changes without its audit line, and a failed command leaves neither.

Conflicts are decided by the database, not by a read followed by a write: the partial unique
index ``uq_alerts_open_key`` refuses a second open alert for a (kind, subject), and the
versioned ``UPDATE ... WHERE id = ? AND version = ?`` touches no row when someone else wrote
first. On PostgreSQL a failed statement aborts the whole transaction, so every write runs in a
SAVEPOINT that is rolled back on conflict; ``reconcile`` then carries on with the other keys.
SQLite only undoes the failed statement, and its driver handles SAVEPOINTs badly, so there
the write runs as is.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatcher.errors import ConflictError, NotFoundError, ValidationError
from dispatcher.model.alerts import (
    Alert,
    AlertFilter,
    AlertKind,
    AlertStatus,
    AuditEntry,
    ResolutionCode,
    Severity,
    User,
)
from dispatcher.persistence import users_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AlertRow, Stop, VehicleEventRow
from dispatcher.persistence.orm import AuditEntry as AuditRow

log = logging.getLogger(__name__)

# SQLAlchemy types a mapped class's __table__ as a FromClause; these are Tables.
_A: Table = AlertRow.__table__  # type: ignore[assignment]  # a Table (above)
_L: Table = AuditRow.__table__  # type: ignore[assignment]  # a Table (above)

#: What ``audit_log.entity`` says for alert entries (the log is shared with other entities).
AUDIT_ENTITY = "alert"

_CLOSED = (AlertStatus.RESOLVED.value, AlertStatus.DISMISSED.value)
_ENUMS: dict[str, type[Enum]] = {
    "kind": AlertKind,
    "status": AlertStatus,
    "severity": Severity,
    "status_before_snooze": AlertStatus,
    "resolution_code": ResolutionCode,
}
_FIELDS = tuple(f.name for f in dataclasses.fields(Alert))
_FILTER_EQUALS = ("vehicle_id", "stop_id", "assignee", "cause_active")


class SqlAlertStore:
    """:class:`~dispatcher.alerts.store.AlertStore` over the ``alerts`` and ``audit_log`` tables.

    Args:
        session: The unit of work to read and write in; the caller commits or rolls back.
            Rows come back as frozen :class:`Alert` snapshots, never ORM objects.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._savepoints = session.get_bind().dialect.name == "postgresql"
        #: Alert and audit rows written so far (the rule runner commits every few dozen).
        self.writes = 0

    def commit(self) -> None:
        """Commit what is written so far (:class:`~dispatcher.alerts.store.ChunkedStore`):
        the rule runner's reconciliation ends a chunk here so it does not hold SQLite's only
        write lock for its whole run; the session opens a new transaction at the next write."""
        self._session.commit()

    # -- reads -------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert:
        alert = self._first(select(_A).where(_A.c.id == alert_id))
        if alert is None:
            raise NotFoundError(f"exception #{alert_id} does not exist")
        return alert

    def get_open(self, kind: AlertKind, subject: str) -> Alert | None:
        return self._first(
            select(_A).where(*_key(kind, subject), _A.c.status.not_in(_CLOSED)).limit(1)
        )

    def get_latest(self, kind: AlertKind, subject: str) -> Alert | None:
        return self._first(select(_A).where(*_key(kind, subject)).order_by(_A.c.id.desc()).limit(1))

    def list_alerts(self, flt: AlertFilter | None = None) -> list[Alert]:
        query = select(_A).where(*_conditions(flt or AlertFilter())).order_by(_A.c.id)
        if flt is not None and flt.limit is not None:
            query = query.limit(flt.limit)
        return [_to_alert(row) for row in self._session.execute(query)]

    # -- writes ------------------------------------------------------------------------

    def insert(self, alert: Alert) -> Alert:
        if alert.id is not None:
            raise ValidationError("a new alert must not carry an id")
        values = _to_values(dataclasses.replace(alert, version=1))
        try:
            with self._savepoint():
                new_id = self._session.execute(
                    insert(_A).values(**values).returning(_A.c.id)
                ).scalar_one()
        except IntegrityError:
            raise _open_conflict(alert) from None
        self.writes += 1
        return self.get(new_id)

    def update(self, alert: Alert, expected_version: int) -> Alert:
        if alert.id is None:
            raise ValidationError("cannot update an alert that was never stored")
        values = _to_values(dataclasses.replace(alert, version=expected_version + 1))
        statement = (
            update(_A)
            .where(_A.c.id == alert.id, _A.c.version == expected_version)
            .values(**values)
            .returning(_A.c.id)
        )
        try:
            with self._savepoint():
                touched = self._session.execute(statement).first()
        except IntegrityError:
            raise _open_conflict(alert) from None
        if touched is None:
            current = self.get(alert.id)  # NotFoundError for an unknown id
            raise ConflictError(
                f"exception #{alert.id} is at version {current.version}, not {expected_version}"
            )
        self.writes += 1
        return self.get(alert.id)

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        if entry.id is not None:
            raise ValidationError("a new audit entry must not carry an id")
        new_id = self._session.execute(
            insert(_L)
            .values(
                ts=entry.ts,
                actor=entry.actor,
                action=entry.action,
                entity=AUDIT_ENTITY,
                entity_id=str(entry.alert_id),
                before=dict(entry.before) if entry.before is not None else None,
                after=dict(entry.after),
            )
            .returning(_L.c.id)
        ).scalar_one()
        self.writes += 1
        return dataclasses.replace(entry, id=new_id)

    def list_audit(self, alert_id: int | None = None) -> list[AuditEntry]:
        query = select(_L).where(_L.c.entity == AUDIT_ENTITY).order_by(_L.c.id)
        if alert_id is not None:
            query = query.where(_L.c.entity_id == str(alert_id))
        return [_to_entry(row) for row in self._session.execute(query)]

    # -- helpers -----------------------------------------------------------------------

    def _first(self, query: Select[Any]) -> Alert | None:
        row = self._session.execute(query).first()
        return None if row is None else _to_alert(row)

    def _savepoint(self) -> AbstractContextManager[object]:
        return self._session.begin_nested() if self._savepoints else nullcontext()


@contextmanager
def alert_store(db: Database) -> Iterator[SqlAlertStore]:
    """One unit of work over the alerts: commits on success, rolls back on error."""
    with db.session() as session:
        yield SqlAlertStore(session)


def _key(kind: AlertKind, subject: str) -> tuple[ColumnElement[bool], ...]:
    return (_A.c.kind == kind.value, _A.c.subject == subject)


def _conditions(flt: AlertFilter) -> list[ColumnElement[bool]]:
    """The SQL mirror of :meth:`AlertFilter.matches` (``limit`` is applied by the caller)."""
    found: list[ColumnElement[bool]] = []
    if flt.statuses is not None:
        found.append(_A.c.status.in_([s.value for s in flt.statuses]))
    if flt.kinds is not None:
        found.append(_A.c.kind.in_([k.value for k in flt.kinds]))
    for name in _FILTER_EQUALS:
        wanted = getattr(flt, name)
        if wanted is not None:
            found.append(_A.c[name] == wanted)
    if flt.snoozed_until_before is not None:
        found.append(_A.c.snoozed_until <= flt.snoozed_until_before)
    if flt.resolved_since is not None:
        found.append(_A.c.resolved_at >= flt.resolved_since)
    return found


def _open_conflict(alert: Alert) -> ConflictError:
    return ConflictError(f"an open {alert.kind.value} exception already exists for {alert.subject}")


def _to_values(alert: Alert) -> dict[str, Any]:
    """Column values of an alert (without ``id``: the database assigns and keys it)."""
    values = {name: getattr(alert, name) for name in _FIELDS if name != "id"}
    for name in _ENUMS:
        value = values[name]
        if value is not None:
            values[name] = int(value) if name == "severity" else value.value
    values["details"] = dict(alert.details)
    return values


def _to_alert(row: Row[Any]) -> Alert:
    mapping = row._mapping
    values = {name: mapping[name] for name in _FIELDS}
    for name, enum in _ENUMS.items():
        if values[name] is not None:
            values[name] = enum(values[name])
    return Alert(**values)


def _to_entry(row: Row[Any]) -> AuditEntry:
    mapping = row._mapping
    return AuditEntry(
        alert_id=int(mapping["entity_id"]),
        ts=mapping["ts"],
        actor=mapping["actor"],
        action=mapping["action"],
        before=mapping["before"],
        after=mapping["after"] if mapping["after"] is not None else {},
        id=mapping["id"],
    )


# -- what the rule runner reads besides alerts ------------------------------------------


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored vehicle event the alert rules care about (failed delivery, driver issue)."""

    id: int
    event_id: str
    vehicle_id: str
    kind: str
    ts: datetime
    stop_ref: str | None
    reason: str
    note: str


def vehicle_events_after(
    session: Session, after_id: int, kinds: Sequence[str], limit: int = 500
) -> list[EventRecord]:
    """Events of ``kinds`` stored after row ``after_id``, oldest first (at most ``limit``)."""
    rows = session.scalars(
        select(VehicleEventRow)
        .where(VehicleEventRow.id > after_id, VehicleEventRow.kind.in_(list(kinds)))
        .order_by(VehicleEventRow.id)
        .limit(limit)
    )
    return [
        EventRecord(r.id, r.event_id, r.vehicle_id, r.kind, r.ts, r.stop_ref, r.reason, r.note)
        for r in rows
    ]


def event_watermark(session: Session) -> int:
    """The highest event row already turned into an alert (0 if none).

    A restarted runner starts after it, so events handled before the restart are not fed
    again (an event is an edge: fed twice it would count as a repeat of itself).
    """
    known = select(_A.c.last_occurrence).where(_A.c.last_occurrence.is_not(None))
    found = session.scalar(
        select(func.max(VehicleEventRow.id)).where(VehicleEventRow.event_id.in_(known))
    )
    return int(found or 0)


def last_event_id(session: Session) -> int:
    """The highest stored event row (0 if none)."""
    return int(session.scalar(select(func.max(VehicleEventRow.id))) or 0)


def actual_arrivals(session: Session, day: date) -> dict[int, datetime]:
    """Stop id -> actual arrival, for the stops of ``day`` that have one."""
    rows = session.execute(
        select(Stop.id, Stop.actual_arrival).where(
            Stop.service_date == day, Stop.actual_arrival.is_not(None)
        )
    )
    return {int(sid): ts for sid, ts in rows if ts is not None}


# -- who is at the keyboard (the users room owns the table: persistence/users_repo.py) ------


def stop_by_id(session: Session, stop_id: int) -> Stop | None:
    """The stop an alert is about, with its customer (the detail pane's facts), if it exists."""
    return session.scalar(select(Stop).where(Stop.id == stop_id))


def user_for_os_account(session: Session, os_user: str) -> User:
    """The user for an OS account, created on first use (see :func:`users_repo.login`)."""
    return users_repo.login(session, os_user)


def list_users(session: Session) -> list[User]:
    """Every active user, by username (the supervisor's "assign to" list)."""
    return users_repo.active_users(session)
