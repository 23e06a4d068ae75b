"""Event rules (failed delivery, driver issues) and geofence crossings (circle and polygon)."""

from __future__ import annotations

import pytest
from alerts_builders import DEPOT, T0, circle, evaluate, event, minutes, offset_m, stop, vehicle

from dispatcher.alerts.engine import RuleEngine
from dispatcher.alerts.facts import EventKind, FenceKind, Geofence, Snapshot
from dispatcher.clock import FakeClock
from dispatcher.model.alerts import AlertKind, Severity


def test_failed_delivery_is_raised_on_the_stop_with_the_reason(clock: FakeClock) -> None:
    (c,) = evaluate(clock, event(), stop())
    assert c.kind is AlertKind.FAILED_DELIVERY
    assert c.subject == "stop:S1"
    assert c.severity is Severity.HIGH
    assert c.occurrence == "E1"
    assert c.title == "Delivery failed at stop S1 (Mme Dupont): customer absent"
    assert c.sla_deadline == T0 + minutes(30)


def test_failed_delivery_without_stop_is_about_the_vehicle(clock: FakeClock) -> None:
    (c,) = evaluate(clock, event(stop_id=None, reason=None))
    assert c.subject == "vehicle:V1"
    assert "no reason given" in c.title


@pytest.mark.parametrize(
    ("reported", "reason", "severity"),
    [
        ("damaged", "damaged", Severity.HIGH),
        ("Address not found", "address_not_found", Severity.HIGH),
        ("customer-refused", "customer_refused", Severity.MEDIUM),
        ("dog in the garden", "other", Severity.MEDIUM),
        (None, "other", Severity.MEDIUM),
    ],
)
def test_driver_issues_are_named_and_weighed(
    clock: FakeClock, reported: str | None, reason: str, severity: Severity
) -> None:
    (c,) = evaluate(clock, event(kind=EventKind.ISSUE, reason=reported))
    assert c.kind is AlertKind.DRIVER_ISSUE
    assert c.details["reason"] == reason
    assert c.severity is severity
    assert c.sla_deadline == T0 + minutes(15)
    if reported == "dog in the garden":
        assert c.title.endswith("dog in the garden")


# -- geofences -------------------------------------------------------------------------------

SQUARE = [
    offset_m(DEPOT, -100, -100),
    offset_m(DEPOT, -100, 100),
    offset_m(DEPOT, 100, 100),
    offset_m(DEPOT, 100, -100),
]


def drive(
    engine: RuleEngine, clock: FakeClock, fence: Geofence, *points: tuple[float, float]
) -> list[list[AlertKind]]:
    """Evaluate once per point, one minute apart; the kinds raised at each step."""
    steps = []
    for lat, lon in points:
        clock.advance(minutes=1)
        snap = Snapshot(
            vehicles=[vehicle(lat=lat, lon=lon, last_seen=clock.now())], geofences=[fence]
        )
        steps.append([c.kind for c in engine.evaluate(snap)])
    return steps


OUT = offset_m(DEPOT, north_m=500)
IN = offset_m(DEPOT, north_m=50)


@pytest.mark.parametrize(
    "fence",
    [circle(), Geofence("P1", "Zone ZFE", FenceKind.ZONE, polygon=SQUARE)],
    ids=["circle", "polygon"],
)
def test_enter_and_exit_are_raised_on_the_crossing_only(clock: FakeClock, fence: Geofence) -> None:
    engine = RuleEngine(clock)
    steps = drive(engine, clock, fence, OUT, OUT, IN, IN, OUT)
    assert steps == [[], [], [AlertKind.GEOFENCE_ENTER], [], [AlertKind.GEOFENCE_EXIT]]


def test_first_sight_inside_a_fence_is_not_an_entry(clock: FakeClock) -> None:
    assert drive(RuleEngine(clock), clock, circle(), IN, IN) == [[], []]


def test_fences_only_report_the_crossings_asked_for(clock: FakeClock) -> None:
    depot = circle(alert_on_enter=False)
    assert drive(RuleEngine(clock), clock, depot, IN, OUT, IN) == [
        [],
        [AlertKind.GEOFENCE_EXIT],
        [],
    ]


def test_each_crossing_is_a_new_occurrence_on_one_subject(clock: FakeClock) -> None:
    engine = RuleEngine(clock)
    drive(engine, clock, circle(), OUT)
    clock.advance(minutes=1)
    first = engine.evaluate(
        Snapshot(vehicles=[vehicle(lat=IN[0], lon=IN[1])], geofences=[circle()])
    )
    assert first[0].subject == "vehicle:V1/fence:F1"
    assert first[0].occurrence is not None
    assert first[0].severity is Severity.LOW
