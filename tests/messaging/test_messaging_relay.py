"""The relay against real servers on loopback: an HTTP SMS gateway and an SMTP server.

Time only moves when the FakeClock is told to: retries are rows with a later
``next_attempt_at``, never sleeps.
"""

from __future__ import annotations

import base64
import email
import json
import random
from dataclasses import replace
from datetime import timedelta
from email.message import Message
from pathlib import Path

import pytest
from messaging_fakes import FakeGateway, SmtpInbox

from dispatcher.clock import FakeClock
from dispatcher.messaging.channels import CaptureChannel, Channel, DriverChannel, SendResult
from dispatcher.messaging.email_smtp import (
    SmtpConfig,
    SmtpEmailChannel,
    SmtpSecurity,
    message_id_for,
)
from dispatcher.messaging.outbox import InMemoryOutboxStore
from dispatcher.messaging.relay import Relay, RetryPolicy
from dispatcher.messaging.sms_http import (
    JsonWebhookSmsChannel,
    TwilioConfig,
    TwilioSmsChannel,
    WebhookConfig,
    parse_twilio_status,
)
from dispatcher.model.messaging import OutboxMessage, OutboxStatus

POLICY = RetryPolicy(max_attempts=3, initial=timedelta(seconds=30), jitter=0.0)


def queue(
    store: InMemoryOutboxStore,
    clock: FakeClock,
    *,
    key: str = "k1",
    channel: str = "sms",
    address: str = "+447911123456",
    body: str = "Acme: running late, new ETA 14:35.",
) -> OutboxMessage:
    now = clock.now()
    row, _ = store.enqueue(
        OutboxMessage(
            idempotency_key=key,
            customer_id=7,
            stop_ref="S-1",
            situation="running_late",
            template_id=f"running_late/{channel}/en",
            template_version=1,
            channel=channel,
            address=address,
            subject="Your delivery is running late",
            body=body,
            not_before=now,
            next_attempt_at=now,
            created_at=now,
            created_by="ann",
        )
    )
    return row


def make_relay(
    store: InMemoryOutboxStore,
    channels: dict[str, Channel],
    clock: FakeClock,
    *,
    worker: str = "w1",
    failed: list[OutboxMessage] | None = None,
) -> Relay:
    on_failed = failed.append if failed is not None else None
    return Relay(
        store,
        channels,
        clock,
        worker_id=worker,
        policy=POLICY,
        on_failed=on_failed,
        lease=timedelta(minutes=5),
        rng=random.Random(1),
    )


def webhook(gateway: FakeGateway) -> JsonWebhookSmsChannel:
    return JsonWebhookSmsChannel(WebhookConfig(url=gateway.url + "/sms", token_env=""))


def status(store: InMemoryOutboxStore, row: OutboxMessage) -> OutboxStatus:
    assert row.id is not None
    found = store.get(row.id)
    assert found is not None
    return found.status


def test_webhook_gateway_receives_the_json(clock: FakeClock, gateway: FakeGateway) -> None:
    store = InMemoryOutboxStore()
    row = queue(store, clock)
    report = make_relay(store, {"sms": webhook(gateway)}, clock).run_once()
    assert report.sent == [row.id]
    [request] = gateway.requests
    assert request.path == "/sms"
    assert request.body["to"] == "+447911123456"
    assert request.body["text"] == "Acme: running late, new ETA 14:35."
    assert request.body["idempotency_key"] == "k1"
    assert request.headers["idempotency-key"] == "k1"
    sent = store.get(row.id or 0)
    assert sent is not None and sent.status is OutboxStatus.SENT and sent.provider_id == "gw-1"


