"""The detail pane's HTML: the alert, its vehicle and stop, the ETA, and its history."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from dispatcher import display
from dispatcher.alerts.priority import minutes_left
from dispatcher.model.alerts import Alert, AuditEntry
from dispatcher.model.minutes import late_minutes, slack_minutes
from dispatcher.model.stops import StopView
from dispatcher_ui.exceptions.model import KIND_LABELS, SEVERITY_COLOURS, sla_text


def _t(value: datetime | str | None, tz: tzinfo | None = None) -> str:
    """Clock time in the fleet's zone ``tz`` of a datetime or ISO string, ``–`` for nothing."""
    if value is None:
        return "–"
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return html.escape(text)
    return display.current().clock(value.astimezone(tz))


def _row(label: str, value: Any) -> str:
    return f"<tr><td><b>{html.escape(label)}</b></td><td>{value}</td></tr>"


def _history(entries: Sequence[AuditEntry], tz: tzinfo | None) -> str:
    lines = []
    for e in entries:
        after = dict(e.after)
        note = f" — “{html.escape(str(after['note']))}”" if after.get("note") else ""
        status = html.escape(str(after.get("status", "")))
        when = display.current().clock(e.ts.astimezone(tz), seconds=True)
        lines.append(
            f"<li>{when} <b>{html.escape(e.actor)}</b> "
            f"{html.escape(e.action.replace('_', ' '))} → {status}{note}</li>"
        )
    return "<ul>" + "".join(lines) + "</ul>" if lines else "<p><i>No history yet.</i></p>"


#: How a rule's late/overdue basis reads.
_BASIS = {"actual": "arrived {} min late", "predicted": "predicted {} min late"}
_BASIS_DEFAULT = "overdue by {} min"
#: Facts the rows above already show (or that are internal).
_SHOWN = {
    "customer",
    "order",
    "predicted_arrival",
    "eta_history",
    "basis",
    "late_min",
    "slack_min",
}
_SHOWN_WITH_STOP = {"window_end", "actual_arrival"}


def _value(value: Any, tz: tzinfo | None) -> str:
    """A fact in words: a time in the fleet's zone, a number without noise, else the text."""
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        return _t(value, tz)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(html.escape(str(v)) for v in value)
    return html.escape(str(value))


def facts_rows(details: Mapping[str, Any], tz: tzinfo | None, *, shown: bool) -> list[str]:
    """The rule's facts as labelled rows in words (never a raw ``key: value`` line in UTC)."""
    rows = []
    if "late_min" in details:
        text = _BASIS.get(str(details.get("basis")), _BASIS_DEFAULT)
        rows.append(_row("Lateness", text.format(late_minutes(float(details["late_min"]) * 60))))
    if "slack_min" in details:
        slack = slack_minutes(float(details["slack_min"]) * 60)
        rows.append(_row("Slack", f"{slack} min left"))
    skip = _SHOWN | (_SHOWN_WITH_STOP if shown else set())
    for key, value in details.items():
        if key in skip or value is None or value == "":
            continue
        rows.append(_row(key.replace("_", " ").capitalize(), _value(value, tz)))
    return rows


def detail_html(
    alert: Alert,
    vehicle: str | None,
    stop: StopView | None,
    history: Sequence[AuditEntry],
    now: datetime,
    tz: tzinfo | None = None,
) -> str:
    """Everything a dispatcher needs to decide, on one pane; times in ``tz`` (the fleet's
    zone, as on the route boards), else in ``now``'s zone."""
    tz = tz or now.tzinfo
    colour = SEVERITY_COLOURS[alert.severity]
    details = dict(alert.details)
    rows = [
        _row("Kind", html.escape(KIND_LABELS[alert.kind])),
        _row("Severity", f"<span style='color:{colour}'>{alert.severity.name.lower()}</span>"),
        _row(
            "Status",
            html.escape(alert.status.value) + (f" · {alert.assignee}" if alert.assignee else ""),
        ),
        _row("Vehicle", html.escape(vehicle or "–")),
        _row(
            "Opened",
            f"{_t(alert.opened_at, tz)} (seen {alert.count}×, last {_t(alert.last_seen, tz)})",
        ),
        _row("SLA", f"{_t(alert.sla_deadline, tz)} ({sla_text(minutes_left(alert, now))} left)"),
    ]
    if stop is not None:
        rows += [
            _row("Customer", html.escape(stop.customer_name or "–")),
            _row("Stop", f"{html.escape(stop.order_ref)} · {html.escape(stop.address)}"),
            _row("Window", f"{_t(stop.window_start, tz)}–{_t(stop.window_end, tz)}"),
            _row("Stop status", html.escape(stop.status)),
            _row(
                "ETA",
                f"predicted {_t(details.get('predicted_arrival'), tz)}, "
                f"planned {_t(stop.planned_arrival, tz)}, actual {_t(stop.actual_arrival, tz)}",
            ),
        ]
    history_rows = details.get("eta_history") or []
    if history_rows:
        drift = " → ".join(_t(str(h[1]), tz) for h in history_rows[-8:] if len(h) == 2)
        rows.append(_row("ETA history", drift))
    rows += facts_rows(details, tz, shown=stop is not None)
    return (
        f"<h3 style='color:{colour}'>{html.escape(alert.title)}</h3>"
        f"<table cellspacing='4'>{''.join(rows)}</table>"
        + "<h4>History</h4>"
        + _history(history, tz)
    )
