"""Where alerts and their audit trail live: the :class:`AlertStore` protocol and a memory store.

The core (reconciliation, workflow) talks only to this protocol. The SQL store in
``dispatcher/persistence`` implements it over the ``alerts`` and ``audit_log`` tables; the
in-memory store here backs the tests and a database-less demo. Both must pass the same
contract tests (tests/alerts/store_contract.py).

Contract, in short:

* ``insert`` assigns ``id`` (positive, increasing) and sets ``version`` to 1. It refuses with
  :class:`ConflictError` a second *open* alert for the same (kind, subject): two workstations
  reconciling at once must not both raise it (a partial unique index in SQL).
* ``update`` writes every field of the alert whose ``id`` is given, if and only if the stored
  version equals ``expected_version``; the stored and returned version is then
  ``expected_version + 1``. Otherwise :class:`ConflictError` (nothing written);
  :class:`NotFoundError` for an unknown id. Re-opening must not create a second open alert
  for a key (ConflictError).
* ``get_open`` returns the open alert of a key or None; ``get_latest`` the one with the
  highest id whatever its status (what re-opening needs).
* ``list_alerts`` returns the alerts matching every given filter field, by ascending id.
* ``append_audit`` assigns ``id`` (increasing) and never changes or deletes an entry;
  ``list_audit`` returns entries in append order.
* The core calls ``update``/``insert`` and then ``append_audit`` for one action and never
  commits: the caller runs each core call (one command, one ``reconcile``, one ``wake_due``)
  inside one transaction so an alert never changes without its audit line. A SQL store
  should run ``insert``/``update`` in a SAVEPOINT (``session.begin_nested()``) and turn a
  unique violation or a zero-row versioned UPDATE into :class:`ConflictError`: on PostgreSQL
  a failed statement otherwise poisons the whole transaction, and ``reconcile`` carries on
  with the other keys after a conflict.
* Datetimes come back timezone-aware (UTC) and equal to what was stored (microseconds
  included); ``details`` and the audit ``before``/``after`` are JSON objects that round-trip.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from dispatcher.errors import ConflictError, NotFoundError, ValidationError
from dispatcher.model.alerts import Alert, AlertFilter, AlertKind, AuditEntry


class AlertStore(Protocol):
    """Persistence of alerts and their audit trail (see the module docstring for the contract)."""

    def get(self, alert_id: int) -> Alert:
        """The alert with this id; :class:`NotFoundError` if there is none."""
        ...

    def get_open(self, kind: AlertKind, subject: str) -> Alert | None:
        """The open alert of (kind, subject), if any."""
        ...

    def get_latest(self, kind: AlertKind, subject: str) -> Alert | None:
        """The alert of (kind, subject) with the highest id, open or closed."""
        ...

    def insert(self, alert: Alert) -> Alert:
        """Store a new alert (``id`` None); return it with its id and version 1."""
        ...

    def update(self, alert: Alert, expected_version: int) -> Alert:
        """Replace the stored alert if its version is ``expected_version``; return the new one."""
        ...

    def list_alerts(self, flt: AlertFilter | None = None) -> list[Alert]:
        """Alerts matching ``flt`` by ascending id."""
        ...

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Append an entry (``id`` None); return it with its id."""
        ...

    def list_audit(self, alert_id: int | None = None) -> list[AuditEntry]:
        """Audit entries (of one alert, or all) in the order they were appended."""
        ...


@runtime_checkable
class ChunkedStore(Protocol):
    """A store that can commit part of a long unit of work (the SQL store).

    ``writes`` counts the alert and audit rows written so far; ``commit`` makes them durable
    and goes on in a new transaction. The rule runner commits its reconciliation in chunks
    with it (:mod:`dispatcher.alerts.reconcile`, "Chunks"); a store without it (the memory
    store) is written in one piece.
    """

    writes: int

    def commit(self) -> None:
        """Commit what is written so far; the next write opens a new transaction."""
        ...


class InMemoryAlertStore:
    """The reference implementation: a dict and a list behind a lock."""

    def __init__(self) -> None:
        self._alerts: dict[int, Alert] = {}
        self._audit: list[AuditEntry] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def get(self, alert_id: int) -> Alert:
        with self._lock:
            try:
                return self._alerts[alert_id]
            except KeyError:
                raise NotFoundError(f"exception #{alert_id} does not exist") from None

    def get_open(self, kind: AlertKind, subject: str) -> Alert | None:
        with self._lock:
            return self._find_open(kind, subject)

    def get_latest(self, kind: AlertKind, subject: str) -> Alert | None:
        with self._lock:
            same = [a for a in self._alerts.values() if a.kind == kind and a.subject == subject]
            return max(same, key=_id_of) if same else None

    def insert(self, alert: Alert) -> Alert:
        if alert.id is not None:
            raise ValidationError("a new alert must not carry an id")
        with self._lock:
            if alert.is_open and self._find_open(alert.kind, alert.subject) is not None:
                raise ConflictError(
                    f"an open {alert.kind.value} exception already exists for {alert.subject}"
                )
            stored = dataclasses.replace(
                alert, id=self._next_id, version=1, details=dict(alert.details)
            )
            self._next_id += 1
            self._alerts[_id_of(stored)] = stored
            return stored

    def update(self, alert: Alert, expected_version: int) -> Alert:
        if alert.id is None:
            raise ValidationError("cannot update an alert that was never stored")
        with self._lock:
            current = self._alerts.get(alert.id)
            if current is None:
                raise NotFoundError(f"exception #{alert.id} does not exist")
            if current.version != expected_version:
                raise ConflictError(
                    f"exception #{alert.id} is at version {current.version}, not {expected_version}"
                )
            other = self._find_open(alert.kind, alert.subject)
            if alert.is_open and other is not None and other.id != alert.id:
                raise ConflictError(
                    f"an open {alert.kind.value} exception already exists for {alert.subject}"
                )
            stored = dataclasses.replace(
                alert, version=expected_version + 1, details=dict(alert.details)
            )
            self._alerts[alert.id] = stored
            return stored

    def list_alerts(self, flt: AlertFilter | None = None) -> list[Alert]:
        flt = flt or AlertFilter()
        with self._lock:
            found = [a for a in sorted(self._alerts.values(), key=_id_of) if flt.matches(a)]
        return found if flt.limit is None else found[: flt.limit]

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        if entry.id is not None:
            raise ValidationError("a new audit entry must not carry an id")
        with self._lock:
            stored = dataclasses.replace(
                entry,
                id=len(self._audit) + 1,
                before=dict(entry.before) if entry.before is not None else None,
                after=dict(entry.after),
            )
            self._audit.append(stored)
            return stored

    def list_audit(self, alert_id: int | None = None) -> list[AuditEntry]:
        with self._lock:
            return [e for e in self._audit if alert_id is None or e.alert_id == alert_id]

    def _find_open(self, kind: AlertKind, subject: str) -> Alert | None:
        return next(
            (
                a
                for a in self._alerts.values()
                if a.is_open and a.kind == kind and a.subject == subject
            ),
            None,
        )


def _id_of(alert: Alert) -> int:
    return alert.id or 0


def by_key(alerts: Iterable[Alert]) -> dict[tuple[AlertKind, str], Alert]:
    """Index alerts by (kind, subject)."""
    return {a.key: a for a in alerts}
