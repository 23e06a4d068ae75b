"""Automatic notifications on the demo day: each trigger fires once per stop, through the
outbox (opt-out and rate limit honoured), saying which trigger sent it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fleet_zone import local

from dispatcher.app import add_messaging
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.errors import ConfigError
from dispatcher.messaging.auto import AutoNotifier, AutoSettings
from dispatcher.messaging.service import MessagingService
from dispatcher.persistence import partitions
from dispatcher.persistence.orm import Customer, PositionRow, Stop
from dispatcher.persistence.web_repo import routed_stops_of_day
from dispatcher.users.desk import UserDesk


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Iterator[Core]:
    settings = Settings(
        database_url=db_url,
        sections={"messaging": {"capture_file": str(tmp_path / "c.jsonl"), "undo_seconds": 0}},
    )
    core = Core(settings, clock=FakeClock(local(9, 0)))
    core.seed_demo_if_empty(vehicles=2, stops=12)
    UserDesk(core.db).login("ann")
    add_messaging(core, start=False)
    yield core
    core.close()


def first_route(core: Core) -> list[int]:
    routes = routed_stops_of_day(core.db, local(9, 0).date())
    assert routes
    return next(iter(routes.values()))


def van_fix(core: Core, stop_id: int) -> None:
    now = core.clock.now()
    if partitions.is_partitioned(core.db.engine):
        partitions.ensure_days(core.db.engine, [partitions.utc_day(now)])
    with core.db.session() as s:
        stop = s.get(Stop, stop_id)
        assert stop is not None and stop.route is not None
        s.add(
            PositionRow(
                vehicle_id=stop.route.vehicle_id,
                ts=now - timedelta(minutes=1),
                lat=stop.lat,
                lon=stop.lon,
            )
        )


def auto_rows(service: MessagingService) -> list[tuple[str | None, str]]:
    return sorted(
        (m.stop_ref, m.created_by) for m in service.history() if m.created_by.startswith("auto:")
    )


def test_triggers_fire_once_each_and_say_why(core: Core) -> None:
    service = core.service(MessagingService)
    auto = AutoNotifier(service, AutoSettings(enabled=True, stops_away=2, eta_within_min=0))
    assert auto.run_once() == []  # no van on the road yet: nothing to say
    route = first_route(core)
    van_fix(core, route[0])
    first = auto.run_once()
    triggers = {(s.stop_id, s.trigger) for s in first}
    assert (route[0], "arriving_soon") in triggers and (route[1], "arriving_soon") in triggers
    assert (route[2], "route_started") in triggers
    assert auto.run_once() == []  # once per stop and trigger
    refs = {service.order_ref_of(route[0]): "auto:arriving_soon"}
    assert all(
        created == "auto:arriving_soon" for ref, created in auto_rows(service) if ref in refs
    )
    with core.db.session() as s:  # delivered, with its proof-of-delivery reference
        stop = s.get(Stop, route[0])
        assert stop is not None
        stop.status, stop.pod_ref, stop.completed_at = "done", "POD-1", core.clock.now()
    again = {(s.stop_id, s.trigger): s for s in auto.run_once()}
    assert again[(route[0], "delivered")].message_id is not None
    # The third stop is now within two stops: arriving soon, after "on its way".
    assert set(again) == {(route[0], "delivered"), (route[2], "arriving_soon")}

    # Why each was sent is stored beside the outbox row, in plain words (Messages dock).
    sent = {(s.stop_id, s.trigger): s.message_id for s in [*first, *again.values()] if s.message_id}
    reasons = service.auto_reasons(sent.values())
    assert reasons[sent[(route[0], "arriving_soon")]] == ("arriving_soon", "next stop")
    assert reasons[sent[(route[1], "arriving_soon")]] == ("arriving_soon", "1 stop away")
    assert reasons[sent[(route[2], "route_started")]] == ("route_started", "route started")
    assert reasons[sent[(route[0], "delivered")]] == ("delivered", "delivered")


def test_opted_out_customers_get_nothing_and_the_rate_limit_holds(core: Core) -> None:
    service = core.service(MessagingService)
    route = first_route(core)
    with core.db.session() as s:
        stop = s.get(Stop, route[0])
        assert stop is not None and stop.customer_id is not None
        customer = s.get(Customer, stop.customer_id)
        assert customer is not None
        customer.opt_out = True
    van_fix(core, route[0])
    auto = AutoNotifier(service, AutoSettings(enabled=True, per_customer_per_hour=0))
    sent = auto.run_once()
    mine = [s for s in sent if s.stop_id == route[0]]
    assert mine and all(s.message_id is None for s in mine)
    assert all(s.reason == "rate limit" for s in sent)  # 0 per hour: none at all


def test_auto_settings_are_checked() -> None:
    assert not AutoSettings.from_mapping(None).enabled
    assert AutoSettings.from_mapping({"enabled": True, "check_every_s": 5}).check_every_s == 5.0
    for bad in ({"enabled": "yes"}, {"stops_away": -1}, {"stops_away": True}, {"nope": 1}):
        with pytest.raises(ConfigError):
            AutoSettings.from_mapping(bad)
