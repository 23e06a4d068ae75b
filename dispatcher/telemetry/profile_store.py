"""The core's API for per-device profiles: set one when a device is bound, look one up.

The bind step (devices list) calls :func:`set_device_profile`; the live console reloads
every stored profile with the bindings (:func:`load_device_profiles`) and the adapters read
them from a :class:`~dispatcher.telemetry.profiles.ProfileBook`. A device key is the binding
key (``"owntracks:alice/phone"``, ``"traccar:356938035643809"``).
"""

from __future__ import annotations

from dispatcher.errors import ValidationError
from dispatcher.persistence import device_profile_repo
from dispatcher.persistence.database import Database
from dispatcher.telemetry.profiles import DeviceProfile, ProfileBook, profile_from_mapping

MAX_KEY = 200


def _check_key(device_key: str) -> str:
    fmt, sep, ident = device_key.partition(":")
    if not sep or not fmt or not ident or len(device_key) > MAX_KEY or "\x00" in device_key:
        raise ValidationError(f"{device_key[:80]!r} is not a device key (<format>:<device>)")
    return device_key


def set_device_profile(
    db: Database,
    device_key: str,
    profile: DeviceProfile | None,
    *,
    book: ProfileBook | None = None,
) -> None:
    """Store (or with ``None`` forget) a device's own profile; ``book`` is updated at once.

    Who may: whoever may bind the device; the bind step checks the role before calling.

    Raises:
        ValidationError: ``device_key`` is not ``<format>:<device>`` or too long.
    """
    key = _check_key(device_key)
    with db.session() as session:
        if profile is None:
            device_profile_repo.delete_device_profile(session, key)
        else:
            device_profile_repo.put_device_profile(session, key, profile.to_mapping())
    if book is not None:
        book.set(key, profile)


def device_profile(db: Database, device_key: str) -> DeviceProfile | None:
    """A device's own stored profile, or ``None`` (it then reads as its format's default)."""
    with db.session() as session:
        values = device_profile_repo.device_profile(session, _check_key(device_key))
    return None if values is None else profile_from_mapping(values, device_key)


def load_device_profiles(db: Database) -> dict[str, DeviceProfile]:
    """Every stored profile, for :meth:`ProfileBook.replace`; a bad row is skipped."""
    with db.session() as session:
        rows = device_profile_repo.device_profiles(session)
    return profiles_from_rows(rows)


def profiles_from_rows(rows: dict[str, dict[str, object]]) -> dict[str, DeviceProfile]:
    """Validated profiles from stored rows (a row edited by hand into nonsense is skipped)."""
    out: dict[str, DeviceProfile] = {}
    for key, values in rows.items():
        try:
            out[key] = profile_from_mapping(values, key)
        except ValidationError:
            continue
    return out
