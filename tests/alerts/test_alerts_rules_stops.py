"""Time-window rules: at risk is raised before the breach, late when it happens.

Default thresholds: at risk below 10 min of slack, critical above 30 min late. Boundaries are
tested at the exact minute because that is where a dispatcher will argue with the queue.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from alerts_builders import T0, evaluate, minutes, of_kind, stop

from dispatcher.alerts.thresholds import Thresholds
from dispatcher.clock import FakeClock
from dispatcher.model.alerts import AlertKind, Severity
from dispatcher.model.minutes import late_minutes, slack_minutes

END = T0 + minutes(60)


@pytest.mark.parametrize(
    ("slack_min", "at_risk"),
    [(10.0, False), (9.99, True), (5, True), (0.0, True), (11, False), (-0.01, False)],
    ids=["exactly-10-is-fine", "just-under", "5", "exactly-at-end", "11", "past-end-is-late"],
)
def test_at_risk_when_less_than_ten_minutes_of_slack(
    clock: FakeClock, slack_min: float, at_risk: bool
) -> None:
    s = stop(predicted_arrival=END - minutes(slack_min))
    found = of_kind(evaluate(clock, s), AlertKind.AT_RISK)
    assert bool(found) is at_risk


def test_at_risk_carries_slack_deadline_and_stop(clock: FakeClock) -> None:
    (c,) = evaluate(clock, stop(predicted_arrival=END - minutes(4)))
    assert c.kind is AlertKind.AT_RISK
    assert c.subject == "stop:S1"
    assert c.severity is Severity.MEDIUM
    assert c.sla_deadline == END
    assert c.details["slack_min"] == 4.0
    assert (c.vehicle_id, c.stop_id) == ("V1", "S1")
    assert "Mme Dupont" in c.title


def test_at_risk_says_the_minutes_the_route_board_shows(clock: FakeClock) -> None:
    """9.99 min of slack reads "9 min" on the board, so the exception must not say 10 (a
    dispatcher on the Chicago walk saw both, for the same stop, side by side)."""
    (c,) = evaluate(clock, stop(predicted_arrival=END - minutes(9.99)))
    assert "9 min of slack left" in c.title
    assert c.details["slack_min"] == 9.9
    from dispatcher_ui.exceptions.detail import facts_rows

    assert any("9 min left" in row for row in facts_rows(c.details, None, shown=False))


@pytest.mark.parametrize(
    ("seconds", "late", "slack"), [(0, 0, 0), (20, 0, 0), (30, 1, 0), (599, 10, 9), (-5, 0, 0)]
)
def test_whole_minutes_are_read_one_way_everywhere(seconds: float, late: int, slack: int) -> None:
    assert late_minutes(seconds) == late
    assert slack_minutes(seconds) == slack


def test_at_risk_threshold_is_configurable(clock: FakeClock) -> None:
    s = stop(predicted_arrival=END - minutes(15))
    assert not evaluate(clock, s)
    assert of_kind(
        evaluate(clock, s, thresholds=Thresholds(at_risk_slack_min=20)), AlertKind.AT_RISK
    )


@pytest.mark.parametrize("status", ["done", "failed", "skipped"])
def test_finished_stops_are_never_at_risk(clock: FakeClock, status: str) -> None:
    assert not evaluate(clock, stop(predicted_arrival=END - minutes(1), status=status))


def test_predicted_after_window_end_is_late_not_at_risk(clock: FakeClock) -> None:
    (c,) = evaluate(clock, stop(predicted_arrival=END + minutes(12)))
    assert c.kind is AlertKind.LATE
    assert c.details["basis"] == "predicted"
    assert c.details["late_min"] == 12.0
    assert c.severity is Severity.HIGH
    assert "12 min late" in c.title


def test_predicted_exactly_at_window_end_is_on_time(clock: FakeClock) -> None:
    assert not of_kind(evaluate(clock, stop(predicted_arrival=END)), AlertKind.LATE)


@pytest.mark.parametrize(
    ("late_min", "severity"),
    [(30, Severity.HIGH), (30.01, Severity.CRITICAL), (1, Severity.HIGH)],
    ids=["exactly-30-high", "just-over-critical", "1-high"],
)
def test_late_by_more_than_thirty_minutes_is_critical(
    clock: FakeClock, late_min: float, severity: Severity
) -> None:
    (c,) = evaluate(clock, stop(predicted_arrival=END + minutes(late_min)))
    assert c.severity is severity


def test_actual_arrival_after_window_end_is_late_until_the_stop_is_done(
    clock: FakeClock,
) -> None:
    clock.set(END + minutes(30))
    (c,) = evaluate(clock, stop(actual_arrival=END + minutes(7), status="arrived"))
    assert c.kind is AlertKind.LATE
    assert c.details["basis"] == "actual"
    assert "arrived 7 min late" in c.title
    # done: nothing left to act on, so the rule is quiet and the alert closes by itself
    assert not evaluate(clock, stop(actual_arrival=END + minutes(7), status="done"))


def test_a_lateness_that_rounds_to_0_min_is_on_time(clock: FakeClock) -> None:
    clock.set(END - minutes(30))
    assert not evaluate(clock, stop(predicted_arrival=END + timedelta(seconds=20)))
    (c,) = evaluate(clock, stop(predicted_arrival=END + timedelta(seconds=40)))
    assert "predicted 1 min late" in c.title


def test_actual_arrival_exactly_at_window_end_is_on_time(clock: FakeClock) -> None:
    clock.set(END + minutes(5))
    assert not evaluate(clock, stop(actual_arrival=END, status="done"))


def test_window_closed_without_arrival_is_late_whatever_the_eta_says(clock: FakeClock) -> None:
    optimistic = stop(predicted_arrival=END - minutes(20))  # an ETA nobody updated
    clock.set(END)
    assert not evaluate(clock, optimistic)
    clock.advance(minutes=3)
    (c,) = evaluate(clock, optimistic)
    assert c.kind is AlertKind.LATE
    assert c.details["basis"] == "overdue"
    assert c.details["late_min"] == 3.0


def test_failed_stop_without_arrival_is_not_late(clock: FakeClock) -> None:
    clock.set(END + minutes(30))
    assert not evaluate(clock, stop(status="failed"))


def test_stop_without_window_end_raises_nothing(clock: FakeClock) -> None:
    clock.set(T0 + minutes(600))
    assert not evaluate(clock, stop(window_end=None, predicted_arrival=T0 + minutes(900)))
