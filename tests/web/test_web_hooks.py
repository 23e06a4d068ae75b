"""The gateways' webhooks on a live server: STOP opts out, receipts mark delivered, and
forged, replayed or oversized requests change nothing (and are counted)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from demo_day import demo_core, messaging, third_stop, web_of

from dispatcher.core import Core
from dispatcher.model.messaging import OutboxStatus
from dispatcher.persistence.orm import AuditEntry, Customer
from dispatcher.persistence.web_repo import conversation
from dispatcher.web.hooks import json_signature, twilio_signature

TOKEN = "twilio-test-token"
HOOK_TOKEN = "webhook-test-token"


@pytest.fixture
def core(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Core]:
    monkeypatch.setenv("DISPATCHER_TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("DISPATCHER_SMS_TOKEN", HOOK_TOKEN)
    core = demo_core(db_url, tmp_path)
    yield core
    core.close()


def twilio_post(
    core: Core, path: str, fields: dict[str, str], token: str = TOKEN
) -> httpx.Response:
    base = web_of(core).base_url
    signature = twilio_signature(token, base + path, fields)
    return httpx.post(base + path, data=fields, headers={"X-Twilio-Signature": signature})


def customer_of(core: Core) -> tuple[int, str, str]:
    stop_id = third_stop(core)
    contact = messaging(core).load_contact(stop_id)
    assert contact.customer.customer_id is not None and contact.customer.phone
    return contact.customer.customer_id, contact.customer.phone, contact.order_ref


def opted_out(core: Core, customer_id: int) -> bool:
    with core.db.session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        return customer.opt_out


def test_an_inbound_stop_opts_the_customer_out_once_and_start_opts_back_in(core: Core) -> None:
    customer_id, phone, order_ref = customer_of(core)
    stop = {"From": phone, "Body": "Stop please", "MessageSid": "SM1"}
    answer = twilio_post(core, "/hooks/twilio/sms", stop)
    assert answer.status_code == 200 and "<Response>" in answer.text
    assert opted_out(core, customer_id)
    assert twilio_post(core, "/hooks/twilio/sms", stop).status_code == 200  # Twilio's retry
    (row,) = conversation(core.db, order_ref)
    assert row.action == "opt_out" and row.body == "Stop please"
    with core.db.session() as s:
        audit = s.query(AuditEntry).filter_by(entity="customer", entity_id=str(customer_id)).all()
    assert [a.action for a in audit] == ["customer.opt_out"]
    # Opted out: a message about the order is not sent.
    send = messaging(core).message_stop(third_stop(core), "arriving_soon", "ann")
    assert send.message is None and send.outcome.reason
    twilio_post(core, "/hooks/twilio/sms", {"From": phone, "Body": "START", "MessageSid": "SM2"})
    assert not opted_out(core, customer_id)


def test_other_replies_land_in_the_orders_conversation_as_written(core: Core) -> None:
    _, phone, order_ref = customer_of(core)
    hostile = "<script>alert(1)</script> ring twice & leave at no. 5"
    twilio_post(core, "/hooks/twilio/sms", {"From": phone, "Body": hostile, "MessageSid": "SM9"})
    (row,) = conversation(core.db, order_ref)
    assert row.action == "reply" and row.body == hostile  # kept; escaped wherever shown


def test_a_receipt_marks_the_outbox_row_delivered(core: Core) -> None:
    service = messaging(core)
    send = service.message_stop(third_stop(core), "arriving_soon", "ann")
    assert send.message is not None and send.message.id is not None
    service.run_relay_once()
    sent = service.store.get(send.message.id)
    assert sent is not None and sent.status is OutboxStatus.SENT and sent.provider_id
    fields = {"MessageSid": sent.provider_id, "MessageStatus": "delivered"}
    assert twilio_post(core, "/hooks/twilio/status", fields).status_code == 200
    delivered = service.store.get(send.message.id)
    assert delivered is not None and delivered.status is OutboxStatus.DELIVERED


def test_the_json_webhook_is_signed_timed_and_idempotent(core: Core) -> None:
    customer_id, phone, order_ref = customer_of(core)
    base = web_of(core).base_url
    body = json.dumps({"type": "inbound", "id": "gw-1", "from": phone, "text": "STOP"}).encode()
    stamp = str(int(core.clock.now().timestamp()))

    def post(payload: bytes, stamp: str, signature: str) -> httpx.Response:
        headers = {
            "X-Dispatcher-Timestamp": stamp,
            "X-Dispatcher-Signature": signature,
            "Content-Type": "application/json",
        }
        return httpx.post(base + "/hooks/sms", content=payload, headers=headers)

    assert post(body, stamp, "sha256=" + "0" * 64).status_code == 403
    old = str(int(core.clock.now().timestamp()) - 3600)
    assert post(body, old, json_signature(HOOK_TOKEN, old, body)).status_code == 403
    assert not opted_out(core, customer_id)
    assert post(body, stamp, json_signature(HOOK_TOKEN, stamp, body)).status_code == 200
    assert opted_out(core, customer_id)
    assert post(body, stamp, json_signature(HOOK_TOKEN, stamp, body)).status_code == 200
    assert len(conversation(core.db, order_ref)) == 1  # the replay changed nothing
    junk = b"{not json"
    assert post(junk, stamp, json_signature(HOOK_TOKEN, stamp, junk)).status_code == 400


def test_forged_and_oversized_webhooks_are_refused_and_counted(core: Core) -> None:
    customer_id, phone, _ = customer_of(core)
    fields = {"From": phone, "Body": "STOP", "MessageSid": "SM5"}
    assert twilio_post(core, "/hooks/twilio/sms", fields, token="wrong").status_code == 403
    base = web_of(core).base_url
    assert httpx.post(base + "/hooks/twilio/sms", data=fields).status_code == 403
    huge = {"From": phone, "Body": "x" * 200_000, "MessageSid": "SM6"}
    assert twilio_post(core, "/hooks/twilio/sms", huge).status_code == 413
    assert not opted_out(core, customer_id)
    stats = web_of(core).ctx.services["hook_stats"]
    assert stats.refused == 2 and stats.accepted == 0


def test_without_a_secret_the_hooks_refuse_everything(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPATCHER_TWILIO_AUTH_TOKEN")
    customer_id, phone, _ = customer_of(core)
    fields = {"From": phone, "Body": "STOP", "MessageSid": "SM7"}
    assert twilio_post(core, "/hooks/twilio/sms", fields).status_code == 503
    assert not opted_out(core, customer_id)
