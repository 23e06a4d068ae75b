"""Text and JSON views of the queue for ``dispatcher alerts [--status open] [--json]``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

from dispatcher import display
from dispatcher.alerts.priority import minutes_left
from dispatcher.errors import ValidationError
from dispatcher.model.alerts import CLOSED_STATUSES, OPEN_STATUSES, Alert, AlertStatus

_GROUPS = {"open": OPEN_STATUSES, "closed": CLOSED_STATUSES, "all": frozenset(AlertStatus)}


def parse_status_filter(text: str) -> frozenset[AlertStatus]:
    """``open``, ``closed``, ``all`` or a comma list of statuses (``new,escalated``)."""
    statuses: set[AlertStatus] = set()
    for word in (w.strip().lower() for w in text.split(",")):
        if word in _GROUPS:
            statuses |= _GROUPS[word]
            continue
        try:
            statuses.add(AlertStatus(word))
        except ValueError:
            known = ", ".join([*_GROUPS, *(s.value for s in AlertStatus)])
            raise ValidationError(f"unknown status {word!r}; use one of: {known}") from None
    return frozenset(statuses)


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """Every field, JSON-safe (ISO datetimes, enum values, severity as its name)."""
    out: dict[str, Any] = {}
    for name in alert.__dataclass_fields__:
        value = getattr(alert, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif name == "severity":
            value = alert.severity.name.lower()
        elif hasattr(value, "value"):
            value = value.value
        elif name == "details":
            value = dict(value)
        out[name] = value
    return out


_COLUMNS = ("ID", "STATUS", "SEV", "KIND", "SUBJECT", "N", "SLA", "ASSIGNEE", "TITLE")


def _sla(alert: Alert, now: datetime | None) -> str:
    if alert.sla_deadline is None:
        return "-"
    if now is None:
        return display.current().instant(alert.sla_deadline)
    left = minutes_left(alert, now) or 0.0
    return f"{left:+.0f}m"


def _row(alert: Alert, now: datetime | None) -> tuple[str, ...]:
    return (
        str(alert.id),
        alert.status.value,
        alert.severity.name.lower(),
        alert.kind.value,
        alert.subject,
        str(alert.count),
        _sla(alert, now),
        alert.assignee or "-",
        alert.title,
    )


def format_alerts(
    alerts: Iterable[Alert], as_json: bool, out: TextIO, *, now: datetime | None = None
) -> None:
    """Write ``alerts`` (in the order given) as a table or as a JSON array.

    With ``now`` the SLA column shows minutes left (``-12m`` is 12 minutes overdue);
    without it, the deadline's clock time.
    """
    items = list(alerts)
    if as_json:
        json.dump([alert_to_dict(a) for a in items], out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    if not items:
        out.write("No exceptions.\n")
        return
    rows = [_COLUMNS, *(_row(a, now) for a in items)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS) - 1)]
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)]
        out.write("  ".join([*cells, r[-1]]).rstrip() + "\n")
