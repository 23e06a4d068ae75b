"""Rules about a customer's time window: at risk (before the breach) and late."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta

from dispatcher.alerts.facts import Snapshot, StopFacts
from dispatcher.alerts.rules_common import iso, minutes, round_min
from dispatcher.alerts.thresholds import Thresholds
from dispatcher.model.alerts import AlertKind, Condition, Severity, stop_subject
from dispatcher.model.minutes import slack_minutes


class AtRiskRule:
    """Raise *before* the breach: the predicted arrival leaves less than N minutes of slack.

    Slack is ``window_end - predicted_arrival``. Exactly N minutes is not at risk (the
    threshold says "less than"); a negative slack is the late rule's business, not this one's,
    so one stop never carries both alerts.
    """

    kinds = frozenset({AlertKind.AT_RISK})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for stop in snapshot.stops:
            if stop.is_final or stop.actual_arrival is not None:
                continue
            if stop.window_end is None or stop.predicted_arrival is None:
                continue
            if now > stop.window_end:
                continue  # already overdue: late
            slack = stop.window_end - stop.predicted_arrival
            if slack < timedelta(0) or minutes(slack) >= self._t.at_risk_slack_min:
                continue
            left = slack_minutes(slack.total_seconds())
            yield Condition(
                kind=AlertKind.AT_RISK,
                subject=stop_subject(stop.stop_id),
                severity=Severity.MEDIUM,
                title=f"Stop {stop.name} at risk: {left} min of slack left",
                details={
                    "slack_min": math.floor(minutes(slack) * 10) / 10,  # floored: see model.minutes
                    "predicted_arrival": iso(stop.predicted_arrival),
                    "window_end": iso(stop.window_end),
                    "customer": stop.customer_name,
                    "order": stop.order_ref,
                },
                sla_deadline=stop.window_end,
                vehicle_id=stop.vehicle_id,
                stop_id=stop.stop_id,
            )


class LateRule:
    """Late: the actual arrival, the prediction, or the clock is past the window end.

    Three sources, one alert: an arrival after the window end (it happened), a prediction
    after it (it will happen), or no arrival while the window has closed (it is happening,
    whatever the ETA model still believes). Arriving exactly at the window end is on time.
    """

    kinds = frozenset({AlertKind.LATE})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for stop in snapshot.stops:
            found = self._lateness(stop, now)
            if found is None:
                continue
            basis, late_by = found
            severity = (
                Severity.CRITICAL if minutes(late_by) > self._t.late_critical_min else Severity.HIGH
            )
            verb = {"actual": "arrived", "predicted": "predicted", "overdue": "overdue,"}[basis]
            yield Condition(
                kind=AlertKind.LATE,
                subject=stop_subject(stop.stop_id),
                severity=severity,
                title=f"Stop {stop.name} {verb} {round_min(late_by)} min late",
                details={
                    "basis": basis,
                    "late_min": round(minutes(late_by), 1),
                    "window_end": iso(stop.window_end),
                    "predicted_arrival": iso(stop.predicted_arrival),
                    "actual_arrival": iso(stop.actual_arrival),
                    "customer": stop.customer_name,
                    "order": stop.order_ref,
                },
                sla_deadline=stop.window_end,
                vehicle_id=stop.vehicle_id,
                stop_id=stop.stop_id,
            )

    @staticmethod
    def _lateness(stop: StopFacts, now: datetime) -> tuple[str, timedelta] | None:
        """How the stop is late, or None. Under half a minute is on time (a person reads
        "0 min late" as not late), and a stop that is done, failed or skipped is no longer
        something to act on: its late alert closes by itself (the KPIs keep the lateness)."""
        end = stop.window_end
        if end is None or stop.is_final:
            return None  # failed/skipped without arrival: the failed-delivery rule speaks
        if stop.actual_arrival is not None:
            late = stop.actual_arrival - end
            return ("actual", late) if round_min(late) >= 1 else None
        predicted = stop.predicted_arrival - end if stop.predicted_arrival else None
        overdue = now - end
        if predicted is not None and round_min(predicted) >= 1 and predicted >= overdue:
            return ("predicted", predicted)
        if round_min(overdue) >= 1:
            return ("overdue", overdue)
        return None
