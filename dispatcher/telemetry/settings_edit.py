"""The device settings as the console shows and an admin edits them.

Every key :meth:`TelemetrySettings.from_mapping` accepts — device-format topics, per-format
profiles, filter limits, the devices list's bounds — and the native topic prefix
(``[broker] prefix``) is described here once (:data:`SPECS`: group, kind, meaning), so the
console's Device settings view lists them all and a new setting cannot be left out of it
(a test compares :data:`SPECS` with what the loader accepts).

:func:`read_view` reads the configuration file and says, per setting, the value the next
start will use, the one this process runs with, the default and whether the file sets it.
:func:`save_changes` is an admin's edit: the change is merged into the file with tomlkit
(comments and every other setting kept), the whole new text is checked by the configuration
loader and the ``[telemetry]`` validation *before* the file is replaced (atomically: a crash
leaves the old file or the new one), and an audit row says who changed what.

Nothing here changes a running process: topics are subscribed and filters built when the
console or ``dispatcher serve`` starts, so a saved change takes effect at the next start.
"""

from __future__ import annotations

import enum
import math
import os
import shutil
import tempfile
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from dispatcher.config import Settings, settings_from_text
from dispatcher.errors import ConfigError, ValidationError
from dispatcher.persistence.database import Database
from dispatcher.persistence.settings_repo import audit_settings, may_edit_settings
from dispatcher.telemetry.filters import FilterConfig
from dispatcher.telemetry.profiles import BATTERY_UNITS, FORMATS, SPEED_UNITS
from dispatcher.telemetry.settings import TelemetrySettings
from dispatcher.telemetry.topics import NativeTopics

RESTART_NOTE = (
    "Saved settings take effect when the console restarts (and each `dispatcher serve` "
    "recorder, which reads its own configuration file)."
)


class Kind(enum.StrEnum):
    """How a setting is typed in and written to the file."""

    TOPIC = "topic"  # one topic level or path, no wildcards
    TOPICS = "topics"  # a list of topics, typed comma-separated
    NUMBER = "number"  # a non-negative number
    WHOLE = "whole"  # a whole number
    NUMBER_OR_OFF = "number or off"  # a number, or off (``false`` in the file)
    CHOICE = "choice"  # one of ``choices``


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One setting: where it sits in the file, how it is typed, what it means."""

    key: str  # dotted from the file's root: "telemetry.owntracks.battery", "broker.prefix"
    group: str
    kind: Kind
    meaning: str
    choices: tuple[str, ...] = ()

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.key.split("."))

    @property
    def label(self) -> str:
        """As a person finds it in the file: ``[telemetry.owntracks] battery``."""
        *table, name = self.path
        return f"[{'.'.join(table)}] {name}"


_TOPICS = "Topics"
_FORMAT_TITLES = {"owntracks": "OwnTracks", "traccar": "Traccar", "homeassistant": "Home Assistant"}
_FILTER_MEANINGS = {
    "max_payload_bytes": "larger payloads are rejected unread (oversized), bytes",
    "max_future_s": "a fix this far ahead of its arrival is a broken clock (in_future), s",
    "max_age_s": "older fixes are rejected (too_old); phones replay a backlog, s",
    "coarse_accuracy_m": "worse accuracy: kept, shown as coarse, kept out of ETAs (off: never)",
    "max_accuracy_m": "worse accuracy: rejected as poor_accuracy (off: keep them as coarse)",
    "max_reported_speed_kmh": "a reported speed above this is a broken sensor, km/h",
    "max_implied_speed_kmh": "moving faster than this between two fixes is a jump, km/h",
    "min_jump_distance_m": "shorter hops are GPS jitter, never jumps, m",
    "jump_confirmations": "consistent jumped fixes after which the new place is believed",
    "duplicate_memory": "recent timestamps per vehicle that identify a duplicate",
    "quarantine_size": "rejected messages kept in memory for inspection",
    "quarantine_payload_bytes": "bytes of each rejected payload kept in memory",
    "evict_after_s": "a vehicle silent this long is forgotten; its next fix starts afresh, s",
}
_REGISTRY_MEANINGS = {
    "unknown_devices": "unbound devices kept in the Devices list (memory and database)",
    "quarantine_per_device": "rejected messages kept per device",
    "quarantine_total": "rejected messages kept in all",
}
_PROFILE_MEANINGS = {
    "battery": "how batt/battery reads: percent, volts, fraction (0-1), auto (decimals: volts)",
    "speed": "unit of the speed field on the wire (kmh, ms, knots, mph)",
    "volts_empty": "voltage read as 0 % (battery volts or auto)",
    "volts_full": "voltage read as 100 % (battery volts or auto)",
}


def _specs() -> tuple[SettingSpec, ...]:
    out = [
        SettingSpec(
            "broker.prefix",
            _TOPICS,
            Kind.TOPIC,
            "native topics <prefix>/vehicles/<id>/…; consoles, recorders and apps must agree",
        ),
        SettingSpec(
            "telemetry.owntracks_root",
            _TOPICS,
            Kind.TOPIC,
            "OwnTracks: <root>/<user>/<device> (the apps' default base topic: owntracks)",
        ),
        SettingSpec(
            "telemetry.traccar_topics",
            _TOPICS,
            Kind.TOPICS,
            "Traccar forward.topic (its default: positions), comma-separated",
        ),
        SettingSpec(
            "telemetry.traccar_event_topics",
            _TOPICS,
            Kind.TOPICS,
            "Traccar event.forward.topic (its default: events), comma-separated",
        ),
        SettingSpec(
            "telemetry.homeassistant_root",
            _TOPICS,
            Kind.TOPIC,
            "Home Assistant mqtt_json trackers: <root>/<dev_id>",
        ),
    ]
    for f in fields(FilterConfig):
        kind = Kind.NUMBER
        if f.name in ("coarse_accuracy_m", "max_accuracy_m"):
            kind = Kind.NUMBER_OR_OFF
        elif f.type in ("int", int):
            kind = Kind.WHOLE
        out.append(SettingSpec(f"telemetry.{f.name}", "Filters", kind, _FILTER_MEANINGS[f.name]))
    registry = "Devices list and quarantine"
    for name, meaning in _REGISTRY_MEANINGS.items():
        out.append(SettingSpec(f"telemetry.{name}", registry, Kind.WHOLE, meaning))
    choices = {"battery": BATTERY_UNITS, "speed": SPEED_UNITS}
    for fmt in FORMATS:
        group = f"{_FORMAT_TITLES[fmt]} profile (format default)"
        for name, meaning in _PROFILE_MEANINGS.items():
            kind = Kind.CHOICE if name in choices else Kind.NUMBER
            key = f"telemetry.{fmt}.{name}"
            out.append(SettingSpec(key, group, kind, meaning, choices.get(name, ())))
    return tuple(out)


#: Every device setting, in the order the console shows them.
SPECS: tuple[SettingSpec, ...] = _specs()
_BY_KEY = {s.key: s for s in SPECS}


def spec(key: str) -> SettingSpec:
    """The setting ``key`` (``ValidationError`` for a key that is no device setting)."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise ValidationError(f"{key!r} is not a device setting") from None


