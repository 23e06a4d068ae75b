"""The devices desk: bind, unbind and look, for the console and the command line alike.

Binding is one transaction (refused with the reason: malformed key, unknown vehicle, a device
already bound to another vehicle) and then takes effect at once: in this process the live
binding table changes before the call returns, and a note on the console sync topic
(``{"entity": "binding", "id": <device key>}``) makes every other console and recorder reload
its table from the database without waiting for the periodic reload.

A device's own profile (battery in volts, speed in knots: docs/mqtt.md, device profiles) is
chosen when it is bound and can be changed later (:meth:`DeviceDesk.set_profile`), audited
like the binding and applied to this process's profile book at once.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dispatcher.devices.registry import DeviceRegistry
from dispatcher.errors import ValidationError
from dispatcher.persistence import device_profile_repo, device_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.device_repo import DeviceView, QuarantineView
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.profile_guess import ProfileHint, guess_profile
from dispatcher.telemetry.profiles import DeviceProfile, ProfileBook, profile_from_mapping

log = logging.getLogger(__name__)

Announce = Callable[[Mapping[str, Any]], object]
"""Publishes a sync note (``TelemetryClient.publish_sync``)."""


def current_actor() -> str:
    """Who is at the keyboard (the audit row's actor)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True, slots=True)
class BindResult:
    """What a bind did: ``changed`` False when the device already was bound to it."""

    device_key: str
    vehicle_id: str
    changed: bool


@dataclass(frozen=True, slots=True)
class ProfileChoice:
    """What the bind dialog offers for one device: its stored profile, its format's default
    and a profile guessed from what it sent (a Greenwich tracker's volts), with the reason."""

    device_key: str
    format: str
    stored: DeviceProfile | None
    default: DeviceProfile
    hint: ProfileHint | None

    @property
    def proposed(self) -> DeviceProfile | None:
        """What to preselect: the stored profile, else the guess, else None (the default)."""
        if self.stored is not None:
            return self.stored
        return None if self.hint is None else self.hint.profile


class DeviceDesk:
    """Binding and the devices' lists over one database.

    Args:
        db: the database.
        bindings: this process's live binding table (console, recorder); changed at once.
        registry: this process's device registry (the bound device leaves its unknown list).
        announce: publishes a sync note so other processes reload at once.
        actor: who acts (audit); the OS user by default.
        profiles: this process's profile book (changed at once) and the formats' defaults;
            without one, the stock defaults.
    """

    def __init__(
        self,
        db: Database,
        *,
        bindings: DeviceBindings | None = None,
        registry: DeviceRegistry | None = None,
        announce: Announce | None = None,
        actor: str | None = None,
        profiles: ProfileBook | None = None,
    ) -> None:
        self._db = db
        self._profiles = profiles or ProfileBook()
        self._bindings = bindings
        self._registry = registry
        self._announce = announce
        self.actor = actor or current_actor()

    def devices(self, *, unbound_only: bool = False) -> list[DeviceView]:
        with self._db.session() as session:
            return device_repo.list_devices(session, unbound_only=unbound_only)

    def device(self, device_key: str) -> DeviceView | None:
        with self._db.session() as session:
            return device_repo.get_device(session, device_key)

    def quarantine(
        self, device_key: str | None = None, *, limit: int = 200
    ) -> list[QuarantineView]:
        with self._db.session() as session:
            return device_repo.quarantine(session, device_key, limit=limit)

    def vehicle_ids(self) -> list[str]:
        with self._db.session() as session:
            return sorted(device_repo.known_vehicle_ids(session))

    def bind(
        self, device_key: str, vehicle_id: str, profile: DeviceProfile | None = None
    ) -> BindResult:
        """Bind (raises ValidationError / NotFoundError / ConflictError with the reason).

        ``profile`` says how this device's battery and speed read where it differs from its
        format's default (a Greenwich tracker's volts, a tracker sending knots); it is stored
        with the binding, after the bind itself was allowed (docs/mqtt.md, device profiles).
        """
        with self._db.session() as session:
            changed = device_repo.bind(session, device_key, vehicle_id, actor=self.actor)
        key = device_key.strip()
        if profile is not None:
            changed = self._store_profile(key, profile) or changed
        if self._bindings is not None:
            self._bindings.bind(key, vehicle_id)
        if self._registry is not None:
            self._registry.forget(key)
        if changed:
            self._note(key)
        return BindResult(key, vehicle_id, changed)

    def profile_choice(self, device_key: str) -> ProfileChoice:
        """The device's stored profile, its format's default and a guess from its messages."""
        key = device_key.strip()
        fmt = key.partition(":")[0]
        with self._db.session() as session:
            values = device_profile_repo.device_profile(session, key)
            messages = device_repo.quarantine(session, key, limit=50)
        stored = None
        if values is not None:
            try:
                stored = profile_from_mapping(values, key)
            except ValidationError:  # a row edited by hand into nonsense: offer the default
                log.warning("the stored profile of %s is not valid; ignored", key)
        hint = guess_profile(fmt, ((m.topic, m.excerpt) for m in messages))
        return ProfileChoice(key, fmt, stored, self._profiles.default(fmt), hint)

    def set_profile(self, device_key: str, profile: DeviceProfile | None) -> bool:
        """Give a device its own profile (``None``: back to its format's default); audited,
        applied here at once and announced. False when it had that profile already.

        Raises PermissionDenied for a viewer, ValidationError for a malformed key.
        """
        key = device_key.strip()
        changed = self._store_profile(key, profile)
        if changed:
            self._note(key)
        return changed

    def _store_profile(self, key: str, profile: DeviceProfile | None) -> bool:
        values = None if profile is None else profile.to_mapping()
        with self._db.session() as session:
            changed = device_repo.set_profile(session, key, values, actor=self.actor)
        self._profiles.set(key, profile)
        return changed

    def unbind(self, device_key: str) -> str:
        """Unbind; returns the vehicle it was bound to (NotFoundError when it was not)."""
        with self._db.session() as session:
            vehicle = device_repo.unbind(session, device_key, actor=self.actor)
        key = device_key.strip()
        if self._bindings is not None:
            self._bindings.unbind(key)
        self._note(key)
        return vehicle

    def _note(self, key: str) -> None:
        if self._announce is None:
            return
        try:
            self._announce({"entity": "binding", "id": key})
        except Exception as exc:  # the database has the truth; others reload within 15 s
            log.warning("could not announce the binding of %s: %s", key, exc)
