"""What the driver app may do, and everything the desk does with it (docs/driver.md).

:class:`DriverService` is shared by the web routes (:mod:`dispatcher.driver.web`) and the
console (pairing, the POD view, messages). Every call is one database transaction; none of
it runs on the GUI thread (the console calls it from its workers).

**Who is this phone?** Only the pairing token decides: ``<device id>.<secret>``, made by a
dispatcher from the console and shown once as a QR code; the database keeps the secret's
PBKDF2 hash. Every request is checked against the row (revoked → refused at once); the
vehicle is the one the desk paired the phone with, whatever the phone says, and the topic of
the decoder is built from the authenticated id. A phone cannot speak for another vehicle.

**Actions** go through the same decoder (format adapter + policy filters) as device
messages and the same exactly-once insert as MQTT events; a POD's files are validated
before anything is written and kept in the content-addressed :class:`PodStore`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from urllib.parse import quote

from dispatcher.clock import Clock, SystemClock
from dispatcher.devices.access import hash_secret, verify_secret
from dispatcher.driver.podstore import MEDIA_TYPES, PodStore, StoredFile
from dispatcher.errors import DispatcherError, ValidationError
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.model.driver import (
    ActionRefused,
    DeviceView,
    MessageView,
    PodInput,
    PodView,
    RunSheet,
)
from dispatcher.persistence import driver_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.telemetry.adapters.driverapp import NAME, DriverAppAdapter, topic_for
from dispatcher.telemetry.bindings import DeviceBindings, device_key
from dispatcher.telemetry.decoder import Decoder
from dispatcher.telemetry.filters import FilterConfig
from dispatcher.telemetry.rejection import Rejection

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{4,40})\.([A-Za-z0-9_-]{16,128})$")
_MSG_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_MESSAGE = 2000
MAX_PHOTOS = 4


class DriverOutbox(Protocol):
    """What :meth:`DriverService.send_to_driver` needs of the messaging outbox."""

    def send_to_driver(
        self,
        vehicle_id: str,
        text: str,
        created_by: str,
        *,
        stop_ref: str | None = None,
        nonce: str = "",
    ) -> object: ...


class DeviceRefused(Exception):
    """The phone may not use the app; ``reason`` is shown on it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated phone: its id and the vehicle the desk paired it with."""

    device_id: str
    vehicle_id: str


@dataclass(frozen=True, slots=True)
class Pairing:
    """Shown once on the console as a QR code; the secret is stored nowhere in clear."""

    device_id: str
    vehicle_id: str
    token: str
    url: str


@dataclass(frozen=True, slots=True)
class PodPolicy:
    """What a proof of delivery needs, per stop kind, as the fleet sets it.

    ``required`` maps a stop kind (``delivery``, ``pickup``) to the parts that must be there
    (``photo``, ``signature``, ``recipient``); anything not listed is optional.
    """

    required: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: {
            "delivery": frozenset({"photo", "signature"}),
            "pickup": frozenset(),
        }
    )
    max_distance_m: float = 150.0


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What the phone is told: stored (or a replay, answered the same), never half."""

    key: str
    duplicate: bool
    stop_status: str
    far: bool = False


