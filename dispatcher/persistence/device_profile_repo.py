"""Stored per-device profiles (table ``device_profiles``), as plain mappings.

The telemetry room validates them (:mod:`dispatcher.telemetry.profile_store`); this module
only reads and writes rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.persistence.orm import DeviceProfileRow

_KEYS = ("battery", "speed", "volts_empty", "volts_full")


def device_profiles(session: Session) -> dict[str, dict[str, Any]]:
    """Every stored profile: device key → ``{battery, speed, volts_empty, volts_full}``."""
    return {
        row.device_key: {key: getattr(row, key) for key in _KEYS}
        for row in session.scalars(select(DeviceProfileRow))
    }


def device_profile(session: Session, device_key: str) -> dict[str, Any] | None:
    """One device's stored profile, or ``None``."""
    row = session.get(DeviceProfileRow, device_key)
    return None if row is None else {key: getattr(row, key) for key in _KEYS}


def put_device_profile(session: Session, device_key: str, values: dict[str, Any]) -> None:
    """Insert or replace one device's profile."""
    session.merge(DeviceProfileRow(device_key=device_key, **{k: values[k] for k in _KEYS}))


def delete_device_profile(session: Session, device_key: str) -> bool:
    """Forget one device's profile; True when there was one."""
    row = session.get(DeviceProfileRow, device_key)
    if row is None:
        return False
    session.delete(row)
    return True