def test_two_server_errors_then_success_delivers_once(
    clock: FakeClock, gateway: FakeGateway
) -> None:
    store = InMemoryOutboxStore()
    row = queue(store, clock)
    relay = make_relay(store, {"sms": webhook(gateway)}, clock)
    gateway.script = [500, 503]

    assert relay.run_once().retried == [row.id]
    retry = store.get(row.id or 0)
    assert retry is not None and retry.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert "503" not in retry.last_error and "500" in retry.last_error
    assert relay.run_once().handled == 0  # not due yet: nothing is sent early
    clock.advance(30)
    assert relay.run_once().retried == [row.id]
    fetched = store.get(row.id or 0)
    assert fetched is not None and fetched.next_attempt_at == clock.now() + timedelta(seconds=60)
    clock.advance(60)
    assert relay.run_once().sent == [row.id]

    assert len(gateway.requests) == 3
    assert len(gateway.delivered) == 1
    assert {r.headers["idempotency-key"] for r in gateway.requests} == {"k1"}
    delivered = relay.record_receipt("gw-1", delivered=True)
    assert delivered is not None and delivered.status is OutboxStatus.DELIVERED
    assert delivered.attempts == 3


def test_gateway_down_is_retried_then_failed_and_reported(
    clock: FakeClock, closed_port: int
) -> None:
    store = InMemoryOutboxStore()
    row = queue(store, clock)
    failed: list[OutboxMessage] = []
    channel = JsonWebhookSmsChannel(
        WebhookConfig(url=f"http://127.0.0.1:{closed_port}/sms", token_env="", timeout_s=2)
    )
    relay = make_relay(store, {"sms": channel}, clock, failed=failed)
    for _ in range(POLICY.max_attempts - 1):
        assert relay.run_once().retried == [row.id]
        assert failed == []
        clock.advance(hours=1)
    assert relay.run_once().failed == [row.id]
    [gone] = failed
    assert gone.status is OutboxStatus.FAILED and gone.attempts == 3
    assert gone.last_error.startswith("gave up after 3 attempts: gateway unreachable")
    clock.advance(hours=5)
    assert relay.run_once().handled == 0


def test_a_client_error_fails_at_once(clock: FakeClock, gateway: FakeGateway) -> None:
    store = InMemoryOutboxStore()
    row = queue(store, clock)
    failed: list[OutboxMessage] = []
    gateway.script = [400]
    assert make_relay(store, {"sms": webhook(gateway)}, clock, failed=failed).run_once().failed == [
        row.id
    ]
    assert "400" in failed[0].last_error and failed[0].attempts == 1


class _KilledAfterTheGatewayAccepted(BaseException):
    """Stands for the process dying: not an Exception, nothing in the relay catches it."""


class _CrashOnMarkSent(InMemoryOutboxStore):
    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    def mark_sent(self, message_id: int, now, provider_id: str, worker_id: str):
        if self.crash:
            self.crash = False
            raise _KilledAfterTheGatewayAccepted
        return super().mark_sent(message_id, now, provider_id, worker_id)


def test_a_crash_before_marking_sent_resends_with_the_same_key(
    clock: FakeClock, gateway: FakeGateway
) -> None:
    store = _CrashOnMarkSent()
    row = queue(store, clock)
    with pytest.raises(_KilledAfterTheGatewayAccepted):
        make_relay(store, {"sms": webhook(gateway)}, clock, worker="w1").run_once()
    assert status(store, row) is OutboxStatus.SENDING  # the row is stuck with the dead worker

    restarted = make_relay(store, {"sms": webhook(gateway)}, clock, worker="w2")
    assert restarted.run_once().handled == 0  # the lease has not run out yet
    clock.advance(minutes=5)
    assert restarted.run_once().sent == [row.id]

    assert len(gateway.requests) == 2
    assert [r.headers["idempotency-key"] for r in gateway.requests] == ["k1", "k1"]
    assert len(gateway.delivered) == 1  # the gateway deduplicated: the customer got one SMS
    final = store.get(row.id or 0)
    assert final is not None and final.provider_id == "gw-1" and final.attempts == 2


