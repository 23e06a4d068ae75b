"""Short, signed, expiring, opaque links: ``/t/<token>`` for a customer, others per audience.

A token is 29 bytes, 39 characters of URL-safe base64 (short enough for an SMS)::

    key id (1) | nonce (4) | expiry, unix minutes (4) | subject ^ pad (8) | MAC (12)

* The subject (an order's or a route's database id) is never in the clear: it is XORed with
  a pad drawn from HMAC-SHA256(key, "pad" | purpose | nonce | expiry), a keyed PRF.
* The MAC is HMAC-SHA256(key, purpose | everything before it), truncated to 96 bits: a
  changed byte, a token of another purpose (a driver's link on the customer's page) or one
  signed with a retired key does not verify. Comparison is constant-time.
* The keys live in the database (:mod:`dispatcher.persistence.web_repo`): generated once,
  shared by every process, rotated by adding one (retiring the old revokes its links).

:meth:`LinkSigner.verify` answers ``None`` for anything wrong, with no reason: the page shows
the same "link not valid" for a forged, tampered, expired or revoked link.

Verifying is cheap: the keys are in memory (HMAC states keyed once, copied per use) and a
token that verified is remembered (bounded), so a page's next request checks only its expiry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import threading
from datetime import UTC, datetime

from dispatcher.persistence.database import Database
from dispatcher.persistence.web_repo import ensure_key, load_keys

_HEAD = struct.Struct(">BIIQ")  # key id, nonce, expiry minutes, masked subject
_MAC_LEN = 12
TOKEN_BYTES = _HEAD.size + _MAC_LEN  # 29
TOKEN_CHARS = 39  # base64url of 29 bytes, unpadded
_REMEMBERED = 100_000  # verified tokens kept (then forgotten all at once)


class LinkSigner:
    """Signs and checks tokens with the database's keys (re-read after :meth:`reload`)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._current: int | None = None
        self._keys: dict[int, bytes] = {}
        self._keyed: dict[int, hmac.HMAC] = {}
        self._verified: dict[tuple[str, str], tuple[int, int]] = {}
        self.reload()

    def reload(self) -> None:
        """Read the keys again (after a rotation by another process)."""
        ensure_key(self._db)
        current, keys = load_keys(self._db)
        keyed = {kid: hmac.new(key, digestmod=hashlib.sha256) for kid, key in keys.items()}
        with self._lock:
            self._current, self._keys, self._keyed = current, keys, keyed
            self._verified = {}  # a retired key's links stop verifying now

    def sign(self, purpose: str, subject: int, expires: datetime) -> str:
        """A token for ``subject`` under ``purpose`` that stops verifying at ``expires``."""
        with self._lock:
            kid, key = self._current, self._keyed.get(self._current or -1)
        if kid is None or key is None:
            raise RuntimeError("no active web key")
        minutes = max(0, min(int(expires.timestamp() // 60), 0xFFFFFFFF))
        nonce = secrets.randbits(32)
        masked = (subject & 0xFFFFFFFFFFFFFFFF) ^ _pad(key, purpose, nonce, minutes)
        head = _HEAD.pack(kid, nonce, minutes, masked)
        return _b64(head + _mac(key, purpose, head))

    def verify(self, purpose: str, token: str, now: datetime) -> int | None:
        """The subject of a valid, unexpired ``token`` of ``purpose``; else ``None``."""
        if not isinstance(token, str) or len(token) != TOKEN_CHARS:
            return None
        known = self._verified.get((purpose, token))
        if known is not None:
            subject, minutes = known
            return subject if now.astimezone(UTC).timestamp() < minutes * 60 else None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != TOKEN_BYTES or _b64(raw) != token:  # one spelling per token
            return None
        head, mac = raw[: _HEAD.size], raw[_HEAD.size :]
        kid, nonce, minutes, masked = _HEAD.unpack(head)
        with self._lock:
            key = self._keyed.get(kid)
            cache = self._verified
        if key is None or not hmac.compare_digest(mac, _mac(key, purpose, head)):
            return None
        subject = int(masked) ^ _pad(key, purpose, nonce, minutes)
        if len(cache) >= _REMEMBERED:
            cache.clear()
        cache[(purpose, token)] = (subject, minutes)
        if now.astimezone(UTC).timestamp() >= minutes * 60:
            return None
        return subject


def _mac(key: hmac.HMAC, purpose: str, head: bytes) -> bytes:
    """HMAC-SHA256(key, "mac|" purpose "|" head), truncated (``key``: a keyed state)."""
    state = key.copy()
    state.update(b"mac|" + purpose.encode() + b"|" + head)
    return state.digest()[:_MAC_LEN]


def _pad(key: hmac.HMAC, purpose: str, nonce: int, minutes: int) -> int:
    state = key.copy()
    state.update(b"pad|" + purpose.encode() + b"|" + struct.pack(">II", nonce, minutes))
    return int.from_bytes(state.digest()[:8], "big")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
