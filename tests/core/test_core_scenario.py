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
