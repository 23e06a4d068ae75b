"""The messaging service on a real database with the demo day: one click, the relay, failures.

The core runs under a FakeClock at 11:00 Berlin on the demo day, with no live positions: the
fresh ETA walks each route from the depot, which is enough to make some stops late. Channels
are the capture file (what the demo uses) or a real HTTP gateway on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import TZ, local
from messaging_fakes import FakeGateway

from dispatcher.app import add_messaging
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.errors import ConfigError, DispatcherError, PermissionDenied, ValidationError
from dispatcher.messaging.relay import RetryPolicy
from dispatcher.messaging.service import (
    MessagingService,
    OutboxChanged,
)
from dispatcher.messaging.settings import (
    EmailGateway,
    MessagingSettings,
    SmsGateway,
    messaging_settings,
)
from dispatcher.messaging.situations import Situation
from dispatcher.messaging.stop_facts import fresh_eta, is_late
from dispatcher.model.messaging import OutboxMessage, OutboxStatus
from dispatcher.persistence.orm import AuditEntry, Customer, Stop
from dispatcher.services import ServiceMissing
from dispatcher.users.desk import UserDesk


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Iterator[Core]:
    clock = FakeClock(local(11, 0))
    settings = Settings(
        database_url=db_url,
        sections={"messaging": {"capture_file": str(tmp_path / "capture.jsonl")}},
    )
    core = Core(settings, clock=clock)
    core.seed_demo_if_empty()
    UserDesk(core.db).login("ann")  # the first login: admin; "ann" sends the messages below
    yield core
    core.close()


def service_of(core: Core, **changes: Any) -> MessagingService:
    def configure(settings: MessagingSettings) -> MessagingSettings:
        from dataclasses import replace

        return replace(settings, undo_seconds=8.0, **changes)

    return add_messaging(core, start=False, configure=configure)


def late_stop(service: MessagingService) -> int:
    """The first stop of the demo day whose fresh ETA is past its window."""
    with service.db.session() as session:
        ids = list(session.scalars(Stop.__table__.select().with_only_columns(Stop.id)))
    now = service.clock.now()
    for stop_id in ids:
        contact = service.load_contact(stop_id)
        if is_late(contact, fresh_eta(contact, now, None, service.settings.timezone)):
            return stop_id
    raise AssertionError("the demo day has no late stop at 11:00")


def test_one_click_on_a_late_stop_queues_running_late_with_the_fresh_eta(core: Core) -> None:
    service = service_of(core)
    stop_id = late_stop(service)
    send = service.message_stop(stop_id, None, "ann")
    assert send.situation is Situation.RUNNING_LATE
    row = send.message
    assert row is not None and row.status is OutboxStatus.QUEUED
    assert send.eta is not None
    eta_text = send.eta.astimezone(TZ).strftime("%H:%M")
    assert eta_text in row.body
    assert row.created_by == "ann" and row.stop_ref == send.contact.order_ref
    # the undo window: not before 8 s from now
    assert row.not_before == core.clock.now() + timedelta(seconds=8)
    with core.db.session() as session:
        audit = session.query(AuditEntry).filter_by(entity="outbox").all()
    assert [(a.actor, a.action, a.entity_id) for a in audit] == [
        ("ann", "message_send", str(row.id))
    ]


def test_a_viewer_cannot_message_a_customer_and_nothing_is_queued(core: Core) -> None:
    service = service_of(core)
    UserDesk(core.db).add("ann", "vic", "viewer")
    with pytest.raises(PermissionDenied, match="vic has the viewer role"):
        service.message_stop(late_stop(service), None, "vic")
    with pytest.raises(PermissionDenied, match="'mallory' is not a user"):
        service.notify_route("V01", timedelta(minutes=15), "mallory")
    assert service.history() == []


def test_double_click_gives_one_row_and_the_relay_sends_it_once(core: Core, tmp_path: Path) -> None:
    service = service_of(core)
    stop_id = late_stop(service)
    first = service.message_stop(stop_id, "late", "ann")
    second = service.message_stop(stop_id, "late", "ann")
    assert first.message and second.message and first.message.id == second.message.id
    assert not second.outcome.created
    assert service.run_relay_once() == 0  # still in the undo window
    assert isinstance(core.clock, FakeClock)
    core.clock.advance(9)
    assert service.run_relay_once() == 1
    seen: list[OutboxChanged] = []
    core.bus.subscribe(OutboxChanged, seen.append)
    service.tick()
    assert seen and first.message.id in seen[0].message_ids
    lines = (tmp_path / "capture.jsonl").read_text().splitlines()
    assert (
        len(lines) == 1 and json.loads(lines[0])["idempotency_key"] == first.message.idempotency_key
    )
    assert service.history(first.contact.order_ref)[0].status is OutboxStatus.SENT


def test_undo_inside_the_window_sends_nothing(core: Core, tmp_path: Path) -> None:
    service = service_of(core)
    send = service.message_stop(late_stop(service), None, "ann")
    assert send.message is not None and send.message.id is not None
    assert service.undo(send.message.id, "ann")
    assert isinstance(core.clock, FakeClock)
    core.clock.advance(60)
    assert service.run_relay_once() == 0
    fetched = service.store.get(send.message.id)
    assert fetched is not None and fetched.status is OutboxStatus.CANCELLED
    assert not (tmp_path / "capture.jsonl").exists()


def test_a_failed_stop_gets_missed_you(core: Core) -> None:
    service = service_of(core)
    with core.db.session() as session:
        stop = session.query(Stop).order_by(Stop.id).first()
        assert stop is not None
        stop.status, stop.failure_reason = "failed", "nobody home"
        stop_id = stop.id
    send = service.message_stop(stop_id, None, "ann")
    assert send.situation is Situation.MISSED_YOU
    assert send.message is not None


def test_opted_out_customers_get_nothing_and_bad_addresses_are_flagged(core: Core) -> None:
    service = service_of(core)
    stop_id = late_stop(service)
    with core.db.session() as session:
        stop = session.get(Stop, stop_id)
        assert stop is not None and stop.customer is not None
        stop.customer.opt_out = True
        customer_id = stop.customer.id
    send = service.message_stop(stop_id, "late", "ann")
    assert send.message is None and send.outcome.reason == "customer opted out of messages"
    with core.db.session() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        customer.opt_out, customer.preferred_channel, customer.phone = False, "sms", "12"
    send = service.message_stop(stop_id, "late", "ann")
    assert send.message is None and "not" in (send.outcome.reason or "")
    with core.db.session() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.contact_problem


def test_nothing_to_tell_an_on_time_pending_stop_is_a_clear_error(core: Core) -> None:
    service = service_of(core)
    now = core.clock.now()
    with core.db.session() as session:
        ids = list(session.scalars(Stop.__table__.select().with_only_columns(Stop.id)))
    for stop_id in ids:
        contact = service.load_contact(stop_id)
        eta = fresh_eta(contact, now, None, service.settings.timezone)
        if eta is not None and not is_late(contact, eta) and eta - now > timedelta(hours=1):
            break
    with pytest.raises(ValidationError, match="nothing to tell"):
        service.message_stop(stop_id, None, "ann")


def test_bulk_notifies_only_customers_whose_eta_moved(core: Core) -> None:
    service = service_of(core)
    contact = service.load_contact(late_stop(service))
    assert contact.vehicle_id is not None
    sends = service.notify_route(contact.vehicle_id, timedelta(minutes=15), "ann")
    assert sends, "at 11:00 with the van still at the depot, ETAs moved"
    assert all(s.message is not None or s.outcome.reason for s in sends)
    again = service.notify_route(contact.vehicle_id, timedelta(minutes=15), "ann")
    assert not any(s.outcome.created for s in again)  # a second click adds nothing


def fail_fast(core: Core, closed_port: int) -> MessagingService:
    """SMS through a gateway nobody listens on, three attempts."""
    service = service_of(
        core,
        sms=SmsGateway.WEBHOOK,
        webhook={"url": f"http://127.0.0.1:{closed_port}/sms", "token_env": "", "timeout_s": 2},
        retry=RetryPolicy(max_attempts=3, initial=timedelta(seconds=30), jitter=0.0),
    )
    with core.db.session() as session:
        for customer in session.query(Customer):
            customer.preferred_channel = "sms"
    return service


def send_until_failed(core: Core, service: MessagingService) -> int:
    send = service.message_stop(late_stop(service), "late", "ann")
    assert send.message is not None and send.message.id is not None
    assert isinstance(core.clock, FakeClock)
    for _ in range(3):
        core.clock.advance(3600)
        service.run_relay_once()
    row = service.store.get(send.message.id)
    assert row is not None and row.status is OutboxStatus.FAILED and row.attempts == 3
    assert "gave up after 3 attempts" in row.last_error
    return send.message.id


def test_gateway_down_is_retried_then_failed_and_announced(core: Core, closed_port: int) -> None:
    service = fail_fast(core, closed_port)
    reported: list[int] = []
    real_sink = service._failure_sink
    assert real_sink is not None

    def sink(row: OutboxMessage) -> int | None:
        reported.append(row.id or 0)
        real_sink(row)
        return 4242

    service._failure_sink = sink
    message_id = send_until_failed(core, service)
    assert reported == [message_id]
    seen: list[object] = []
    from dispatcher.alerts.events import AlertsChanged

    core.bus.subscribe(AlertsChanged, seen.append)
    service.tick()
    assert seen == [AlertsChanged(frozenset({4242}), frozenset({4242}))]
    assert [r.id for r in service.failed()] == [message_id]


def test_a_failed_message_becomes_an_exception_in_the_queue(core: Core, closed_port: int) -> None:
    from dispatcher.persistence.orm import AlertRow

    service = fail_fast(core, closed_port)
    message_id = send_until_failed(core, service)
    with core.db.session() as session:
        alerts = session.query(AlertRow).filter_by(kind="message_failed").all()
        assert len(alerts) == 1
        assert alerts[0].details["message_id"] == message_id
        assert alerts[0].stop_id is not None


def test_gateway_errors_then_success_delivers_once(core: Core, gateway: FakeGateway) -> None:
    gateway.script = [500, 500, 200]
    service = service_of(
        core,
        sms=SmsGateway.WEBHOOK,
        email=EmailGateway.NONE,
        webhook={"url": gateway.url + "/sms", "token_env": ""},
        retry=RetryPolicy(max_attempts=5, initial=timedelta(seconds=30), jitter=0.0),
    )
    with core.db.session() as session:
        for customer in session.query(Customer):
            customer.preferred_channel = "sms"
    send = service.message_stop(late_stop(service), "late", "ann")
    assert isinstance(core.clock, FakeClock) and send.message is not None
    for _ in range(4):
        core.clock.advance(600)
        service.run_relay_once()
    fetched = service.store.get(send.message.id or 0)
    assert fetched is not None and fetched.status is OutboxStatus.SENT
    assert len(gateway.delivered) == 1


def test_messaging_settings_are_checked() -> None:
    assert messaging_settings(None).sms is SmsGateway.CAPTURE
    parsed = messaging_settings({"sms": "Twilio", "undo_seconds": 5, "retry": {"max_attempts": 2}})
    assert parsed.sms is SmsGateway.TWILIO and parsed.undo_seconds == 5.0
    assert parsed.retry.max_attempts == 2
    for bad, match in (
        ({"sms": "pigeon"}, "not one of"),
        ({"colour": "red"}, "unknown setting 'messaging.colour'"),
        ({"undo_seconds": "soon"}, "expected float"),
        ({"smtp": "mail.example.com"}, "must be a table"),
    ):
        with pytest.raises(ConfigError, match=match):
            messaging_settings(bad)


def test_added_once_runs_as_a_core_service_and_is_found_by_type(core: Core) -> None:
    with pytest.raises(ServiceMissing, match="outbox relay"):
        core.service(MessagingService)  # a bare core builds nothing on demand
    service = add_messaging(core, start=True)
    assert core.service(MessagingService) is service
    with pytest.raises(DispatcherError, match="already"):
        add_messaging(core)
    assert service in core.services
    core.tick()  # the service ticks without raising


def test_outbox_command_lists_rows_as_text_and_json(core: Core) -> None:
    import io

    from dispatcher.cli import build_parser, run_headless

    service = service_of(core)
    send = service.message_stop(late_stop(service), "late", "ann")
    assert send.message is not None
    settings = core.settings

    def run(*argv: str) -> str:
        out = io.StringIO()
        args = build_parser().parse_args(["outbox", *argv])
        assert run_headless(args, settings, out) == 0
        return out.getvalue()

    text = run()
    assert f"#{send.message.id}" in text and "queued" in text and text.endswith("1 message\n")
    rows = json.loads(run("--json", "--status", "queued"))
    assert rows[0]["idempotency_key"] == send.message.idempotency_key
    assert json.loads(run("--json", "--status", "failed")) == []
    assert json.loads(run("--json", "--stop", send.contact.order_ref))[0]["id"] == send.message.id
    with pytest.raises(DispatcherError, match="not one of"):
        run("--status", "lost")
