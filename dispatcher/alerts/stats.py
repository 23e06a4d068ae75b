"""Supervisor figures: how fast the queue is handled, by whom, and for which kinds.

Computed from the audit log rather than from the alert rows, because an alert can live
several episodes (closed, re-opened): the log has every episode, the row only the last one.

* time to acknowledge: from the episode's start (``raise`` or ``reopen``) to the first action
  a person took on it, credited to that person;
* time to resolve: from the episode's start to a person's ``resolve`` (dismissals and
  auto-resolutions are counted apart: they say nothing about a dispatcher's speed);
* resolved today: ``resolve`` entries since local midnight (in ``tz``), by person.
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo
from typing import TextIO

from dispatcher.alerts.transitions import Action
from dispatcher.model.alerts import SYSTEM_ACTOR, Alert, AuditEntry

_STARTS = frozenset({"raise", Action.REOPEN.value})
_HUMAN_ACTIONS = frozenset(a.value for a in Action if not a.by_system_only)


@dataclass(frozen=True, slots=True)
class DurationStats:
    """Count, mean, median and maximum of a set of durations, in seconds."""

    count: int
    mean_s: float
    median_s: float
    max_s: float

    @classmethod
    def of(cls, samples: Iterable[float]) -> DurationStats:
        values = list(samples)
        if not values:
            return cls(0, 0.0, 0.0, 0.0)
        return cls(len(values), statistics.fmean(values), statistics.median(values), max(values))


@dataclass(frozen=True, slots=True)
class SupervisorStats:
    """The supervisor's panel; every mapping is keyed by user id or by kind value."""

    tta_by_user: Mapping[str, DurationStats] = field(default_factory=dict)
    tta_by_kind: Mapping[str, DurationStats] = field(default_factory=dict)
    ttr_by_user: Mapping[str, DurationStats] = field(default_factory=dict)
    ttr_by_kind: Mapping[str, DurationStats] = field(default_factory=dict)
    resolved_today_by: Mapping[str, int] = field(default_factory=dict)
    dismissed_today: int = 0
    auto_resolved_today: int = 0


@dataclass
class _Samples:
    tta_user: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    tta_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ttr_user: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ttr_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def compute_stats(
    alerts: Iterable[Alert], audit: Iterable[AuditEntry], now: datetime, tz: tzinfo = UTC
) -> SupervisorStats:
    """Figures over the whole ``audit`` given (pass a day's or a week's worth)."""
    kinds = {a.id: a.kind.value for a in alerts}
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
    samples = _Samples()
    resolved_today: dict[str, int] = defaultdict(int)
    dismissed = auto = 0
    by_alert: dict[int, list[AuditEntry]] = defaultdict(list)
    for entry in audit:
        by_alert[entry.alert_id].append(entry)
        if entry.ts >= midnight:
            if entry.action == Action.RESOLVE.value and entry.actor != SYSTEM_ACTOR:
                resolved_today[entry.actor] += 1
            dismissed += entry.action == Action.DISMISS.value
            auto += entry.action == Action.AUTO_RESOLVE.value
    for alert_id, entries in by_alert.items():
        _episodes(kinds.get(alert_id, "unknown"), entries, samples)
    return SupervisorStats(
        tta_by_user=_summarize(samples.tta_user),
        tta_by_kind=_summarize(samples.tta_kind),
        ttr_by_user=_summarize(samples.ttr_user),
        ttr_by_kind=_summarize(samples.ttr_kind),
        resolved_today_by=dict(sorted(resolved_today.items())),
        dismissed_today=dismissed,
        auto_resolved_today=auto,
    )


def _episodes(kind: str, entries: list[AuditEntry], samples: _Samples) -> None:
    start: datetime | None = None
    acknowledged = False
    for e in sorted(entries, key=lambda e: (e.ts, e.id or 0)):
        if e.action in _STARTS:
            start, acknowledged = e.ts, False
            continue
        if start is None or e.actor == SYSTEM_ACTOR or e.action not in _HUMAN_ACTIONS:
            continue
        seconds = (e.ts - start).total_seconds()
        if not acknowledged:
            acknowledged = True
            samples.tta_user[e.actor].append(seconds)
            samples.tta_kind[kind].append(seconds)
        if e.action == Action.RESOLVE.value:
            samples.ttr_user[e.actor].append(seconds)
            samples.ttr_kind[kind].append(seconds)


def _summarize(groups: Mapping[str, list[float]]) -> dict[str, DurationStats]:
    return {key: DurationStats.of(values) for key, values in sorted(groups.items())}


CSV_COLUMNS = ("section", "key", "metric", "count", "mean_min", "median_min", "max_min")


def write_stats_csv(stats: SupervisorStats, out: TextIO) -> None:
    """Write the figures as CSV (one row per person/kind and metric; minutes, 1 decimal)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    tables = (
        ("by_user", "time_to_acknowledge", stats.tta_by_user),
        ("by_kind", "time_to_acknowledge", stats.tta_by_kind),
        ("by_user", "time_to_resolve", stats.ttr_by_user),
        ("by_kind", "time_to_resolve", stats.ttr_by_kind),
    )
    for section, metric, table in tables:
        for key, d in table.items():
            writer.writerow(
                [section, key, metric, d.count, _min(d.mean_s), _min(d.median_s), _min(d.max_s)]
            )
    for user, count in stats.resolved_today_by.items():
        writer.writerow(["today", user, "resolved", count, "", "", ""])
    writer.writerow(["today", SYSTEM_ACTOR, "auto_resolved", stats.auto_resolved_today, "", "", ""])
    writer.writerow(["today", "", "dismissed", stats.dismissed_today, "", "", ""])


def _min(seconds: float) -> str:
    return f"{seconds / 60.0:.1f}"
