"""Contacts: E.164 numbers, email checks, STOP replies, quiet hours."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.errors import ValidationError
from dispatcher.messaging.contacts import (
    apply_inbound_sms,
    is_opt_out_reply,
    normalize_phone,
    quiet_hours_release,
    resolve_address,
    validate_email,
)
from dispatcher.messaging.situations import ChannelKind
from dispatcher.model.messaging import ContactPreference, CustomerPreferences


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("07911 123456", "GB", "+447911123456"),
        ("+44 7911 123456", "US", "+447911123456"),
        ("(020) 7946 0000", "GB", "+442079460000"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("0044 7911 123456", "GB", "+447911123456"),
    ],
)
def test_phone_numbers_become_e164(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize("raw", ["", "hello", "123", "+44 1", "07911 123456 ext"])
def test_bad_phone_numbers_are_rejected_with_a_reason(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalize_phone(raw, "GB")


@given(st.text(max_size=30))
def test_phone_normalization_never_crashes(raw: str) -> None:
    with contextlib.suppress(ValidationError):
        assert normalize_phone(raw, "GB").startswith("+")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (" dana@Example.COM ", "dana@example.com"),
        ("d.smith+parcels@mail.example.co.uk", "d.smith+parcels@mail.example.co.uk"),
    ],
)
def test_valid_emails(raw: str, clean: str) -> None:
    assert validate_email(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "dana",
        "dana@",
        "@example.com",
        "dana@example",
        "da na@example.com",
        "dana@@example.com",
        "dana..smith@example.com",
        "dana@-example.com",
    ],
)
def test_invalid_emails_are_rejected(raw: str) -> None:
    with pytest.raises(ValidationError):
        validate_email(raw)


def test_an_invalid_address_is_flagged_not_dropped() -> None:
    prefs = CustomerPreferences(1, email="dana@", channel=ContactPreference.EMAIL)
    check = resolve_address(prefs)
    assert not check.ok
    assert check.channel is ChannelKind.EMAIL
    assert check.reason is not None and "not valid" in check.reason


def test_opted_out_and_no_channel_customers_have_no_address() -> None:
    assert resolve_address(CustomerPreferences(1, phone="07911123456", opted_out=True)).reason == (
        "customer opted out of messages"
    )
    none = CustomerPreferences(1, phone="07911123456", channel=ContactPreference.NONE)
    assert resolve_address(none).address is None


@pytest.mark.parametrize("reply", ["STOP", "stop", " Stop.", "STOP please", "unsubscribe"])
def test_stop_replies_opt_the_customer_out(reply: str) -> None:
    prefs = CustomerPreferences(1, phone="07911123456")
    assert apply_inbound_sms(prefs, reply).opted_out
    assert is_opt_out_reply(reply)


def test_start_opts_back_in_and_other_replies_change_nothing() -> None:
    out = CustomerPreferences(1, opted_out=True)
    assert not apply_inbound_sms(out, "START").opted_out
    assert apply_inbound_sms(out, "thanks, see you").opted_out
    assert not apply_inbound_sms(CustomerPreferences(1), "don't stop").opted_out


NIGHT = CustomerPreferences(1, tz="Europe/London", quiet_start=time(21), quiet_end=time(8))


def test_outside_quiet_hours_a_message_goes_now() -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert quiet_hours_release(now, NIGHT) == now


def test_late_evening_waits_until_morning_in_the_customers_zone() -> None:
    now = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
    assert quiet_hours_release(now, NIGHT) == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_early_morning_waits_until_the_same_morning() -> None:
    now = datetime(2026, 7, 1, 5, 0, tzinfo=UTC)  # 06:00 in London (BST)
    assert quiet_hours_release(now, NIGHT) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


def test_the_fleet_zone_is_used_when_the_customer_has_none() -> None:
    prefs = CustomerPreferences(1, quiet_start=time(21), quiet_end=time(8))
    now = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)  # 22:30 in Berlin, 16:30 in New York
    assert quiet_hours_release(now, prefs, "Europe/Berlin") == datetime(
        2026, 11, 21, 7, 0, tzinfo=UTC
    )
    assert quiet_hours_release(now, prefs, "America/New_York") == now


def test_urgent_messages_ignore_quiet_hours_and_bad_zones_do_not_crash() -> None:
    now = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert quiet_hours_release(now, NIGHT, urgent=True) == now
    odd = CustomerPreferences(1, tz="Mars/Olympus", quiet_start=time(21), quiet_end=time(8))
    assert quiet_hours_release(now, odd) == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
