"""Customer contact rules: addresses, preferences, opt-out, quiet hours.

Every function here answers with a reason instead of silently dropping a customer: a phone
number that cannot be parsed or an email without a domain is *flagged* (the persistence layer
keeps the reason in ``customers.contact_problem``) so a dispatcher sees why a message did not go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

import phonenumbers

from dispatcher.errors import ValidationError
from dispatcher.messaging.situations import ChannelKind
from dispatcher.model.messaging import ContactPreference, CustomerPreferences, zone


@dataclass(frozen=True, slots=True)
class AddressCheck:
    """Where a message to this customer would go, or why it cannot go."""

    channel: ChannelKind | None
    address: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.address is not None and self.reason is None


# A deliberately plain check: one @, a local part, a dotted domain of sane labels, no spaces.
# Full RFC 5322 accepts addresses no mail server routes; the server's answer is the real test.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def normalize_phone(raw: str, default_region: str = "GB") -> str:
    """Return ``raw`` in E.164 (``+447700900123``), reading national numbers in ``default_region``.

    Raises:
        ValidationError: not a number, or not a valid number for its country; the message
            says which, for ``customers.contact_problem``.
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError("no phone number")
    try:
        number = phonenumbers.parse(text, default_region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"phone number {text!r} cannot be read: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"phone number {text!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_email(raw: str) -> str:
    """Return the trimmed address (domain lower-cased) or raise :class:`ValidationError`."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError("no email address")
    if len(text) > 254 or not _EMAIL.match(text) or ".." in text:
        raise ValidationError(f"email address {text!r} is not valid")
    local, domain = text.rsplit("@", 1)
    if len(local) > 64:
        raise ValidationError(f"email address {text!r} is not valid (local part too long)")
    return f"{local}@{domain.lower()}"


def resolve_address(prefs: CustomerPreferences, default_region: str = "GB") -> AddressCheck:
    """Pick the channel and normalized address for ``prefs``, or say why there is none."""
    if prefs.opted_out:
        return AddressCheck(None, None, "customer opted out of messages")
    if prefs.channel is ContactPreference.NONE:
        return AddressCheck(None, None, "customer prefers no messages")
    try:
        if prefs.channel is ContactPreference.SMS:
            return AddressCheck(ChannelKind.SMS, normalize_phone(prefs.phone, default_region))
        return AddressCheck(ChannelKind.EMAIL, validate_email(prefs.email))
    except ValidationError as exc:
        kind = ChannelKind(prefs.channel.value)
        return AddressCheck(kind, None, str(exc))


_STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout"})
_START_WORDS = frozenset({"start", "unstop", "subscribe", "optin"})


def apply_inbound_sms(prefs: CustomerPreferences, text: str) -> CustomerPreferences:
    """Honour a customer's reply: ``STOP`` (and its usual synonyms) opts out, ``START`` back in.

    Only the first word counts, case and punctuation ignored, as carriers do; any other reply
    leaves the preferences as they are (the UI shows it to the dispatcher). The caller saves
    the returned preferences.
    """
    words = re.findall(r"[a-z]+", (text or "").lower())
    first = words[0] if words else ""
    if first in _STOP_WORDS:
        return replace(prefs, opted_out=True)
    if first in _START_WORDS:
        return replace(prefs, opted_out=False)
    return prefs


def is_opt_out_reply(text: str) -> bool:
    """True when an inbound SMS asks to stop messages."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    return bool(words) and words[0] in _STOP_WORDS


def in_quiet_hours(local: time, start: time | None, end: time | None) -> bool:
    """True when the local wall time ``local`` falls in ``[start, end)`` (may span midnight)."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_release(
    now: datetime, prefs: CustomerPreferences, fleet_tz: str = "UTC", *, urgent: bool = False
) -> datetime:
    """The earliest instant a message to this customer may leave (UTC).

    Outside quiet hours, or for an urgent message, that is ``now``. Inside, it is the next
    local ``quiet_end`` (morning) in the customer's zone, or the fleet's when the customer has
    none; DST days are handled by converting that local wall time through the zone.
    """
    if urgent:
        return now
    tz = zone(prefs.tz, fleet_tz)
    local_now = now.astimezone(tz)
    if not in_quiet_hours(local_now.time(), prefs.quiet_start, prefs.quiet_end):
        return now
    assert prefs.quiet_end is not None  # in_quiet_hours returned True
    release = datetime.combine(local_now.date(), prefs.quiet_end, tzinfo=tz)
    if release <= local_now:
        release = datetime.combine(local_now.date() + timedelta(days=1), prefs.quiet_end, tzinfo=tz)
    return release.astimezone(UTC)
