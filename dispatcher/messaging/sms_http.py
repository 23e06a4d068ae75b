"""SMS through an HTTP gateway: a generic JSON webhook and a Twilio-compatible API.

Both send the row's idempotency key in an ``Idempotency-Key`` header (and the webhook also in
the body), on every attempt, so a gateway that deduplicates on it delivers a resend after a
crash only once. Failures are sorted the way retrying needs: timeouts, refused connections,
5xx and 429 are temporary; other 4xx are permanent (retrying a bad request will not fix it).

``urllib.request`` is used because it is in the standard library and these are single
short POSTs; nothing here needs a connection pool.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from dispatcher.messaging.channels import SendResult, resolve_secret
from dispatcher.model.messaging import OutboxMessage

USER_AGENT = "Dispatcher-messaging/1"


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: str


def post(
    url: str, data: bytes, headers: dict[str, str], timeout_s: float
) -> HttpAnswer | SendResult:
    """POST once; return the answer for 2xx, else the classified :class:`SendResult`."""
    request = urllib.request.Request(url, data=data, method="POST")
    for name, value in {"User-Agent": USER_AGENT, **headers}.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return HttpAnswer(response.status, response.read(65536).decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        detail = _read_error(exc)
        error = f"gateway answered {exc.code}: {detail}".strip().rstrip(":")
        if exc.code >= 500 or exc.code in (408, 425, 429):
            return SendResult.temporary(error)
        return SendResult.permanent(error)
    except TimeoutError:
        return SendResult.temporary(f"gateway did not answer within {timeout_s:g} s")
    except urllib.error.URLError as exc:
        return SendResult.temporary(f"gateway unreachable: {exc.reason}")
    except (ConnectionError, OSError) as exc:
        return SendResult.temporary(f"gateway unreachable: {exc}")


def _read_error(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(500).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    finally:
        exc.close()


def _json_field(body: str, *names: str) -> str:
    try:
        data: Any = json.loads(body) if body else {}
    except json.JSONDecodeError:
        return ""
    if not isinstance(data, dict):
        return ""
    for name in names:
        value = data.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return ""


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """A gateway that takes ``POST {to, text, idempotency_key, ...}`` as JSON.

    ``token_env``: name of an environment variable holding a bearer token (optional);
    ``keyring_service``/``keyring_user`` as an alternative source. ``sender`` goes out as
    ``from`` when set. ``extra`` fields are added to every body (account ids and the like).
    """

    url: str
    sender: str = ""
    token_env: str = "DISPATCHER_SMS_TOKEN"
    keyring_service: str = ""
    keyring_user: str = ""
    timeout_s: float = 10.0
    extra: dict[str, str] = field(default_factory=dict)


class JsonWebhookSmsChannel:
    """SMS via a generic JSON webhook; the answer's ``id`` (if any) becomes ``provider_id``."""

    def __init__(self, config: WebhookConfig) -> None:
        self._config = config

    def send(self, message: OutboxMessage) -> SendResult:
        cfg = self._config
        body: dict[str, Any] = {
            **cfg.extra,
            "to": message.address,
            "text": message.body,
            "idempotency_key": message.idempotency_key,
            "reference": str(message.id),
        }
        if cfg.sender:
            body["from"] = cfg.sender
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "Idempotency-Key": message.idempotency_key,
        }
        token = resolve_secret(cfg.token_env, cfg.keyring_service, cfg.keyring_user)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        answer = post(cfg.url, json.dumps(body).encode(), headers, cfg.timeout_s)
        if isinstance(answer, SendResult):
            return answer
        provider_id = _json_field(answer.body, "id", "message_id", "messageId")
        return SendResult.accepted(provider_id or f"webhook-{message.idempotency_key}")


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    """A Twilio-compatible Messages API (Twilio itself, or a gateway that mimics it).

    ``sender`` is the ``From`` number; ``messaging_service_sid`` replaces it when set.
    The auth token comes from ``token_env`` or the keyring, never from the config file.
    """

    account_sid: str
    sender: str = ""
    messaging_service_sid: str = ""
    base_url: str = "https://api.twilio.com"
    token_env: str = "DISPATCHER_TWILIO_AUTH_TOKEN"
    keyring_service: str = ""
    keyring_user: str = ""
    status_callback: str = ""
    timeout_s: float = 10.0


class TwilioSmsChannel:
    """Form-encoded ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth.

    Twilio's answer carries ``sid``, which becomes ``provider_id`` so the status callback
    (``MessageSid``) can be matched to the row.
    """

    def __init__(self, config: TwilioConfig) -> None:
        self._config = config

    def url(self) -> str:
        sid = urllib.parse.quote(self._config.account_sid, safe="")
        return f"{self._config.base_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"

    def send(self, message: OutboxMessage) -> SendResult:
        cfg = self._config
        token = resolve_secret(cfg.token_env, cfg.keyring_service, cfg.keyring_user)
        if not token:
            return SendResult.temporary(
                f"no Twilio auth token (set {cfg.token_env} or store it in the keyring)"
            )
        form = {"To": message.address, "Body": message.body}
        if cfg.messaging_service_sid:
            form["MessagingServiceSid"] = cfg.messaging_service_sid
        else:
            form["From"] = cfg.sender
        if cfg.status_callback:
            form["StatusCallback"] = cfg.status_callback
        credentials = base64.b64encode(f"{cfg.account_sid}:{token}".encode()).decode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Authorization": f"Basic {credentials}",
            "Idempotency-Key": message.idempotency_key,
        }
        answer = post(self.url(), urllib.parse.urlencode(form).encode(), headers, cfg.timeout_s)
        if isinstance(answer, SendResult):
            return answer
        return SendResult.accepted(_json_field(answer.body, "sid"))


def parse_twilio_status(form: dict[str, str]) -> tuple[str, bool | None, str]:
    """Read a Twilio status callback: ``(MessageSid, delivered?, error)``.

    ``delivered`` is ``True`` for ``delivered``, ``False`` for ``undelivered``/``failed``,
    ``None`` for the in-between states (queued, sent...), which need no action.
    """
    status = form.get("MessageStatus", form.get("SmsStatus", "")).lower()
    error = form.get("ErrorCode", "")
    sid = form.get("MessageSid", form.get("SmsSid", ""))
    if status == "delivered":
        return sid, True, ""
    if status in ("undelivered", "failed"):
        return sid, False, f"carrier reported {status}" + (f" (error {error})" if error else "")
    return sid, None, ""
