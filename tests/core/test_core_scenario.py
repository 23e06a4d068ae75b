"""The demo day is a realistic Berlin scenario and the same for the same seed."""

from __future__ import annotations

from datetime import timedelta

from fleet_zone import demo_day


def test_demo_is_deterministic_for_a_seed() -> None:
    a, b = demo_day(), demo_day()
    assert a.orders == b.orders and a.routes == b.routes
    assert demo_day(seed=8).orders != a.orders


def test_demo_has_the_fleet_and_mix_a_dispatcher_expects() -> None:
    s = demo_day()
    assert len(s.vehicles) == 12 and len(s.depots) >= 1
    assert 240 <= len(s.orders) <= 260
    assert all(52.40 < o.lat < 52.60 and 13.20 < o.lon < 13.60 for o in s.orders)
    no_window = [o for o in s.orders if o.window_start is None]
    two_hours = [
        o
        for o in s.orders
        if o.window_start and o.window_end and o.window_end - o.window_start == timedelta(hours=2)
    ]
    tight = [
        o
        for o in s.orders
        if o.window_start
        and o.window_end
        and o.window_end - o.window_start <= timedelta(minutes=30)
    ]
    assert no_window and two_hours and tight
    assert 3 <= sum(o.kind == "pickup" for o in s.orders) <= 30
    assert all(o.customer.phone and o.customer.email for o in s.orders)
    routed = sorted(ref for refs in s.routes.values() for ref in refs)
    assert routed == sorted(o.order_ref for o in s.orders)


def test_a_larger_demo_keeps_the_mix_and_gives_every_driver_a_name_of_their_own() -> None:
    """``dispatcher demo --vehicles 100 --stops 2500``: past twelve vehicles the demo used to
    add only cargo bikes, and its drivers' names repeated every twelve."""
    s = demo_day(n_vehicles=100, n_orders=2500)
    assert len(s.vehicles) == 100 and len(s.orders) == 2500
    kinds = [(v.name.rsplit(" ", 1)[0], v.skills) for v in s.vehicles]
    bikes = sum(1 for name, _ in kinds if name == "Cargo bike")
    cooling = sum(1 for _, skills in kinds if "cooling" in skills)
    vans = sum(1 for name, skills in kinds if name == "Van" and not skills)
    assert (vans, cooling, bikes) == (68, 16, 16)  # eight, two and two of every twelve
    assert len({d.name for d in s.drivers}) == 100
    assert len({v.id for v in s.vehicles}) == len({v.plate for v in s.vehicles}) == 100
    routed = sorted(ref for refs in s.routes.values() for ref in refs)
    assert routed == sorted(o.order_ref for o in s.orders)
    assert sum(1 for refs in s.routes.values() if refs) == 100, "every vehicle has work"


def test_the_default_demo_is_the_first_twelve_of_a_larger_one() -> None:
    small, large = demo_day(), demo_day(n_vehicles=40)
    assert large.vehicles[:12] == small.vehicles and large.drivers[:12] == small.drivers
