"""The OwnTracks configuration for a driver's phone: an ``.otrc`` file and a QR code.

The OwnTracks apps import a JSON object with ``"_type": "configuration"`` from a file, or
from a URL ``owntracks:///config?inline=<base64 of that JSON>`` (what the QR code holds).
It sets MQTT mode, the broker's address and TLS, the phone's broker user and password, and
pins the publish topic to the device's own (``pubTopicBase``), the one its credential may
publish on. The phone must trust the broker's CA (``ca.crt`` next to the configuration):
install it once on the phone (Android: Settings, Security, Install a certificate; iOS: open
it as a profile), see docs/mqtt.md.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import segno

from dispatcher.devices.credentials import IssuedCredential
from dispatcher.devices.pki import write_private
from dispatcher.errors import ValidationError

MODE_MQTT = 0


def tracker_id(device: str) -> str:
    """OwnTracks' two-character tracker id (shown on the map pin): from the device name."""
    letters = [c for c in device.upper() if c.isalnum()]
    return "".join(letters[:2]) or "DV"


def owntracks_config(
    credential: IssuedCredential, host: str, port: int, *, tls: bool = True, tid: str | None = None
) -> dict[str, Any]:
    """The ``.otrc`` object for an OwnTracks device credential."""
    topics = credential.topics
    if not credential.device_key.startswith("owntracks:"):
        raise ValidationError(
            f"{credential.device_key} is not an OwnTracks device (owntracks:<user>/<device>)"
        )
    if not host or not 0 < port < 65536:
        raise ValidationError(f"broker address {host!r}:{port} is not usable by a phone")
    return {
        "_type": "configuration",
        "mode": MODE_MQTT,
        "host": host,
        "port": port,
        "tls": tls,
        "auth": True,
        "username": credential.username,
        "password": credential.password,
        "clientId": credential.username,
        "deviceId": topics.device,
        "tid": (tid or tracker_id(topics.device))[:2],
        "pubTopicBase": topics.write[0],
        "sub": False,
        "cleanSession": False,
        "mqttProtocolLevel": 4,
        "keepalive": 60,
    }


def config_json(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def import_url(config: dict[str, Any]) -> str:
    """``owntracks:///config?inline=...``: what the app opens from a link or a QR code."""
    raw = json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode()
    return "owntracks:///config?inline=" + base64.b64encode(raw).decode()


def qr_png(config: dict[str, Any], *, scale: int = 6) -> bytes:
    """The import URL as a PNG QR code (medium error correction, quiet zone kept)."""
    out = io.BytesIO()
    segno.make(import_url(config), error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def write_qr(config: dict[str, Any], path: Path) -> None:
    """Save the QR code as PNG or SVG (by the file's suffix), readable by this user only:
    it holds the password."""
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        raise ValidationError(f"{path}: the QR code is written as .png or .svg")
    out = io.BytesIO()
    segno.make(import_url(config), error="m").save(out, kind=kind, scale=6, border=4)
    write_private(path, out.getvalue())
