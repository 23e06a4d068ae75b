"""One-click messaging: from a request to one outbox row, honouring the customer's wishes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from dispatcher.clock import FakeClock
from dispatcher.errors import ValidationError
from dispatcher.messaging.compose import (
    Branding,
    EtaChange,
    MessageFacts,
    MessageRequest,
    Messenger,
    eta_moved,
)
from dispatcher.messaging.outbox import InMemoryOutboxStore
from dispatcher.messaging.situations import (
    ChannelKind,
    Situation,
    alert_situation,
    choose_situation,
)
from dispatcher.messaging.templates import TemplateError, TemplateLibrary
from dispatcher.model.alerts import AlertKind
from dispatcher.model.core import DeliveryEventKind, StopStatus
from dispatcher.model.messaging import ContactPreference, CustomerPreferences, OutboxStatus

LIBRARY = TemplateLibrary.from_directory()
DANA = CustomerPreferences(
    customer_id=7,
    name="Dana",
    phone="07911 123456",
    email="dana@example.com",
    tz="Europe/London",
    quiet_start=time(21),
    quiet_end=time(8),
)
ETA = datetime(2026, 11, 20, 14, 35, tzinfo=UTC)


@pytest.fixture
def store() -> InMemoryOutboxStore:
    return InMemoryOutboxStore()


@pytest.fixture
def messenger(store: InMemoryOutboxStore, clock: FakeClock) -> Messenger:
    return Messenger(
        store,
        LIBRARY,
        clock,
        Branding("Acme", "+44 20 7946 0000"),
        fleet_tz="Europe/London",
        undo_window=timedelta(seconds=10),
    )


def late(customer: CustomerPreferences = DANA, eta: datetime = ETA) -> MessageRequest:
    return MessageRequest(
        customer,
        Situation.RUNNING_LATE,
        "S-1",
        MessageFacts(order_ref="A-1042", eta=eta),
        created_by="ann",
    )


def test_preview_shows_text_address_and_segments(messenger: Messenger) -> None:
    preview = messenger.preview(late())
    assert preview.channel is ChannelKind.SMS and preview.address == "+447911123456"
    assert "New estimated arrival: 14:35" in preview.rendered.body
    assert preview.segments is not None and preview.segments.segments == 1
    assert preview.blocked is None


def test_send_queues_one_row_with_an_undo_window(
    messenger: Messenger, store: InMemoryOutboxStore, clock: FakeClock
) -> None:
    outcome = messenger.send(late())
    row = outcome.message
    assert outcome.created and row is not None
    assert row.status is OutboxStatus.QUEUED and row.created_by == "ann"
    assert row.template_id == "running_late/sms/en" and row.template_version == 2
    assert row.next_attempt_at == clock.now() + timedelta(seconds=10)
    assert row.customer_id == 7 and row.stop_ref == "S-1"


def test_double_click_gives_one_row(messenger: Messenger, store: InMemoryOutboxStore) -> None:
    first = messenger.send(late())
    second = messenger.send(late(eta=ETA + timedelta(minutes=3)))  # same 10-minute bucket
    assert not second.created
    assert second.message == first.message
    assert len(store.list()) == 1
    assert messenger.send(late(eta=ETA + timedelta(minutes=30))).created  # real news


def test_undo_cancels_and_a_new_click_sends_again(
    messenger: Messenger, store: InMemoryOutboxStore
) -> None:
    row = messenger.send(late()).message
    assert row is not None and row.id is not None
    assert messenger.undo(row.id)
    again = messenger.send(late())
    assert again.created and again.message is not None
    assert again.message.status is OutboxStatus.QUEUED and again.message.id == row.id


def test_opted_out_customers_get_nothing(messenger: Messenger, store: InMemoryOutboxStore) -> None:
    outcome = messenger.send(
        late(customer=CustomerPreferences(7, phone="07911123456", opted_out=True))
    )
    assert outcome.message is None and outcome.reason == "customer opted out of messages"
    assert store.list() == []


def test_an_invalid_address_is_reported_not_dropped(
    messenger: Messenger, store: InMemoryOutboxStore
) -> None:
    outcome = messenger.send(late(customer=CustomerPreferences(7, phone="12")))
    assert outcome.message is None and outcome.reason is not None
    assert "not" in outcome.reason and "12" in outcome.reason
    assert outcome.preview is not None and "14:35" in outcome.preview.rendered.body
    assert store.list() == []


def test_email_customers_get_an_email(messenger: Messenger) -> None:
    dana = CustomerPreferences(
        7, name="Dana <3", email="Dana@Example.com", channel=ContactPreference.EMAIL
    )
    row = messenger.send(late(customer=dana)).message
    assert row is not None and row.channel == "email" and row.address == "Dana@example.com"
    assert row.subject == "Your delivery is running late - new arrival 14:35"
    assert "Hello Dana <3," in row.body and "Hello Dana &lt;3," in row.body_html


def test_quiet_hours_defer_until_morning(messenger: Messenger, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 20, 22, 0, tzinfo=UTC))
    tomorrow = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    request = MessageRequest(
        DANA,
        Situation.WINDOW_CHANGED,
        "S-1",
        MessageFacts(window_start=tomorrow, window_end=tomorrow + timedelta(hours=2)),
        created_by="ann",
    )
    row = messenger.send(request).message
    assert row is not None
    assert row.next_attempt_at == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    assert "10:00-12:00" in row.body


def test_urgent_or_tonight_news_is_not_held(messenger: Messenger, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 20, 21, 30, tzinfo=UTC))
    tonight = messenger.send(late(eta=datetime(2026, 11, 20, 22, 15, tzinfo=UTC))).message
    assert tonight is not None and tonight.next_attempt_at == clock.now() + timedelta(seconds=10)
    urgent = messenger.send(
        MessageRequest(
            DANA, Situation.FREE_TEXT, "S-1", MessageFacts(text="Gate code?"), "ann", urgent=True
        )
    )
    assert urgent.message is not None
    assert urgent.message.next_attempt_at == clock.now() + timedelta(seconds=10)


def test_a_missing_fact_names_the_variable_and_queues_nothing(
    messenger: Messenger, store: InMemoryOutboxStore
) -> None:
    request = MessageRequest(DANA, Situation.DELIVERED, "S-1", MessageFacts(), created_by="ann")
    with pytest.raises(TemplateError) as err:
        messenger.send(request)
    assert err.value.variable == "pod_ref"
    assert store.list() == []


def test_free_text_repeats_are_told_apart_by_the_dialog_nonce(messenger: Messenger) -> None:
    def text(nonce: str) -> MessageRequest:
        return MessageRequest(
            DANA, Situation.FREE_TEXT, "S-1", MessageFacts(text="Hi"), "ann", nonce=nonce
        )

    assert messenger.send(text("dlg-1")).created
    assert not messenger.send(text("dlg-1")).created
    assert messenger.send(text("dlg-2")).created


def test_driver_messages_skip_the_undo_window(messenger: Messenger, clock: FakeClock) -> None:
    outcome = messenger.send_to_driver("VAN-7", "Please call the depot", "ann", nonce="n1")
    row = outcome.message
    assert row is not None and row.channel == "driver" and row.address == "VAN-7"
    assert row.next_attempt_at == clock.now()
    assert messenger.send_to_driver("", "x", "ann").reason == "no vehicle to write to"


@pytest.mark.parametrize(
    ("trigger", "situation"),
    [
        ("late", Situation.RUNNING_LATE),
        ("at_risk", Situation.RUNNING_LATE),
        ("AT-RISK", Situation.RUNNING_LATE),
        ("failed", Situation.MISSED_YOU),
        ("window_changed", Situation.WINDOW_CHANGED),
        ("reassigned", Situation.REASSIGNED),
        (StopStatus.FAILED, Situation.MISSED_YOU),
        (StopStatus.DONE, Situation.DELIVERED),
        (StopStatus.NEXT, Situation.ARRIVING_SOON),
        (DeliveryEventKind.POD, Situation.DELIVERED),
        (Situation.FREE_TEXT, Situation.FREE_TEXT),
    ],
)
def test_choose_situation(trigger: str, situation: Situation) -> None:
    assert choose_situation(trigger) is situation


def test_alert_kinds_map_to_situations_in_one_place() -> None:
    """What the exception queue's "Message customer" writes about (None: the stop decides)."""
    mapped = {kind: alert_situation(kind) for kind in AlertKind}
    assert {k: s for k, s in mapped.items() if s is not None} == {
        AlertKind.LATE: Situation.RUNNING_LATE,
        AlertKind.AT_RISK: Situation.RUNNING_LATE,
        AlertKind.FAILED_DELIVERY: Situation.MISSED_YOU,
    }


