"""The ``[messaging]`` section of the configuration, and the channels it describes.

Example (secrets never here: env vars or the OS keyring, see docs/messaging.md)::

    [messaging]
    company_name = "Acme Parcels"
    company_phone = "+49 30 1234567"
    region = "DE"                  # how national phone numbers are read
    undo_seconds = 8               # wall-clock seconds to undo a click
    sms = "webhook"                # capture | webhook | twilio | none
    email = "smtp"                 # capture | smtp | none
    capture_file = ""              # default: <user data dir>/messages-capture.jsonl

    [messaging.smtp]               # SmtpConfig fields
    host = "mail.example.com"
    [messaging.webhook]            # WebhookConfig fields
    url = "https://sms.example.com/send"
    [messaging.twilio]             # TwilioConfig fields
    account_sid = "AC..."
    [messaging.retry]
    max_attempts = 6
    initial_s = 30
    max_delay_s = 3600

Times in messages and quiet hours are in the fleet's zone (``[fleet] timezone``, see
:mod:`dispatcher.fleet_settings`), filled in by :func:`~dispatcher.app.add_messaging`.

Without a section every channel is ``capture``: nothing leaves the machine, and the file shows
what would have been sent (the demo runs like that).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from dispatcher.clock import Clock
from dispatcher.config import user_data_dir
from dispatcher.errors import ConfigError
from dispatcher.fleet_settings import machine_zone_name
from dispatcher.messaging.channels import CaptureChannel, Channel, DriverChannel, PublishFn
from dispatcher.messaging.email_smtp import SmtpConfig, SmtpEmailChannel, SmtpSecurity
from dispatcher.messaging.relay import RetryPolicy
from dispatcher.messaging.sms_http import (
    JsonWebhookSmsChannel,
    TwilioConfig,
    TwilioSmsChannel,
    WebhookConfig,
)
from dispatcher.scenario.demo import COMPANY as DEMO_COMPANY

CAPTURE_FILE = "messages-capture.jsonl"
DEFAULT_COMPANY = "Dispatcher"


class SmsGateway(enum.StrEnum):
    CAPTURE = "capture"
    WEBHOOK = "webhook"
    TWILIO = "twilio"
    NONE = "none"


class EmailGateway(enum.StrEnum):
    CAPTURE = "capture"
    SMTP = "smtp"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class MessagingSettings:
    """Everything the messaging service is built from (read by :func:`messaging_settings`)."""

    company_name: str = DEFAULT_COMPANY
    company_phone: str = ""
    region: str = "DE"
    #: The fleet's zone (from ``[fleet]``, not from this table).
    timezone: str = field(default_factory=machine_zone_name)
    undo_seconds: float = 8.0
    sms: SmsGateway = SmsGateway.CAPTURE
    email: EmailGateway = EmailGateway.CAPTURE
    capture_file: str = ""
    reschedule_url: str = ""
    reschedule_phone: str = ""
    poll_seconds: float = 2.0
    smtp: Mapping[str, Any] = field(default_factory=dict)
    webhook: Mapping[str, Any] = field(default_factory=dict)
    twilio: Mapping[str, Any] = field(default_factory=dict)
    #: ``[messaging.auto]``: automatic notifications (dispatcher/messaging/auto.py).
    auto: Mapping[str, Any] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def capture_path(self) -> Path:
        return Path(self.capture_file).expanduser() if self.capture_file else default_capture()


def default_capture() -> Path:
    """Where the capture channel writes: ``<user data dir>/messages-capture.jsonl``."""
    return user_data_dir() / CAPTURE_FILE


_SCALARS: dict[str, type] = {
    "company_name": str,
    "company_phone": str,
    "region": str,
    "undo_seconds": float,
    "capture_file": str,
    "reschedule_url": str,
    "reschedule_phone": str,
    "poll_seconds": float,
}


def messaging_settings(section: Mapping[str, Any] | None) -> MessagingSettings:
    """Read and check ``[messaging]``; a wrong key or value is a :class:`ConfigError` naming it."""
    values: dict[str, Any] = {}
    for key, value in (section or {}).items():
        where = f"messaging.{key}"
        if key in _SCALARS:
            values[key] = _typed(value, _SCALARS[key], where)
        elif key == "sms":
            values[key] = _choice(SmsGateway, value, where)
        elif key == "email":
            values[key] = _choice(EmailGateway, value, where)
        elif key in ("smtp", "webhook", "twilio", "auto"):
            if not isinstance(value, dict):
                raise ConfigError(f"[{where}] must be a table")
            values[key] = dict(value)
        elif key == "retry":
            values[key] = _retry(value)
        elif key == "timezone":
            raise ConfigError("messaging.timezone: the zone is one setting now, [fleet] timezone")
        else:
            raise ConfigError(f"unknown setting '{where}'")
    if values.get("undo_seconds", 1.0) < 0 or values.get("poll_seconds", 1.0) <= 0:
        raise ConfigError("messaging.undo_seconds must be >= 0 and poll_seconds > 0")
    return MessagingSettings(**values)


def build_channels(
    settings: MessagingSettings, clock: Clock, publish: PublishFn | None, prefix: str = "fleet"
) -> dict[str, Channel]:
    """The relay's channels by name (``sms``, ``email``, ``driver``) as configured."""
    channels: dict[str, Channel] = {}
    capture = CaptureChannel(settings.capture_path, clock)
    if settings.sms is SmsGateway.CAPTURE:
        channels["sms"] = capture
    elif settings.sms is SmsGateway.WEBHOOK:
        channels["sms"] = JsonWebhookSmsChannel(_build(WebhookConfig, settings.webhook, "webhook"))
    elif settings.sms is SmsGateway.TWILIO:
        channels["sms"] = TwilioSmsChannel(_build(TwilioConfig, settings.twilio, "twilio"))
    if settings.email is EmailGateway.CAPTURE:
        channels["email"] = capture
    elif settings.email is EmailGateway.SMTP:
        config = dict(settings.smtp)
        if "security" in config:
            config["security"] = _choice(SmtpSecurity, config["security"], "messaging.smtp")
        channels["email"] = SmtpEmailChannel(_build(SmtpConfig, config, "smtp"), clock)
    channels["driver"] = DriverChannel(publish, clock, prefix) if publish else capture
    return channels


