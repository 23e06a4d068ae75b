"""The exception queue as a front end uses it: who I am, what to show, what I do to it.

:class:`AlertDesk` wraps :class:`~dispatcher.alerts.workflow.AlertService` over the SQL store
so that every command is one transaction (alert row + audit line) and is announced once on
the bus as :class:`~dispatcher.alerts.events.AlertsChanged` (source ``user``), which the sync
service forwards to the other workstations. Queries open a short read transaction each.

The current user: the OS account mapped to a row of the ``users`` table
(:func:`~dispatcher.persistence.users_repo.login`: created on first use, as admin on an
empty database, as a dispatcher otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from dispatcher.alerts.events import AlertsChanged, ChangeSource
from dispatcher.alerts.stats import SupervisorStats, compute_stats
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import Clock
from dispatcher.events import EventBus
from dispatcher.fleet_settings import machine_zone_name
from dispatcher.model.alerts import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Alert,
    AlertFilter,
    AuditEntry,
    User,
)
from dispatcher.model.stops import StopView
from dispatcher.persistence import alert_repo, fleet_repo
from dispatcher.persistence.alert_repo import SqlAlertStore
from dispatcher.persistence.database import Database
from dispatcher.users.desk import os_account

T = TypeVar("T")


def alert_by_id(db: Database, alert_id: int) -> Alert:
    """One alert, read in a short transaction; :class:`NotFoundError` when it is gone."""
    with alert_repo.alert_store(db) as store:
        return store.get(alert_id)


class AlertDesk:
    """Queries and commands of the exception queue for one workstation."""

    def __init__(
        self, db: Database, clock: Clock, bus: EventBus, *, timezone: str | None = None
    ) -> None:
        """``timezone`` is the fleet's (``core.fleet.timezone``); the machine's when omitted."""
        self._db = db
        self._clock = clock
        self._bus = bus
        self._tz = ZoneInfo(timezone or machine_zone_name())

    @property
    def timezone(self) -> ZoneInfo:
        """The fleet's zone: times on the queue and the supervisor's view are read in it."""
        return self._tz

    # -- who ---------------------------------------------------------------------------

    def login(self, os_user: str | None = None) -> User:
        """The user for ``os_user`` (default: this process's OS account), created if new."""
        with self._db.session() as session:
            return alert_repo.user_for_os_account(session, os_user or os_account())

    def users(self) -> list[User]:
        with self._db.session() as session:
            return alert_repo.list_users(session)

    # -- queries -------------------------------------------------------------------------

    def queue(self, user: User, *, closed_within: timedelta | None = None) -> list[Alert]:
        """Open alerts ``user`` may see, most urgent first; plus those closed recently."""
        with self._db.session() as session:
            service = AlertService(SqlAlertStore(session), self._clock)
            alerts = service.list_alerts(user, AlertFilter(statuses=OPEN_STATUSES))
            if closed_within is not None:
                since = self._clock.now() - closed_within
                closed = AlertFilter(statuses=CLOSED_STATUSES, resolved_since=since)
                alerts += service.list_alerts(user, closed)
        return alerts

    def history(self, alert_id: int) -> list[AuditEntry]:
        with self._db.session() as session:
            return AlertService(SqlAlertStore(session), self._clock).history(alert_id)

    def stop_info(self, stop_id: int) -> StopView | None:
        """The alert's stop for the detail pane (None: gone), as every view reads a stop."""
        with self._db.session() as session:
            s = alert_repo.stop_by_id(session, stop_id)
            return None if s is None else fleet_repo.stop_view(s)

    def today_start(self) -> datetime:
        """Local midnight of today (the supervisor's "today")."""
        local = self._clock.now().astimezone(self._tz)
        return datetime.combine(local.date(), time(0), self._tz)

    def supervisor_stats(self) -> tuple[SupervisorStats, list[Alert]]:
        """Today's figures, and today's escalations (open or closed)."""
        since = self.today_start()
        with self._db.session() as session:
            store = SqlAlertStore(session)
            alerts = store.list_alerts()
            audit = [e for e in store.list_audit() if e.ts >= since]
        stats = compute_stats(alerts, audit, self._clock.now(), self._tz)
        escalated = [a for a in alerts if a.escalated_at is not None and a.escalated_at >= since]
        return stats, escalated

    # -- commands ------------------------------------------------------------------------

    def run(self, command: Callable[[AlertService], T]) -> T:
        """Run one command in one transaction and announce the change.

        ``command`` receives the service, e.g. ``lambda s: s.acknowledge(7, me, 3)``; the
        core's errors (conflict, permission, transition, validation) pass through unchanged
        for the front end to show.
        """
        result = self.write(command)
        self.announce(result)
        return result

    def write(self, command: Callable[[AlertService], T]) -> T:
        """:meth:`run` without the announcement: safe in a worker thread, since the bus calls
        its handlers (Qt views among them) in the publishing thread. Call :meth:`announce`
        with the result back on the thread that owns the bus."""
        with self._db.session() as session:
            return command(AlertService(SqlAlertStore(session), self._clock))

    def announce(self, result: object) -> None:
        """Publish the :class:`AlertsChanged` for a command's ``result`` (source ``user``)."""
        alert_id = getattr(result, "id", None)
        ids = frozenset({alert_id}) if isinstance(alert_id, int) else frozenset()
        self._bus.publish(AlertsChanged(ids, frozenset(), ChangeSource.USER))