def test_twilio_compatible_api(
    clock: FakeClock, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_TWILIO_TOKEN", "s3cret")
    channel = TwilioSmsChannel(
        TwilioConfig(
            account_sid="AC123",
            sender="+15005550006",
            base_url=gateway.url,
            token_env="TEST_TWILIO_TOKEN",
        )
    )
    store = InMemoryOutboxStore()
    row = queue(store, clock)
    assert make_relay(store, {"sms": channel}, clock).run_once().sent == [row.id]
    [request] = gateway.requests
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"AC123:s3cret").decode()
    assert request.body == {
        "To": "+447911123456",
        "From": "+15005550006",
        "Body": "Acme: running late, new ETA 14:35.",
    }
    assert request.headers["idempotency-key"] == "k1"


def test_twilio_without_a_token_waits_for_one(clock: FakeClock, gateway: FakeGateway) -> None:
    channel = TwilioSmsChannel(TwilioConfig("AC1", base_url=gateway.url, token_env="NO_SUCH_VAR_X"))
    store = InMemoryOutboxStore()
    result = channel.send(queue(store, clock))
    assert result.temporary_failure and "NO_SUCH_VAR_X" in result.error
    assert gateway.requests == []


def test_twilio_status_callbacks_are_read() -> None:
    assert parse_twilio_status({"MessageSid": "SM1", "MessageStatus": "delivered"}) == (
        "SM1",
        True,
        "",
    )
    sid, delivered, error = parse_twilio_status(
        {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )
    assert (sid, delivered) == ("SM1", False) and "30003" in error
    assert parse_twilio_status({"MessageSid": "SM1", "MessageStatus": "sent"})[1] is None


def test_bearer_token_comes_from_the_environment(
    clock: FakeClock, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SMS_TOKEN", "tok")
    channel = JsonWebhookSmsChannel(WebhookConfig(gateway.url, token_env="TEST_SMS_TOKEN"))
    assert channel.send(queue(InMemoryOutboxStore(), clock)).ok
    assert gateway.requests[0].headers["authorization"] == "Bearer tok"


def test_a_negative_receipt_fails_the_row(clock: FakeClock, gateway: FakeGateway) -> None:
    store = InMemoryOutboxStore()
    row = queue(store, clock)
    failed: list[OutboxMessage] = []
    relay = make_relay(store, {"sms": webhook(gateway)}, clock, failed=failed)
    relay.run_once()
    assert relay.record_receipt("unknown-id", delivered=True) is None
    result = relay.record_receipt("gw-1", delivered=False, error="carrier reported undelivered")
    assert result is not None and result.status is OutboxStatus.FAILED
    assert [m.id for m in failed] == [row.id]


def test_the_undo_window_cancels_before_it_leaves(clock: FakeClock, gateway: FakeGateway) -> None:
    store = InMemoryOutboxStore()
    row = queue(store, clock)
    store.enqueue(replace(row, idempotency_key="later", next_attempt_at=clock.now()))
    held, _ = store.enqueue(
        replace(row, idempotency_key="held", next_attempt_at=clock.now() + timedelta(seconds=10))
    )
    relay = make_relay(store, {"sms": webhook(gateway)}, clock)
    assert len(relay.run_once().sent) == 2
    assert relay.next_due_in() == timedelta(seconds=10)
    assert store.cancel(held.id or 0, clock.now())
    clock.advance(60)
    assert relay.run_once().handled == 0
    assert {r.body["idempotency_key"] for r in gateway.requests} == {"k1", "later"}


class _Broken:
    def send(self, message: OutboxMessage) -> SendResult:
        raise RuntimeError("bug in a channel")


@pytest.mark.allow_error_logs  # the failure is provoked; it must be logged, not raised
def test_a_broken_channel_or_a_missing_one_does_not_stop_the_relay(clock: FakeClock) -> None:
    store = InMemoryOutboxStore()
    broken = queue(store, clock, key="a")
    unknown = queue(store, clock, key="b", channel="pigeon")
    report = make_relay(store, {"sms": _Broken()}, clock).run_once()
    assert report.retried == [broken.id]
    assert report.failed == [unknown.id]
    fetched = store.get(unknown.id or 0)
    assert fetched is not None and "no channel configured for 'pigeon'" in fetched.last_error


def test_retry_policy_backs_off_with_bounded_jitter() -> None:
    policy = RetryPolicy(
        initial=timedelta(seconds=10), multiplier=3, max_delay=timedelta(minutes=10), jitter=0.25
    )
    rng = random.Random(3)
    for attempt, base in [(1, 10), (2, 30), (3, 90), (4, 270), (5, 600), (9, 600)]:
        delay = policy.delay(attempt, rng).total_seconds()
        assert base * 0.75 <= delay <= base * 1.25
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_email_reaches_a_real_smtp_server(clock: FakeClock, smtp_inbox: SmtpInbox) -> None:
    config = SmtpConfig(
        host=smtp_inbox.host,
        port=smtp_inbox.port,
        security=SmtpSecurity.NONE,
        sender="dispatch@acme.example",
        sender_name="Acme Deliveries",
    )
    store = InMemoryOutboxStore()
    row = queue(
        store,
        clock,
        channel="email",
        address="dana@example.com",
        body="Hello Dana,\n\nYour delivery is running late. New arrival 14:35.",
    )
    store.enqueue(replace(row, idempotency_key="k2", body_html="<p>Hello &lt;Dana&gt;</p>"))
    report = make_relay(store, {"email": SmtpEmailChannel(config, clock)}, clock).run_once()
    assert len(report.sent) == 2

    first, second = smtp_inbox.envelopes
    assert first.rcpt_tos == ["dana@example.com"]
    assert first.mail_from == "dispatch@acme.example"
    mail: Message = email.message_from_bytes(first.original_content)
    assert mail["Subject"] == "Your delivery is running late"
    assert mail["Message-ID"] == message_id_for("k1", "acme.example")
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert "Your delivery is running late. New arrival 14:35." in payload.decode()
    with_html = email.message_from_bytes(second.original_content)
    assert with_html.is_multipart()
    assert "<p>Hello &lt;Dana&gt;</p>" in second.original_content.decode()
    sent = store.get(row.id or 0)
    assert sent is not None and sent.provider_id == message_id_for("k1", "acme.example")


def test_smtp_server_down_is_a_temporary_failure(clock: FakeClock, closed_port: int) -> None:
    config = SmtpConfig(host="127.0.0.1", port=closed_port, security=SmtpSecurity.NONE, timeout_s=2)
    result = SmtpEmailChannel(config, clock).send(queue(InMemoryOutboxStore(), clock))
    assert result.temporary_failure and "unreachable" in result.error


def test_capture_channel_writes_jsonl(clock: FakeClock, tmp_path: Path) -> None:
    path = tmp_path / "out" / "messages.jsonl"
    store = InMemoryOutboxStore()
    queue(store, clock, key="a")
    queue(store, clock, key="b", body="Zoë: 🙂")
    make_relay(store, {"sms": CaptureChannel(path, clock)}, clock).run_once()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["idempotency_key"] for line in lines] == ["a", "b"]
    assert lines[1]["text"] == "Zoë: 🙂" and lines[1]["to"] == "+447911123456"


def test_driver_messages_go_over_mqtt(clock: FakeClock) -> None:
    published: list[tuple[str, bytes, int, bool]] = []
    channel = DriverChannel(lambda t, p, q, r: published.append((t, p, q, r)), clock, "acme")
    store = InMemoryOutboxStore()
    row = queue(store, clock, channel="driver", address="VAN-7", body="Call the depot")
    assert make_relay(store, {"driver": channel}, clock).run_once().sent == [row.id]
    [(topic, payload, qos, retain)] = published
    assert (topic, qos, retain) == ("acme/vehicles/VAN-7/cmd", 1, False)
    assert json.loads(payload)["text"] == "Call the depot"
    assert json.loads(payload)["id"] == "k1"
    assert channel.send(replace(row, address="VAN/#")).temporary_failure is False


def test_an_mqtt_publish_error_is_temporary(clock: FakeClock) -> None:
    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        raise OSError("not connected")

    result = DriverChannel(publish, clock).send(
        queue(InMemoryOutboxStore(), clock, channel="driver", address="VAN-7")
    )
    assert result.temporary_failure and "not connected" in result.error