def _build(cls: Any, values: Mapping[str, Any], name: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting 'messaging.{name}.{unknown[0]}'")
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"[messaging.{name}] is incomplete: {exc}") from None


def _retry(value: Any) -> RetryPolicy:
    if not isinstance(value, dict):
        raise ConfigError("[messaging.retry] must be a table")
    try:
        return RetryPolicy(
            max_attempts=int(value.get("max_attempts", 6)),
            initial=timedelta(seconds=float(value.get("initial_s", 30))),
            multiplier=float(value.get("multiplier", 2.0)),
            max_delay=timedelta(seconds=float(value.get("max_delay_s", 3600))),
            jitter=float(value.get("jitter", 0.2)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[messaging.retry]: {exc}") from None


def _typed(value: Any, wanted: type, where: str) -> Any:
    if wanted is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, wanted) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected {wanted.__name__}, got {value!r}")


def _choice(enum_type: type[enum.StrEnum], value: Any, where: str) -> Any:
    try:
        return enum_type(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum_type)
        raise ConfigError(f"{where}: {value!r} is not one of {allowed}") from None


DEMO_CAPTURE_FILE = "demo-messages-capture.jsonl"


def demo_settings(settings: MessagingSettings) -> MessagingSettings:
    """The demo never reaches a real gateway: every channel writes the demo's capture file.

    Like the demo's database, the file starts empty on every demo run, so what it holds
    matches the outbox rows of that run.
    """
    capture = user_data_dir() / DEMO_CAPTURE_FILE
    capture.unlink(missing_ok=True)
    company = settings.company_name
    if company == DEFAULT_COMPANY:
        company = DEMO_COMPANY
    return dataclasses.replace(
        settings,
        sms=SmsGateway.CAPTURE,
        email=EmailGateway.CAPTURE,
        capture_file=str(capture),
        company_name=company,
        company_phone=settings.company_phone or "+49 30 555 0100",
    )
