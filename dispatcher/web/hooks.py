"""Webhooks of the SMS gateways: replies and delivery receipts, signature-checked.

* ``POST /hooks/twilio/sms`` and ``/hooks/twilio/status`` — Twilio's form posts, checked with
  ``X-Twilio-Signature`` (base64 HMAC-SHA1 of the public URL plus the sorted form fields,
  keyed with the account's auth token: ``[messaging.twilio]``'s ``token_env`` or keyring).
* ``POST /hooks/sms`` — the JSON webhook channel's gateway: ``{"type": "inbound", "id",
  "from", "text"}`` or ``{"type": "receipt", "id", "status": "delivered"|"failed",
  "error"}``, checked with ``X-Dispatcher-Signature: sha256=<hex>`` = HMAC-SHA256 of
  ``<X-Dispatcher-Timestamp>.<body>`` keyed with the channel's token; a timestamp more than
  five minutes off is refused (a captured request cannot be replayed later).

Without a configured secret a hook refuses everything (503): an unsigned webhook would let
anybody opt customers out. A refused request gets no detail and is counted
(:attr:`HookStats.refused`). Replays inside the five minutes, and Twilio's own retries, are
harmless: a message id is acted on once (:mod:`dispatcher.messaging.inbound`).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dispatcher.messaging.channels import resolve_secret
from dispatcher.messaging.inbound import receive_sms
from dispatcher.messaging.sms_http import TwilioConfig, WebhookConfig, parse_twilio_status
from dispatcher.web.context import WebContext

log = logging.getLogger(__name__)

MAX_SKEW_S = 300
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@dataclass
class HookStats:
    accepted: int = 0
    refused: int = 0
    duplicates: int = 0


def routes(ctx: WebContext) -> list[BaseRoute]:
    stats = HookStats()
    ctx.services["hook_stats"] = stats

    def refuse(why: str, status: int = 403) -> Response:
        stats.refused += 1
        log.warning("webhook refused: %s", why)
        return Response("refused", status)

    async def twilio(request: Request) -> Response:
        token = _secret(ctx, "twilio", TwilioConfig)
        if not token:
            return refuse("no Twilio auth token configured", 503)
        try:
            form = await request.form(max_files=0, max_fields=60)
        except Exception:
            return refuse("unreadable form", 400)
        fields = {k: str(v) for k, v in form.items()}
        url = (
            ctx.base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
        if not twilio_signature_ok(
            token, url, fields, request.headers.get("x-twilio-signature", "")
        ):
            return refuse("bad Twilio signature")
        if request.url.path.endswith("/status"):
            sid, delivered, error = parse_twilio_status(fields)
            if sid and delivered is not None:
                await _receipt(ctx, sid, delivered, error)
        else:
            sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
            if not sid:
                return refuse("inbound SMS without a message id", 400)
            await _inbound(ctx, stats, sid, fields.get("From", ""), fields.get("Body", ""))
        stats.accepted += 1
        return Response(_EMPTY_TWIML, media_type="text/xml")

    async def webhook(request: Request) -> Response:
        token = _secret(ctx, "webhook", WebhookConfig)
        if not token:
            return refuse("no webhook token configured", 503)
        body = await request.body()
        stamp = request.headers.get("x-dispatcher-timestamp", "")
        if not stamp.isdigit() or abs(ctx.clock.now().timestamp() - int(stamp)) > MAX_SKEW_S:
            return refuse("webhook timestamp missing or too far off")
        if not json_signature_ok(
            token, stamp, body, request.headers.get("x-dispatcher-signature", "")
        ):
            return refuse("bad webhook signature")
        try:
            data: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return refuse("webhook body is not JSON", 400)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            return refuse("webhook body without an id", 400)
        kind = data.get("type")
        if kind == "inbound":
            await _inbound(
                ctx, stats, data["id"], str(data.get("from", "")), str(data.get("text", ""))
            )
        elif kind == "receipt":
            status = str(data.get("status", "")).lower()
            if status in ("delivered", "failed", "undelivered"):
                await _receipt(
                    ctx, data["id"], status == "delivered", str(data.get("error", ""))[:300]
                )
        else:
            return refuse(f"unknown webhook type {str(kind)[:20]!r}", 400)
        stats.accepted += 1
        return JSONResponse({"ok": True})

    return [
        Route("/hooks/twilio/sms", twilio, methods=["POST"]),
        Route("/hooks/twilio/status", twilio, methods=["POST"]),
        Route("/hooks/sms", webhook, methods=["POST"]),
    ]


async def _inbound(ctx: WebContext, stats: HookStats, sid: str, sender: str, text: str) -> None:
    got = await ctx.run(receive_sms, ctx.db, sid[:200], sender[:254], text, ctx.clock.now())
    if not got.new:
        stats.duplicates += 1


async def _receipt(ctx: WebContext, provider_id: str, delivered: bool, error: str) -> None:
    messaging = ctx.services.get("messaging")
    if messaging is None:
        log.warning("receipt for %s dropped: this process has no messaging service", provider_id)
        return
    await ctx.run(messaging.record_receipt, provider_id[:200], delivered, error)


def twilio_signature(token: str, url: str, fields: Mapping[str, str]) -> str:
    """Twilio's request signature: base64(HMAC-SHA1(token, url + k1 + v1 + k2 + v2 ...))."""
    data = url + "".join(f"{k}{fields[k]}" for k in sorted(fields))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_signature_ok(token: str, url: str, fields: Mapping[str, str], given: str) -> bool:
    return bool(given) and hmac.compare_digest(twilio_signature(token, url, fields), given)


def json_signature(token: str, stamp: str, body: bytes) -> str:
    mac = hmac.new(token.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def json_signature_ok(token: str, stamp: str, body: bytes, given: str) -> bool:
    return bool(given) and hmac.compare_digest(json_signature(token, stamp, body), given)


def _secret(ctx: WebContext, which: str, config_type: type[Any]) -> str | None:
    """The gateway's token, found as the outgoing channel finds it (env var or keyring)."""
    section = (ctx.settings.sections.get("messaging") or {}).get(which) or {}
    fields = dataclasses.fields(config_type)
    names = {f.name for f in fields}
    values = {k: v for k, v in dict(section).items() if k in names}
    for f in fields:  # only the secret's source matters here: required fields may be empty
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values.setdefault(f.name, "")
    try:
        config = config_type(**values)
    except (TypeError, ValueError):
        return None
    return resolve_secret(config.token_env, config.keyring_service, config.keyring_user)
