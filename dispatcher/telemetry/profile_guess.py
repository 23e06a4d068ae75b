"""A device's profile guessed from what it sent: a Greenwich tracker's battery is a voltage.

When a dispatcher binds a device, what it sent so far is in the quarantine: every message of
an unbound device is kept there with an excerpt of its payload. A Greenwich (qtripp) tracker
publishes OwnTracks JSON with every number a string and ``batt`` a voltage (``"batt":
"12.4"``), and plain values on status sub-topics (``…/voltage/batt``); the OwnTracks apps send
whole percents. The guess proposes ``battery = "volts"`` with the range of the battery the
voltage points at (a Li-ion cell, a 12 V or a 24 V vehicle battery), so the bind dialog can
preselect it with the reason; the dispatcher confirms or changes it. The format's default
(``auto``) would read such a value too, but a stored profile says what the device *is*, and
lets the range be set where the battery is not one of the common kinds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dispatcher.telemetry.profiles import DeviceProfile

#: Voltages up to the first number are read between the next two: (top, empty, full, what).
VOLT_KINDS = (
    (5.0, 3.4, 4.2, "a Li-ion cell"),
    (16.0, 11.8, 12.7, "a 12 V vehicle battery"),
    (32.0, 23.6, 25.4, "a 24 V vehicle battery"),
)
#: ``"batt": "12.4"`` or ``"batt": 12.4``: a decimal point, which the apps' percents never have.
_BATT_VOLTS = re.compile(r'"batt"\s*:\s*"?\s*(\d{1,3}\.\d+)\s*"?')
_PLAIN_NUMBER = re.compile(r"\s*(\d{1,3}(?:\.\d+)?)\s*")


@dataclass(frozen=True, slots=True)
class ProfileHint:
    """A proposed profile and, in words, what it was guessed from."""

    profile: DeviceProfile
    reason: str


def volts_range(volts: float) -> tuple[float, float, str] | None:
    """The empty and full voltage of the battery kind ``volts`` belongs to, and its name."""
    if volts <= 0:
        return None
    for top, empty, full, what in VOLT_KINDS:
        if volts <= top:
            return empty, full, what
    return None


def guess_profile(fmt: str, messages: Iterable[tuple[str, str]]) -> ProfileHint | None:
    """A profile from a device's messages, ``(topic, payload excerpt)`` newest first.

    Only OwnTracks devices differ within their format this way; for others, and when no
    message shows a voltage, ``None`` (the format's default is then the right choice).
    """
    if fmt != "owntracks":
        return None
    for topic, text in messages:
        found = _volts(topic, text)
        if found is None:
            continue
        volts, where = found
        kind = volts_range(volts)
        if kind is None:
            continue
        empty, full, what = kind
        profile = DeviceProfile(battery="volts", speed="kmh", volts_empty=empty, volts_full=full)
        return ProfileHint(
            profile,
            f"Greenwich tracker: {where} is a voltage ({what}), read as 0-100 % "
            f"between {empty:g} and {full:g} V",
        )
    return None


def _volts(topic: str, text: str) -> tuple[float, str] | None:
    """The voltage a message reports, and where it was seen, or None."""
    if topic.endswith("/voltage/batt"):
        plain = _PLAIN_NUMBER.fullmatch(text)
        if plain is not None:
            return float(plain.group(1)), f"{plain.group(1)} on …/voltage/batt"
    match = _BATT_VOLTS.search(text)
    if match is not None:
        return float(match.group(1)), f'"batt" {match.group(1)}'
    return None