@pytest.mark.parametrize("trigger", ["offline", "", StopStatus.PENDING, DeliveryEventKind.ISSUE])
def test_nothing_to_tell_is_a_clear_error(trigger: str) -> None:
    with pytest.raises(ValidationError, match="no customer message fits"):
        choose_situation(trigger)


def test_bulk_picks_customers_whose_eta_moved_enough() -> None:
    def change(ref: str, minutes: int | None, status: StopStatus = StopStatus.PENDING) -> EtaChange:
        new = None if minutes is None else ETA + timedelta(minutes=minutes)
        return EtaChange(ref, None, ETA, new, status)

    changes = [
        change("a", 5),
        change("b", 25),
        change("c", -40),
        change("d", 60, StopStatus.DONE),
        change("e", None),
        change("f", 15),
    ]
    picked = eta_moved(changes, threshold=timedelta(minutes=15))
    assert [c.stop_ref for c in picked] == ["b", "c"]


def test_times_are_written_in_the_fleets_locale_unless_branding_says_how() -> None:
    from dispatcher import display
    from dispatcher.fleet_settings import FleetSettings
    from dispatcher.messaging.compose import template_context

    facts = MessageFacts(eta=ETA, window_start=ETA, window_end=ETA + timedelta(hours=2))
    plain = template_context(facts, DANA, Branding("Acme"))
    assert (plain["eta"], plain["window"], plain["eta_date"]) == (
        "14:35",
        "14:35-16:35",
        "Fri 20 Nov",
    )
    display.install(FleetSettings.from_mapping({"locale": "en_US"}))
    us = template_context(facts, DANA, Branding("Acme"))
    assert (us["eta"], us["window"], us["eta_date"]) == (
        "2:35 PM",
        "2:35 PM-4:35 PM",
        "Fri, Nov 20",
    )
    fixed = template_context(facts, DANA, Branding("Acme", time_format="%H.%M"))
    assert fixed["eta"] == "14.35"
