"""The KPI definitions, one small function each, over a :class:`ScopedDay`.

Every definition is written out in docs/kpi.md; the short version:

* **on time**: the first arrival is at or before the window end (plus ``grace_s``). Arriving
  before the window start counts as on time: the driver waits, as the planner assumes. A
  stop whose window has no end is *not judged* (it cannot be late).
* **first-attempt success**: of the stops attempted at least once, those whose first attempt
  succeeded (status ``done`` after exactly one attempt).
* **OTIF**: of the finished stops (done, failed, skipped), those done at the first attempt and
  on time (or not judged).
* **late**: arrived after the window end, or not arrived while the window end has passed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.model.kpi import StopRecord


class Verdict(enum.StrEnum):
    """Where a stop stands against its time window at a given moment."""

    ON_TIME = "on_time"
    LATE = "late"
    #: Not arrived yet and the window is still open (or not started).
    PENDING = "pending"
    #: Not arrived and the window end has passed: late already, whatever happens next.
    OVERDUE = "overdue"
    #: No window end: nothing to be late for.
    NOT_JUDGED = "not_judged"


@dataclass(frozen=True, slots=True)
class KpiRules:
    """Tunable parts of the definitions (the defaults are the documented ones)."""

    #: Seconds after the window end that still count as on time.
    grace_s: float = 0.0


DEFAULT_RULES = KpiRules()


@dataclass(frozen=True, slots=True)
class Ratio:
    """``hits`` out of ``total``; ``percent`` is ``None`` when there is nothing to count."""

    hits: int
    total: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.hits / self.total if self.total else None


def verdict(stop: StopRecord, now: datetime, rules: KpiRules = DEFAULT_RULES) -> Verdict:
    """Judge ``stop`` against its window at ``now`` (see the module docstring)."""
    if stop.window_end is None:
        return Verdict.NOT_JUDGED
    deadline = stop.window_end + timedelta(seconds=rules.grace_s)
    if stop.arrival is not None:
        return Verdict.ON_TIME if stop.arrival <= deadline else Verdict.LATE
    return Verdict.OVERDUE if now > deadline else Verdict.PENDING


def attempted(stop: StopRecord) -> bool:
    """At least one attempt concluded (a done/failed stop counts one even if not counted)."""
    return stop.attempts >= 1 or stop.status in ("done", "failed")


def first_attempt_ok(stop: StopRecord) -> bool:
    """Done after exactly one attempt. A second attempt only happens after a failed first."""
    return stop.status == "done" and stop.attempts <= 1


def on_time(stops: Iterable[StopRecord], now: datetime, rules: KpiRules = DEFAULT_RULES) -> Ratio:
    """On-time arrivals among the judged stops that have arrived."""
    verdicts = [verdict(s, now, rules) for s in stops]
    hits = verdicts.count(Verdict.ON_TIME)
    return Ratio(hits, hits + verdicts.count(Verdict.LATE))


def first_attempt(stops: Iterable[StopRecord]) -> Ratio:
    """First-attempt successes among the stops attempted at least once."""
    tried = [s for s in stops if attempted(s)]
    return Ratio(sum(first_attempt_ok(s) for s in tried), len(tried))


def otif(stops: Iterable[StopRecord], now: datetime, rules: KpiRules = DEFAULT_RULES) -> Ratio:
    """On time *and* in full (done at the first attempt) among the finished stops."""
    finished = [s for s in stops if s.is_final]
    hits = sum(
        first_attempt_ok(s) and verdict(s, now, rules) in (Verdict.ON_TIME, Verdict.NOT_JUDGED)
        for s in finished
    )
    return Ratio(hits, len(finished))


def is_late(stop: StopRecord, now: datetime, rules: KpiRules = DEFAULT_RULES) -> bool:
    """Late for the customer: arrived after the window, or the window passed without arrival."""
    return verdict(stop, now, rules) in (Verdict.LATE, Verdict.OVERDUE)
