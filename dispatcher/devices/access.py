"""Who may use which topic on the embedded broker: device users, consoles, the recorder.

A device credential is a broker user for exactly one device key (the key the telemetry
bindings use, ``owntracks:alice/phone``). From the key follow the topics the device may
publish on and the few it may read; nothing else. The consoles and the recorder
(``dispatcher serve``) read and write everything, which is what makes the console topics
(``<prefix>/console/sync``, the alert runner's lease ``<prefix>/console/alerts/lease``) theirs
alone: a device that publishes there, or under another vehicle's topics, is dropped by the
broker before any console hears it, and a device never receives another vehicle's positions.

The password file is written in Mosquitto's own PBKDF2-SHA512 format (``$7$``), which is
also what the database stores, so a password exists in clear only in the one answer that
hands it to the person setting up the phone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from dispatcher.errors import ValidationError
from dispatcher.telemetry.adapters.native import valid_id

#: Broker users of the app itself: read and write every topic.
CONSOLE_USER = "console"
RECORDER_USER = "recorder"
SYSTEM_USERS = (CONSOLE_USER, RECORDER_USER)

MAX_KEY = 200  # device_bindings.device_key
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_ITERATIONS = 1000
#: What the OwnTracks apps publish below their base topic (``cmd`` comes from the console).
_OWNTRACKS_OUT = ("event", "waypoint", "waypoints", "status", "info", "dump", "step", "beacon")
_SALT_BYTES = 12


@dataclass(frozen=True, slots=True)
class DeviceTopics:
    """The topics one device may publish on, and the ones it may read (console → device)."""

    key: str
    write: tuple[str, ...]
    read: tuple[str, ...]
    #: What the device puts in its topics: the OwnTracks ``user`` and ``device`` (or the id).
    owner: str
    device: str


def _level(value: str, what: str, key: str) -> str:
    # Control characters would also end a line of the ACL file: "\nuser console" must never
    # get a device the console's rights.
    if not valid_id(value) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValidationError(
            f"device key {key!r}: {what} {value!r} cannot be one MQTT topic level "
            "(1-64 characters, no '/', '+', '#', NUL or surrounding spaces)"
        )
    return value


def device_topics(key: str, prefix: str = "fleet") -> DeviceTopics:
    """The topics of the device ``key``; a key no broker ACL can confine is refused.

    Supported: ``owntracks:<user>/<device>``, ``native:<vehicle_id>`` (the console's own
    protocol) and ``homeassistant:<dev_id>``. Traccar forwards every device on one server
    topic, so its devices cannot be told apart by the broker: the Traccar server gets a
    bridge user of its own instead (see docs/mqtt.md).
    """
    if not key or len(key) > MAX_KEY or "\x00" in key or key.strip() != key:
        raise ValidationError(f"device key {key[:80]!r} is empty, too long or has a NUL byte")
    source, sep, ident = key.partition(":")
    if not sep:
        raise ValidationError(f"device key {key!r} must look like owntracks:<user>/<device>")
    if source == "owntracks":
        user, slash, device = ident.partition("/")
        if not slash:
            raise ValidationError(f"device key {key!r} must look like owntracks:<user>/<device>")
        base = f"owntracks/{_level(user, 'user', key)}/{_level(device, 'device', key)}"
        write = (base, *(f"{base}/{sub}" for sub in _OWNTRACKS_OUT))
        return DeviceTopics(key, write, (f"{base}/cmd",), user, device)
    if source == "native":
        vid = _level(ident, "vehicle id", key)
        base = f"{prefix}/vehicles/{vid}"
        write = tuple(f"{base}/{kind}" for kind in ("position", "event", "status"))
        return DeviceTopics(key, write, (f"{base}/route", f"{base}/cmd"), vid, vid)
    if source == "homeassistant":
        dev = _level(ident, "device id", key)
        return DeviceTopics(key, (f"location/{dev}",), (), dev, dev)
    if source == "traccar":
        raise ValidationError(
            "Traccar forwards all its devices on one topic, so a per-device broker user "
            "cannot confine them; give the Traccar server its own broker user instead"
        )
    raise ValidationError(f"device key {key!r}: unknown device format {source!r}")


def default_username(key: str) -> str:
    """A broker user name for the device: readable, only characters every broker accepts."""
    topics = device_topics(key)
    source = key.partition(":")[0]
    raw = {
        "owntracks": f"{topics.owner}.{topics.device}",
        "native": topics.owner,
        "homeassistant": f"ha.{topics.owner}",
    }[source]
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", raw)[:64]


def check_username(name: str) -> str:
    """Refuse names Mosquitto's files cannot hold and the app's own users."""
    if not _USERNAME.fullmatch(name):
        raise ValidationError(
            f"broker user name {name[:80]!r} must be 1-64 letters, digits or . _ @ -"
        )
    if name in SYSTEM_USERS:
        raise ValidationError(f"broker user name {name!r} is reserved for the app itself")
    return name


def new_secret() -> str:
    """A random password (32 URL-safe characters, 192 bits): typed by nobody, scanned."""
    return secrets.token_urlsafe(24)


def hash_secret(secret: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS) -> str:
    """Mosquitto's ``$7$`` hash (PBKDF2-HMAC-SHA512), as ``mosquitto_passwd`` writes it."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_secret(secret: str, hashed: str) -> bool:
    """True when ``secret`` matches a ``$7$`` hash (constant-time comparison)."""
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        mine = hashlib.pbkdf2_hmac(
            "sha512", secret.encode(), base64.b64decode(salt), int(iterations)
        )
        return hmac.compare_digest(mine, base64.b64decode(digest))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class BrokerUser:
    """One line of the password file and its ACL block."""

    username: str
    secret_hash: str
    device_key: str | None = None  # None: a console or the recorder


def password_file(users: Iterable[BrokerUser]) -> str:
    """``user:$7$...`` lines (Mosquitto's password file)."""
    return "".join(f"{u.username}:{u.secret_hash}\n" for u in users)


def acl_file(users: Iterable[BrokerUser], prefix: str = "fleet") -> str:
    """Mosquitto ACL: system users everywhere, each device only its own topics.

    There is deliberately no ``pattern`` line: a rule for every user would apply to a user
    added by hand to the password file too. A user without a block is refused everything.
    """
    blocks: list[str] = []
    for user in users:
        lines = [f"user {user.username}"]
        if user.device_key is None:
            lines.append("topic readwrite #")
        else:
            topics = device_topics(user.device_key, prefix)
            lines += [f"topic write {t}" for t in topics.write]
            lines += [f"topic read {t}" for t in topics.read]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