def effective_values(settings: Settings) -> dict[str, Any]:
    """Each setting's value in ``settings`` as the file writes it (``false`` for off).

    Raises ConfigError when ``[telemetry]`` is invalid (as the console's start would).
    """
    ts = TelemetrySettings.from_settings(settings)
    out: dict[str, Any] = {
        "broker.prefix": settings.broker.prefix,
        "telemetry.owntracks_root": ts.owntracks_root,
        "telemetry.traccar_topics": list(ts.traccar_topics),
        "telemetry.traccar_event_topics": list(ts.traccar_event_topics),
        "telemetry.homeassistant_root": ts.homeassistant_root,
        "telemetry.unknown_devices": ts.limits.max_unknown,
        "telemetry.quarantine_per_device": ts.limits.quarantine_per_device,
        "telemetry.quarantine_total": ts.limits.quarantine_total,
    }
    for f in fields(FilterConfig):
        value = getattr(ts.filters, f.name)
        out[f"telemetry.{f.name}"] = False if value is None else value
    for fmt in FORMATS:
        for name, value in ts.profiles[fmt].to_mapping().items():
            out[f"telemetry.{fmt}.{name}"] = value
    return out


DEFAULTS: dict[str, Any] = effective_values(Settings())


# -- text in the console ---------------------------------------------------------------------
def format_value(setting: SettingSpec, value: Any) -> str:
    """The value as the console shows it and a person types it."""
    if setting.kind is Kind.TOPICS:
        return ", ".join(str(v) for v in value)
    if value is False:
        return "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_value(setting: SettingSpec, text: str) -> Any:
    """What the person typed as the file's value; ValidationError naming the setting if not.

    Only the shape is checked here; :func:`save_changes` runs the loader's own validation.
    """
    raw = text.strip()
    where = setting.label
    if setting.kind is Kind.TOPICS:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if setting.kind is Kind.TOPIC:
        if not raw:
            raise ValidationError(f"{where}: give a topic")
        return raw
    if setting.kind is Kind.CHOICE:
        if raw not in setting.choices:
            raise ValidationError(f"{where}: one of {', '.join(setting.choices)}, not {raw!r}")
        return raw
    if setting.kind is Kind.NUMBER_OR_OFF and raw.lower() in ("off", "false", "no"):
        return False
    number = raw.replace(",", ".")
    try:
        value = float(number)
    except ValueError:
        off = " or off" if setting.kind is Kind.NUMBER_OR_OFF else ""
        raise ValidationError(f"{where}: give a number{off}, not {raw!r}") from None
    if not math.isfinite(value):
        raise ValidationError(f"{where}: give a finite number, not {raw!r}")
    if setting.kind is Kind.WHOLE:
        if not value.is_integer():
            raise ValidationError(f"{where}: give a whole number, not {raw!r}")
        return int(value)
    return int(value) if value.is_integer() and "." not in number else value


