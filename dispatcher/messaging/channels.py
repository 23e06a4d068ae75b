"""How an outbox row leaves: the :class:`Channel` protocol and the simple channels.

A channel does one attempt and reports what happened; it never retries and never sleeps (the
relay persists the retry schedule on the row). It always passes the row's idempotency key to
the other side, so a gateway that honours it turns a resend after a crash into a no-op.

SMTP lives in :mod:`dispatcher.messaging.email_smtp`, HTTP SMS gateways in
:mod:`dispatcher.messaging.sms_http`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dispatcher.clock import Clock
from dispatcher.model.messaging import OutboxMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    """One attempt's outcome.

    ``ok``: the other side accepted the message (``provider_id`` is its reference, used to
    match delivery receipts). Not ok: ``temporary_failure`` says whether trying again later
    can help (timeout, 5xx, connection refused) or not (4xx, bad address); ``error`` is the
    sentence kept on the row.
    """

    ok: bool
    temporary_failure: bool = False
    provider_id: str = ""
    error: str = ""

    @classmethod
    def accepted(cls, provider_id: str = "") -> SendResult:
        return cls(ok=True, provider_id=provider_id)

    @classmethod
    def temporary(cls, error: str) -> SendResult:
        return cls(ok=False, temporary_failure=True, error=error)

    @classmethod
    def permanent(cls, error: str) -> SendResult:
        return cls(ok=False, temporary_failure=False, error=error)


class Channel(Protocol):
    """Something that can make one delivery attempt of an outbox row."""

    def send(self, message: OutboxMessage) -> SendResult:
        """Try once; never raise for a delivery problem (return a :class:`SendResult`)."""
        ...


def resolve_secret(
    env_var: str = "", keyring_service: str = "", keyring_user: str = ""
) -> str | None:
    """Read a password or token from the environment, else from the OS keyring.

    Secrets never live in the config file. The keyring is optional: a headless machine
    without a backend simply yields ``None`` and the channel reports it cannot authenticate.
    """
    if env_var:
        value = os.environ.get(env_var)
        if value:
            return value
    if keyring_service and keyring_user:
        try:
            import keyring
            from keyring.errors import KeyringError

            try:
                return keyring.get_password(keyring_service, keyring_user)
            except KeyringError as exc:
                log.warning("keyring look-up for %s failed: %s", keyring_service, exc)
        except ImportError:
            return None
    return None


class CaptureChannel:
    """Writes what would be sent to a JSON Lines file (the demo, and dry runs).

    Each line is the whole outgoing message with its idempotency key; nothing leaves the
    machine. A resend of the same row is written again (that is what a real gateway without
    idempotency would see), but lines carry the key, so a reader can tell.
    """

    def __init__(self, path: Path, clock: Clock) -> None:
        self._path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()

    def send(self, message: OutboxMessage) -> SendResult:
        record = {
            "ts": self._clock.now().isoformat(),
            "id": message.id,
            "idempotency_key": message.idempotency_key,
            "channel": message.channel,
            "to": message.address,
            "subject": message.subject,
            "text": message.body,
            "situation": message.situation,
            "template": f"{message.template_id}@{message.template_version}",
        }
        try:
            with self._lock:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with self._path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            return SendResult.temporary(f"cannot write {self._path}: {exc}")
        return SendResult.accepted(f"capture-{message.idempotency_key}")


#: ``publish(topic, payload, qos, retain)``: the MQTT client's publish, injected so this
#: module never imports paho (the telemetry room owns the connection).
PublishFn = Callable[[str, bytes, int, bool], None]


class DriverChannel:
    """A message to a driver's app on ``<prefix>/vehicles/<vehicle_id>/cmd`` (QoS 1).

    The row's ``address`` is the vehicle id. The payload carries the idempotency key as
    ``id``, so the driver app shows a redelivered QoS 1 message once.
    """

    def __init__(self, publish: PublishFn, clock: Clock, topic_prefix: str = "fleet") -> None:
        self._publish = publish
        self._clock = clock
        self._prefix = topic_prefix.rstrip("/")

    def topic_for(self, vehicle_id: str) -> str:
        return f"{self._prefix}/vehicles/{vehicle_id}/cmd"

    def send(self, message: OutboxMessage) -> SendResult:
        vehicle_id = message.address.strip()
        if not vehicle_id or any(ch in vehicle_id for ch in "/+#"):
            return SendResult.permanent(f"not a vehicle id: {message.address!r}")
        payload = {
            "type": "message",
            "id": message.idempotency_key,
            "ts": self._clock.now().isoformat(),
            "text": message.body,
            "stop_ref": message.stop_ref,
        }
        try:
            self._publish(self.topic_for(vehicle_id), json.dumps(payload).encode(), 1, False)
        except Exception as exc:  # the client's errors vary by library: all mean "not now"
            return SendResult.temporary(f"MQTT publish failed: {exc}")
        return SendResult.accepted(f"mqtt-{message.idempotency_key}")
