"""A whole KPI report for one scope: headline figures and the charts' series.

Times on the charts' x axis are hours since local midnight of the service day (floats), so
the widgets draw them without knowing time zones.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatcher.alerts.stats import DurationStats, compute_stats
from dispatcher.kpi.definitions import (
    DEFAULT_RULES,
    KpiRules,
    Ratio,
    Verdict,
    first_attempt,
    on_time,
    otif,
    verdict,
)
from dispatcher.model.kpi import FLEET, DayRecords, Scope, ScopedDay, scope_day
from dispatcher.planning.model import to_plan_seconds

#: Upper edges (minutes) of the open-exception age buckets; the last bucket is open-ended.
AGE_EDGES_MIN = (15, 30, 60, 120)
#: Sampling step of the done-vs-planned curves.
STEP = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Series:
    """Points of one curve: ``x`` in hours since local midnight, ``y`` counts."""

    x: tuple[float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class DurationSummary:
    """How many episodes, and their mean and longest duration in seconds."""

    count: int
    mean_s: float
    max_s: float


@dataclass(frozen=True, slots=True)
class Headline:
    """The figures shown in large type."""

    on_time: Ratio
    first_attempt: Ratio
    otif: Ratio
    done: int
    planned: int
    late: int
    open_exceptions: int
    time_to_acknowledge: DurationSummary
    time_to_resolve: DurationSummary


@dataclass(frozen=True, slots=True)
class KpiReport:
    """Everything the KPI dock draws for one scope at one moment."""

    scope: Scope
    now: datetime
    headline: Headline
    planned_curve: Series
    done_curve: Series
    late_by_hour: Mapping[int, int]
    open_by_age: tuple[tuple[str, int], ...]
    ack_by_kind: Mapping[str, DurationStats] = field(default_factory=dict)
    resolve_by_kind: Mapping[str, DurationStats] = field(default_factory=dict)


def compute_report(
    records: DayRecords, now: datetime, scope: Scope = FLEET, rules: KpiRules = DEFAULT_RULES
) -> KpiReport:
    """The report of ``scope`` at ``now`` (pure: same inputs, same report)."""
    part = scope_day(records, scope)
    stats = compute_stats(part.alerts, part.audit, now, records.tz)
    open_alerts = [a for a in part.alerts if a.is_open]
    verdicts = [verdict(s, now, rules) for s in part.stops]
    planned, done = done_vs_planned(part, now)
    headline = Headline(
        on_time=on_time(part.stops, now, rules),
        first_attempt=first_attempt(part.stops),
        otif=otif(part.stops, now, rules),
        done=sum(s.status == "done" for s in part.stops),
        planned=len(part.stops),
        late=sum(v in (Verdict.LATE, Verdict.OVERDUE) for v in verdicts),
        open_exceptions=len(open_alerts),
        time_to_acknowledge=merge_durations(stats.tta_by_kind.values()),
        time_to_resolve=merge_durations(stats.ttr_by_kind.values()),
    )
    return KpiReport(
        scope=scope,
        now=now,
        headline=headline,
        planned_curve=planned,
        done_curve=done,
        late_by_hour=late_by_hour(part, now, rules),
        open_by_age=open_by_age([now - a.opened_at for a in open_alerts]),
        ack_by_kind=stats.tta_by_kind,
        resolve_by_kind=stats.ttr_by_kind,
    )


def hours_since_midnight(when: datetime, midnight: datetime) -> float:
    """The hour on the fleet's clock (09:15 is 9.25), also on a 23- or 25-hour DST day, as
    plan seconds count (:func:`~dispatcher.planning.model.to_plan_seconds`)."""
    return to_plan_seconds(when, midnight) / 3600.0


def done_vs_planned(part: ScopedDay, now: datetime) -> tuple[Series, Series]:
    """Cumulative stops planned to be reached by each time, and stops done by each time.

    A stop is *planned* by its planned arrival; a stop is *done* at its completion time if its
    status is ``done`` (failed and skipped stops are not done). The planned curve covers the
    whole day; the done curve stops at ``now`` (the rest has not happened).
    """
    midnight = part.records.midnight()
    planned_at = sorted(s.planned_arrival for s in part.stops if s.planned_arrival is not None)
    done_at = sorted(
        s.completed_at for s in part.stops if s.status == "done" and s.completed_at is not None
    )
    moments = [*planned_at, *done_at, now]
    start = _floor_hour(min(moments), midnight)
    end = max(*moments, start + STEP)
    ticks: list[datetime] = []
    t = start
    while t <= end + STEP:
        ticks.append(t)
        t += STEP
    planned = Series(
        tuple(hours_since_midnight(t, midnight) for t in ticks),
        tuple(float(_count_until(planned_at, t)) for t in ticks),
    )
    past = [t for t in ticks if t <= now] + [now]
    done = Series(
        tuple(hours_since_midnight(t, midnight) for t in past),
        tuple(float(_count_until(done_at, t)) for t in past),
    )
    return planned, done


def _floor_hour(when: datetime, midnight: datetime) -> datetime:
    hours = math.floor(hours_since_midnight(when, midnight))
    return midnight + timedelta(hours=hours)


def _count_until(sorted_times: Sequence[datetime], t: datetime) -> int:
    return bisect.bisect_right(sorted_times, t)


def late_by_hour(part: ScopedDay, now: datetime, rules: KpiRules = DEFAULT_RULES) -> dict[int, int]:
    """Late stops counted in the local hour their window ended (when the promise broke).

    Hours run 0-23 of the service day; a window ending on another day is clamped to it.
    """
    tz = part.records.tz
    counts: dict[int, int] = {}
    for stop in part.stops:
        if stop.window_end is None or verdict(stop, now, rules) not in (
            Verdict.LATE,
            Verdict.OVERDUE,
        ):
            continue
        local = stop.window_end.astimezone(tz)
        hour = local.hour if local.date() == part.records.day else _clamp_hour(local, part)
        counts[hour] = counts.get(hour, 0) + 1
    return dict(sorted(counts.items()))


def _clamp_hour(local: datetime, part: ScopedDay) -> int:
    return 0 if local.date() < part.records.day else 23


def age_labels() -> tuple[str, ...]:
    """Bucket labels: ``<15 min``, ``15–30 min``, ``30–60 min``, ``1–2 h``, ``>2 h``."""

    def span(lo: int, hi: int) -> str:
        if lo >= 60 and lo % 60 == 0 and hi % 60 == 0:
            return f"{lo // 60}–{hi // 60} h"
        return f"{lo}–{hi} min"

    last = AGE_EDGES_MIN[-1]
    tail = f">{last // 60} h" if last % 60 == 0 else f">{last} min"
    middle = [span(lo, hi) for lo, hi in itertools.pairwise(AGE_EDGES_MIN)]
    return (f"<{AGE_EDGES_MIN[0]} min", *middle, tail)


def open_by_age(ages: Sequence[timedelta]) -> tuple[tuple[str, int], ...]:
    """Open exceptions per age bucket (age = now - opened_at; a bucket's upper edge excluded)."""
    counts = [0] * (len(AGE_EDGES_MIN) + 1)
    for age in ages:
        minutes = max(age.total_seconds(), 0.0) / 60.0
        index = next((i for i, edge in enumerate(AGE_EDGES_MIN) if minutes < edge), -1)
        counts[index] += 1
    return tuple(zip(age_labels(), counts, strict=True))


def merge_durations(parts: Iterable[DurationStats]) -> DurationSummary:
    """Fleet-wide count, mean and maximum from the per-kind figures (all three are exact;
    a median is not additive, so none is given)."""
    items = [p for p in parts if p.count]
    total = sum(p.count for p in items)
    if not total:
        return DurationSummary(0, 0.0, 0.0)
    mean = sum(p.mean_s * p.count for p in items) / total
    return DurationSummary(total, mean, max(p.max_s for p in items))
