"""``dispatcher alerts [--status open] [--json]``: the queue for scripts and checks."""

from __future__ import annotations

from typing import TextIO

from dispatcher.alerts.listing import format_alerts, parse_status_filter
from dispatcher.alerts.priority import priority_key
from dispatcher.clock import SystemClock
from dispatcher.config import Settings
from dispatcher.model.alerts import AlertFilter
from dispatcher.persistence.alert_repo import alert_store
from dispatcher.persistence.database import Database


def run_alerts(settings: Settings, status: str, as_json: bool, out: TextIO) -> int:
    """List alerts with ``status`` (most urgent first); exit code 0.

    Reads the database only: no rules run, nothing is written, so it is safe next to a
    running console. An unknown status is a :class:`ValidationError` (exit code 1).
    """
    statuses = parse_status_filter(status)
    now = SystemClock().now()
    db = Database(settings.database_url, must_exist=True)  # read-only: never create
    try:
        with alert_store(db) as store:
            alerts = store.list_alerts(AlertFilter(statuses=statuses))
    finally:
        db.dispose()
    alerts.sort(key=lambda a: priority_key(a, now))
    format_alerts(alerts, as_json, out, now=now)
    return 0
