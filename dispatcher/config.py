"""Typed settings: defaults < TOML file < environment variables < command-line flags.

The file lives in the user config dir (``platformdirs``) unless ``--config`` or
``DISPATCHER_CONFIG`` names another. A missing default file is fine (defaults apply); a file
that was named explicitly but is missing, or any file that is not valid TOML or has values of
the wrong type, is a :class:`~dispatcher.errors.ConfigError` with the file and the key, so the
person can fix it. Secrets (broker and SMTP passwords) are never read from this file: they come
from environment variables or the OS keyring.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from dispatcher.errors import ConfigError

APP_NAME = "dispatcher"


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    return user_config_dir() / "config.toml"


def default_database_url() -> str:
    return f"sqlite:///{user_data_dir() / 'dispatcher.sqlite3'}"


@dataclass
class BrokerSettings:
    """Where the console's MQTT client connects and how it identifies itself."""

    url: str = "mqtt://localhost:1883"
    username: str = ""
    #: Name of the environment variable holding the password (never the password itself).
    password_env: str = "DISPATCHER_MQTT_PASSWORD"
    client_id: str = ""
    keepalive: int = 30
    prefix: str = "fleet"
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    #: The embedded broker's TLS listener for phones on the LAN, e.g. "0.0.0.0:8883";
    #: empty: loopback only (docs/mqtt.md, "Phones over the LAN").
    listen: str = ""
    #: The name or address phones dial (put in their configuration and the certificate).
    public_host: str = ""


@dataclass
class UiSettings:
    """Presentation choices; the window layout itself is kept by the UI (QSettings)."""

    theme: str = "dark"
    tick_ms: int = 200


@dataclass
class Settings:
    """Everything the composition root needs to build the core and the UI."""

    database_url: str = field(default_factory=default_database_url)
    #: PostgreSQL connections one process may hold: ``pool_size`` kept open, ``max_overflow``
    #: more at busy moments; 0 means the role's default (docs/deploy.md has the arithmetic).
    database_pool_size: int = 0
    database_max_overflow: int = -1
    embedded_broker: bool = False
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    #: Free-form sections owned by the core's rooms (telemetry, alerts, messaging...);
    #: each room validates its own section.
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: Path | None = None


_ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "DISPATCHER_DB": ("database_url",),
    "DISPATCHER_BROKER": ("broker", "url"),
    "DISPATCHER_THEME": ("ui", "theme"),
}


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build :class:`Settings` from defaults, the TOML file, ``env`` and ``overrides``.

    Args:
        path: config file named by the user; ``None`` means ``DISPATCHER_CONFIG`` or the
            default location, where a missing file is not an error.
        env: environment (defaults to ``os.environ``).
        overrides: dotted keys from command-line flags, e.g. ``{"database_url": ...}``.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("DISPATCHER_CONFIG"))
    cfg_path = path or Path(env.get("DISPATCHER_CONFIG") or default_config_path())
    settings = Settings()
    if cfg_path.exists() or explicit:
        _apply_mapping(settings, _read_toml(cfg_path), cfg_path)
        settings.source = cfg_path
    for var, key in _ENV_OVERRIDES.items():
        if env.get(var):
            _set(settings, key, env[var], f"environment variable {var}")
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set(settings, tuple(dotted.split(".")), value, f"option for {dotted}")
    settings.database_url = normalize_database_url(settings.database_url)
    return settings


#: Default PostgreSQL pool per process role (kept open, extra at busy moments): twenty consoles
#: and a recorder stay under PostgreSQL's default max_connections of 100 (docs/deploy.md).
POOL_DEFAULTS: dict[str, tuple[int, int]] = {"console": (2, 2), "serve": (4, 4)}


def pool_options(settings: Settings, role: str) -> dict[str, int]:
    """``pool_size``/``max_overflow`` for :class:`~dispatcher.persistence.database.Database`."""
    size, overflow = POOL_DEFAULTS.get(role, POOL_DEFAULTS["console"])
    if settings.database_pool_size > 0:
        size = settings.database_pool_size
    if settings.database_max_overflow >= 0:
        overflow = settings.database_max_overflow
    return {"pool_size": size, "max_overflow": overflow}


def normalize_database_url(value: str) -> str:
    """Accept a plain file path as well as a SQLAlchemy URL (``--db shop.sqlite``)."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def settings_from_text(text: str, path: Path) -> Settings:
    """The settings a file holding ``text`` at ``path`` gives: the loader's own checks, without
    the environment or flags (an edit is checked by this before it is written)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Configuration file {path} is not valid TOML: {exc}") from None
    settings = Settings()
    _apply_mapping(settings, data, path)
    settings.source = path
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Configuration file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read configuration file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Configuration file {path} is not valid TOML: {exc}") from None


def _apply_mapping(settings: Settings, data: dict[str, Any], path: Path) -> None:
    known_sections = {"broker": settings.broker, "ui": settings.ui}
    for key, value in data.items():
        if key in known_sections:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{key}] must be a table.")
            for sub, subval in value.items():
                _set(settings, (key, sub), subval, f"{path}: {key}.{sub}")
        elif key == "database":
            if not isinstance(value, dict) or not isinstance(value.get("url", ""), str):
                raise ConfigError(f"{path}: [database] must be a table with a string 'url'.")
            for sub in value:
                if sub not in ("url", "pool_size", "max_overflow"):
                    raise ConfigError(f"{path}: unknown setting 'database.{sub}'.")
            if value.get("url"):
                settings.database_url = value["url"]
            for sub, attr, low in (
                ("pool_size", "database_pool_size", 1),
                ("max_overflow", "database_max_overflow", 0),
            ):
                if sub in value:
                    number = value[sub]
                    if isinstance(number, bool) or not isinstance(number, int) or number < low:
                        raise ConfigError(
                            f"{path}: database.{sub} must be a whole number >= {low}."
                        )
                    setattr(settings, attr, number)
        elif key == "embedded_broker":
            _set(settings, (key,), value, f"{path}: {key}")
        elif isinstance(value, dict):
            settings.sections[key] = value
        else:
            raise ConfigError(f"{path}: unknown setting '{key}'.")


def _set(settings: Settings, key: tuple[str, ...], value: Any, where: str) -> None:
    target: Any = settings
    for part in key[:-1]:
        target = getattr(target, part, None)
        if target is None:
            raise ConfigError(f"{where}: unknown setting '{'.'.join(key)}'.")
    names = {f.name: f for f in dataclasses.fields(target)}
    name = key[-1]
    if name not in names or name in ("sections", "source"):
        raise ConfigError(f"{where}: unknown setting '{'.'.join(key)}'.")
    current = getattr(target, name)
    setattr(target, name, _coerce(value, type(current), where))


def _coerce(value: Any, wanted: type, where: str) -> Any:
    if isinstance(value, wanted) and not (wanted is int and isinstance(value, bool)):
        return value
    if isinstance(value, str) and wanted is int:
        try:
            return int(value)
        except ValueError:
            pass
    if isinstance(value, str) and wanted is bool:
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    raise ConfigError(f"{where}: expected {wanted.__name__}, got {value!r}.")