# -- the view ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SettingRow:
    """One setting: the value of the next start, the running one, the default, the source."""

    spec: SettingSpec
    value: Any
    running: Any
    default: Any
    in_file: bool

    @property
    def pending(self) -> bool:
        """Saved but not running yet (takes effect at the next start)."""
        return bool(self.value != self.running)

    @property
    def source(self) -> str:
        return "config file" if self.in_file else "default"


@dataclass(frozen=True, slots=True)
class SettingsView:
    """The device settings of one configuration file, against the running ones.

    ``problem`` is set when the file cannot be read or would not start the console: the rows
    then show the running values and edits are refused until the file is fixed by hand.
    """

    path: Path
    exists: bool
    rows: tuple[SettingRow, ...]
    problem: str = ""

    def row(self, key: str) -> SettingRow:
        return next(r for r in self.rows if r.spec.key == key)


def read_view(path: Path, running: Settings) -> SettingsView:
    """Read ``path`` (a missing file is all defaults) and compare it with ``running``."""
    now = effective_values(running)
    exists = path.exists()
    problem = ""
    data: dict[str, Any] = {}
    file_values = DEFAULTS
    if exists:
        try:
            text = path.read_text(encoding="utf-8")
            file_values = effective_values(settings_from_text(text, path))
            data = tomllib.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"Cannot read {path}: {exc}"
        except ConfigError as exc:
            problem = str(exc)
        if problem:
            file_values = now
    rows = tuple(
        SettingRow(s, file_values[s.key], now[s.key], DEFAULTS[s.key], _lookup(data, s.path))
        for s in SPECS
    )
    return SettingsView(path, exists, rows, problem)


def _lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


# -- the admin's edit -------------------------------------------------------------------------
def save_changes(
    db: Database,
    actor: str,
    path: Path,
    changes: Mapping[str, Any],
    running: Settings,
) -> SettingsView:
    """Write ``changes`` (setting key → file value; ``None``: back to the default, the key is
    removed) into ``path`` and return the new view.

    Refused, with nothing written: an actor who is not an admin (PermissionDenied), a value
    the loader or the ``[telemetry]`` validation refuses (ConfigError/ValidationError naming
    the setting), a file that cannot be read or parsed (ConfigError).
    """
    specs = [spec(key) for key in changes]
    with db.session() as session:
        may_edit_settings(session, actor)
        document = _document(path)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for setting in specs:
            value = changes[setting.key]
            old = _get(document, setting.path)
            if value is None:
                _remove(document, setting.path)
            else:
                _put(document, setting.path, value)
            if old != value:
                before[setting.key], after[setting.key] = old, value
        if after:
            text = tomlkit.dumps(document)
            check_text(text, path)
            _replace(path, text)
            audit_settings(session, actor, "device settings", before, after)
    return read_view(path, running)


def check_text(text: str, path: Path) -> None:
    """Would a configuration file holding ``text`` start the console? ConfigError if not."""
    settings = settings_from_text(text, path)
    TelemetrySettings.from_settings(settings)
    try:
        NativeTopics(settings.broker.prefix)
    except ValidationError as exc:
        raise ConfigError(f"[broker] prefix: {exc}.") from None


def _document(path: Path) -> tomlkit.TOMLDocument:
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        return tomlkit.parse(text)
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise ConfigError(f"Cannot update configuration file {path}: {exc}") from None


def _plain(value: Any) -> Any:
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value


def _get(document: Any, path: tuple[str, ...]) -> Any:
    node: Any = document
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return _plain(node)


def _put(document: Any, path: tuple[str, ...], value: Any) -> None:
    node: Any = document
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, Mapping):
            if child is not None:
                raise ConfigError(f"[{'.'.join(path[:-1])}] in the file is not a table")
            child = tomlkit.table()
            node[part] = child
        node = child
    node[path[-1]] = value


def _remove(document: Any, path: tuple[str, ...]) -> None:
    node: Any = document
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            return
    if isinstance(node, MutableMapping) and path[-1] in node:
        del node[path[-1]]


def _replace(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and swap it in (the old file's mode kept)."""
    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"Cannot write configuration file {path}: {exc}") from None
