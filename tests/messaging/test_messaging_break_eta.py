"""The ETA a customer is told counts the driver's break, like the alerts' ETA does.

A van whose driver must take a 30-minute break before reaching a stop cannot be there at the
time the break-less walk says: the message's ``{{ eta }}`` and the tracking page (both
:func:`~dispatcher.messaging.stop_facts.fresh_eta`) put the stop after the break by the
break's duration; the stop before the break keeps its time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from fleet_zone import DAY, TZ_NAME, demo_day, local

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.eta.travel import HaversineProvider, SpeedProfile
from dispatcher.messaging.stop_facts import fresh_eta, route_etas
from dispatcher.model.core import StopStatus
from dispatcher.model.messaging import (
    ContactPreference,
    CustomerPreferences,
    RouteStop,
    StopContact,
)
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.messaging_repo import load_stop_contact
from dispatcher.persistence.orm import Route, Vehicle
from dispatcher.web.tracking import tracking_view

DEPOT = (52.52, 13.40)
#: No rush hour: a leg driven after the break takes as long as before it.
FLAT = HaversineProvider(profile=SpeedProfile.flat())


def _contact(**breaks: int | None) -> StopContact:
    """A van leaving the depot at 08:00: stop 1 a few minutes out with 20 minutes of service,
    stop 2 far beyond it, no windows (so no wait can swallow the break)."""
    near = RouteStop(1, 52.53, 13.41, 1200, StopStatus.PENDING, customer_id=1, order_ref="A")
    far = RouteStop(2, 52.80, 13.80, 300, StopStatus.PENDING, customer_id=2, order_ref="B")
    return StopContact(
        stop_id=2,
        order_ref="B",
        status=StopStatus.PENDING,
        customer=CustomerPreferences(customer_id=2, channel=ContactPreference.SMS),
        vehicle_id="V1",
        shift_start=local(8, 0),
        shift_end=local(17, 0),
        depot=DEPOT,
        route=(near, far),
        **breaks,  # type: ignore[arg-type]  # the three break_* fields, ints or None
    )


def test_a_break_before_a_stop_makes_its_customer_eta_later_by_the_break() -> None:
    without = _contact()
    # due at 08:10, while the driver is at stop 1: taken there before the long leg
    with_break = _contact(break_after_min=10, break_min=30, break_latest_min=120)
    now = local(7, 30)
    plain = route_etas(without, now, None, TZ_NAME, FLAT)
    broken = route_etas(with_break, now, None, TZ_NAME, FLAT)
    assert plain[1] < local(8, 10), "stop 1 is reached before the break is due"
    assert broken[1] == plain[1]
    assert abs(broken[2] - plain[2] - timedelta(minutes=30)) < timedelta(seconds=1)
    assert fresh_eta(with_break, now, None, TZ_NAME, FLAT) == broken[2]


def test_no_break_rule_and_a_zero_minute_break_change_nothing() -> None:
    now = local(7, 30)
    plain = route_etas(_contact(), now, None, TZ_NAME)
    assert route_etas(_contact(break_after_min=20, break_min=0), now, None, TZ_NAME) == plain
    assert route_etas(replace(_contact(), break_min=30), now, None, TZ_NAME) == plain


@pytest.fixture
def core(db_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=db_url))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    yield c
    c.close()


def _set_break(core: Core, vehicle_id: str, rule: tuple[int | None, int, int | None]) -> None:
    with core.db.session() as session:
        vehicle = session.get(Vehicle, vehicle_id)
        assert vehicle is not None
        vehicle.break_after_min, vehicle.break_min, vehicle.break_latest_min = rule


def test_the_tracking_page_and_messages_read_the_vehicles_break_rule(core: Core) -> None:
    with core.db.session() as session:
        route = session.query(Route).filter(Route.service_date == DAY).first()
        assert route is not None
        first, vehicle_id = route.stops[0].id, route.vehicle_id
    _set_break(core, vehicle_id, (10, 45, 60))
    contact = load_stop_contact(core.db, first, TZ_NAME)
    assert (contact.break_after_min, contact.break_min, contact.break_latest_min) == (10, 45, 60)
    now = local(6, 0)
    no_break = replace(contact, break_after_min=None, break_min=0, break_latest_min=None)
    with_ = route_etas(contact, now, None, TZ_NAME)
    without = route_etas(no_break, now, None, TZ_NAME)
    moved = max(with_, key=lambda sid: with_[sid] - without[sid])
    assert with_[moved] - without[moved] >= timedelta(minutes=45)
    shown = tracking_view(core.db, moved, now, TZ_NAME, near_stops=3).eta_window
    _set_break(core, vehicle_id, (None, 0, None))
    assert tracking_view(core.db, moved, now, TZ_NAME, near_stops=3).eta_window != shown
