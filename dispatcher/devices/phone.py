"""Setting up a driver's phone: a credential, the OwnTracks configuration, the CA to trust.

Shared by ``dispatcher devices credentials`` and the console's phone dialog, so both hand
out exactly the same thing. The broker's address is ``--host`` / ``[broker] public_host`` or
this machine's LAN address, and its port that of ``[broker] listen`` (8883 by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatcher.config import Settings
from dispatcher.devices.credentials import DeviceCredentials, IssuedCredential
from dispatcher.devices.embedded import BrokerHome, parse_listen
from dispatcher.devices.owntracks import owntracks_config
from dispatcher.devices.pki import local_names
from dispatcher.persistence.database import Database

DEFAULT_TLS_PORT = 8883


@dataclass(frozen=True, slots=True)
class PhoneSetup:
    """What the person setting up the phone gets (the password is in it, once)."""

    credential: IssuedCredential
    host: str
    port: int
    #: The OwnTracks configuration; None for devices of other formats.
    owntracks: dict[str, Any] | None
    ca_file: Path
    #: Said to the person when the embedded broker does not listen for phones yet.
    warning: str = ""


def phone_address(settings: Settings, host: str | None = None) -> tuple[str, int, str]:
    """(host, port, warning) that a phone on the LAN dials."""
    b = settings.broker
    warning = ""
    port = DEFAULT_TLS_PORT
    if b.listen:
        listen_host, port = parse_listen(b.listen)
        if not host and not b.public_host and listen_host not in ("0.0.0.0", "::"):
            host = listen_host
    else:
        warning = (
            "the embedded broker does not listen for phones: set [broker] listen = "
            '"0.0.0.0:8883" in the configuration and restart the console'
        )
    names = local_names()
    lan = next((n for n in reversed(names) if n not in ("localhost", "127.0.0.1", "::1")), "")
    return host or b.public_host or lan or "127.0.0.1", port, warning


def credential_manager(
    settings: Settings, db: Database, home: BrokerHome | None = None
) -> DeviceCredentials:
    """Credential actions whose every change is applied to this machine's embedded broker."""
    home = home or BrokerHome(prefix=settings.broker.prefix)
    return DeviceCredentials(db, prefix=settings.broker.prefix, on_change=lambda: home.sync(db))


def setup_phone(
    settings: Settings,
    db: Database,
    device_key: str,
    actor: str,
    *,
    host: str | None = None,
    rotate: bool = False,
    username: str | None = None,
    home: BrokerHome | None = None,
) -> PhoneSetup:
    """Create (or rotate) the device's credential and build what its phone imports."""
    home = home or BrokerHome(prefix=settings.broker.prefix)
    creds = credential_manager(settings, db, home)
    issued = (
        creds.rotate(device_key, actor) if rotate else creds.create(device_key, actor, username)
    )
    dial, port, warning = phone_address(settings, host)
    listen_host = parse_listen(settings.broker.listen)[0] if settings.broker.listen else "0.0.0.0"
    cert = home.dir / "server.crt"
    before = cert.stat().st_mtime_ns if cert.exists() else None
    files = home.tls(listen_host, dial)
    if before is not None and cert.stat().st_mtime_ns != before:
        home.reload_running()  # a running broker takes the certificate with the new name
    config = None
    if device_key.startswith("owntracks:"):
        config = owntracks_config(issued, dial, port)
    return PhoneSetup(issued, dial, port, config, files.ca_cert, warning)