class DriverService:
    """The driver app's operations (see the module)."""

    def __init__(
        self,
        db: Database,
        store: PodStore,
        *,
        policy: PodPolicy | None = None,
        clock: Clock | None = None,
        filters: FilterConfig | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.policy = policy or PodPolicy()
        self.clock: Clock = clock or SystemClock()
        self._bindings = DeviceBindings(clock=self.clock, max_warnings_per_min=0)
        self._decoder = Decoder(
            [DriverAppAdapter(self._bindings)], config=filters, clock=self.clock, stateful=False
        )
        self._lock = threading.Lock()  # the decoder is single-threaded; requests are not
        self._verified: dict[str, tuple[str, str]] = {}  # token digest → (device, hash)
        self._sink = SqlTelemetrySink(db)

    # -- pairing (the console) --------------------------------------------------------------
    def pair(self, vehicle_id: str, actor: str, base_url: str, label: str = "") -> Pairing:
        """A new phone for ``vehicle_id``: its token, and the URL the QR code carries."""
        device_id = secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")
        secret = secrets.token_urlsafe(24)
        with self.db.session() as session:
            driver_repo.add_device(
                session, device_id, vehicle_id, label[:200], hash_secret(secret), actor
            )
        token = f"{device_id}.{secret}"
        url = f"{base_url.rstrip('/')}/driver/#pair={quote(token)}"
        return Pairing(device_id, vehicle_id, token, url)

    def phones(self, vehicle_id: str) -> list[DeviceView]:
        """The phones ever paired with ``vehicle_id`` (unpaired ones included)."""
        with self.db.session() as session:
            return driver_repo.devices_of(session, vehicle_id)

    def revoke(self, device_id: str, actor: str) -> bool:
        with self.db.session() as session:
            done = driver_repo.revoke_device(session, device_id, actor)
        with self._lock:
            self._verified = {k: v for k, v in self._verified.items() if v[0] != device_id}
        return done

    # -- who is this phone ------------------------------------------------------------------
    def authenticate(self, token: str) -> Identity:
        """The phone behind ``token``; DeviceRefused (with the reason) otherwise."""
        match = _TOKEN.match(token or "")
        if match is None:
            raise DeviceRefused("this phone is not paired: scan the QR code from the desk")
        device_id, secret = match.groups()
        with self.db.session() as session:
            device = driver_repo.get_device(session, device_id)
            if device is None:
                raise DeviceRefused("this phone is not paired: scan the QR code from the desk")
            if device.revoked_at is not None:
                raise DeviceRefused(
                    "the desk unpaired this phone: ask the dispatcher for a new QR code"
                )
            if not self._secret_ok(token, device_id, secret, device.secret_hash):
                raise DeviceRefused("this pairing code is not valid: scan the QR code again")
            driver_repo.touch_device(session, device_id, self.clock.now())
        return Identity(device_id, device.vehicle_id)

    def _secret_ok(self, token: str, device_id: str, secret: str, hashed: str) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            cached = self._verified.get(digest)
        if cached is not None and hmac.compare_digest(cached[1], hashed):
            return True
        if not verify_secret(secret, hashed):
            return False
        with self._lock:
            self._verified[digest] = (device_id, hashed)
        return True

    # -- what the phone reads ---------------------------------------------------------------
    def run_sheet(self, who: Identity, day: date) -> RunSheet:
        with self.db.session() as session:
            return driver_repo.run_sheet(session, who.vehicle_id, day)

    def messages_for(self, who: Identity, after_id: int = 0) -> list[MessageView]:
        with self.db.session() as session:
            return driver_repo.messages(session, vehicle_id=who.vehicle_id, after_id=after_id)

    # -- what the phone reports -------------------------------------------------------------
    def _decode(self, who: Identity, kind: str, payload: bytes) -> EventReport | PositionReport:
        with self._lock:
            self._bindings.bind(device_key(NAME, who.device_id), who.vehicle_id)
            result = self._decoder.decode(topic_for(who.device_id, kind), payload)
        if isinstance(result, Rejection):
            raise ActionRefused(result.reason.value, _said(result))
        report = result.report
        assert isinstance(report, EventReport | PositionReport)
        return report

    def submit_action(
        self,
        who: Identity,
        payload: bytes,
        *,
        photos: Sequence[bytes] = (),
        signature: bytes | None = None,
    ) -> ActionResult:
        """Decode, check and store one action with its POD, all or nothing."""
        event = self._decode(who, "event", payload)
        assert isinstance(event, EventReport)
        key = event.event_id.rsplit(":", 1)[-1]
        if len(photos) > MAX_PHOTOS:
            raise ActionRefused("too_many_files", f"at most {MAX_PHOTOS} photos per stop")
        files: list[tuple[str, StoredFile, bytes]] = []
        try:  # every file checked before anything is written
            for data in photos:
                files.append(("photo", self.store.check(data), data))
            if signature:
                files.append(("signature", self.store.check(signature), signature))
        except ValidationError as exc:
            raise ActionRefused("bad_file", f"{exc}: nothing was recorded") from None
        recipient = str(event.extra.get("recipient", ""))
        finishing = event.kind in (DeliveryEventKind.DELIVERED, DeliveryEventKind.PICKED_UP)
        pod = None
        if finishing and (files or recipient):
            pod = PodInput(recipient, tuple(info.as_dict(role) for role, info, _ in files))
        provided = {role for role, _, _ in files} | ({"recipient"} if recipient else set())
        now = self.clock.now()
        with self.db.session() as session:
            outcome = driver_repo.store_action(
                session,
                event,
                pod,
                max_pod_distance_m=self.policy.max_distance_m,
                received_at=now,
                required=self.policy.required if finishing else {},
                provided=frozenset(provided),
            )
            if not outcome.duplicate:
                for _, _, data in files:  # inside the transaction: a failed write stores nothing
                    self.store.put(data)
        return ActionResult(key, outcome.duplicate, outcome.stop_status, outcome.far)

    def submit_position(self, who: Identity, payload: bytes) -> None:
        """A fix of the phone on shift: stored like any device's (same filters, same table)."""
        report = self._decode(who, "position", payload)
        assert isinstance(report, PositionReport)
        self._sink.write_positions([report])

    # -- messages ---------------------------------------------------------------------------
    def reply(self, who: Identity, key: str, body: str, stop_ref: str | None) -> int:
        """A message from the driver (idempotent on its key)."""
        if not _MSG_KEY.match(key or ""):
            raise ActionRefused("missing_field", "a message needs its idempotency key")
        text = _message_text(body)
        with self.db.session() as session:
            view, _ = driver_repo.add_message(
                session,
                client_key=f"{NAME}:{who.device_id}:{key}",
                vehicle_id=who.vehicle_id,
                stop_ref=(stop_ref or None) and stop_ref[:80],
                direction="driver",
                author=f"driver:{who.device_id}",
                body=text,
                at=self.clock.now(),
            )
        return view.id

    def send_to_driver(
        self,
        vehicle_id: str,
        body: str,
        actor: str,
        stop_ref: str | None = None,
        *,
        outbox: DriverOutbox | None = None,
    ) -> MessageView:
        """A message from the desk to the driver of ``vehicle_id`` (about a stop or not).

        One desk action, every channel the driver has: the conversation row is what the
        driver app reads (and the stop's history and the audit show); when a device of the
        native MQTT protocol speaks for the vehicle and ``outbox`` (the console's
        :class:`~dispatcher.messaging.compose.Messenger`) is given, the same message is also
        queued for its ``cmd`` topic, keyed by the conversation row's key so it leaves once.
        The outbox row is not part of the conversation: it is shown there once.
        """
        text = _message_text(body)
        key = f"desk:{secrets.token_hex(12)}"
        with self.db.session() as session:
            view, _ = driver_repo.add_message(
                session,
                client_key=key,
                vehicle_id=vehicle_id,
                stop_ref=stop_ref,
                direction="desk",
                author=actor,
                body=text,
                at=self.clock.now(),
            )
            native = outbox is not None and driver_repo.speaks_native(session, vehicle_id)
        if native and outbox is not None:
            try:
                outbox.send_to_driver(vehicle_id, text, actor, stop_ref=stop_ref, nonce=key)
            except DispatcherError as exc:  # the app has it; the tracker's copy is lost
                log.warning("message to %s not queued for MQTT: %s", vehicle_id, exc)
        return view

    def conversation(
        self, *, vehicle_id: str | None = None, stop_ref: str | None = None
    ) -> list[MessageView]:
        with self.db.session() as session:
            return driver_repo.messages(session, vehicle_id=vehicle_id, stop_ref=stop_ref)

    def tracking_photo(self, stop_id: int, name: str) -> tuple[bytes, str] | None:
        """(bytes, media type) of a POD photo of stop ``stop_id``, for its tracking page."""
        with self.db.session() as session:
            found = driver_repo.stop_photo(session, stop_id, name)
        if found is None:
            return None
        try:
            return self.store.open(*found), MEDIA_TYPES[found[1]]
        except (OSError, ValidationError):
            return None

    def pods(self, stop_ref: str) -> list[PodView]:
        with self.db.session() as session:
            return driver_repo.pods_for_stop(session, stop_ref)


def _message_text(body: str) -> str:
    text = (body or "").replace("\x00", "").strip()
    if not text:
        raise ActionRefused("empty", "the message is empty")
    if len(text) > MAX_MESSAGE:
        raise ActionRefused("too_long", f"a message has at most {MAX_MESSAGE} characters")
    return text


def _said(rejection: Rejection) -> str:
    """A rejection as the driver reads it."""
    detail = rejection.detail or rejection.reason.value.replace("_", " ")
    return f"refused ({rejection.reason.value}): {detail}"


def as_json(value: Any) -> Any:
    """Dataclass views to JSON-ready values (datetimes as ISO 8601)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {k: as_json(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def pairing_qr_png(pairing: Pairing, *, scale: int = 6) -> bytes:
    """The pairing URL as a PNG QR code (what the phone's camera scans)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(pairing.url, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
