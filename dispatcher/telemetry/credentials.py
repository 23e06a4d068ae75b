"""Where the MQTT password comes from: an environment variable or the OS keyring, never the
configuration file (which people paste into tickets)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)

DEFAULT_ENV = "DISPATCHER_MQTT_PASSWORD"
DEFAULT_SERVICE = "dispatcher-mqtt"


def resolve_password(
    username: str | None,
    *,
    env_var: str | None = DEFAULT_ENV,
    keyring_service: str | None = DEFAULT_SERVICE,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """The password for ``username``: ``$env_var`` first, then the keyring, else ``None``.

    A broken or absent keyring backend is logged and treated as "no password stored".
    """
    env = os.environ if environ is None else environ
    if env_var and env.get(env_var):
        return env[env_var]
    if not username or not keyring_service:
        return None
    try:
        import keyring
        from keyring.errors import KeyringError

        try:
            return keyring.get_password(keyring_service, username)
        except KeyringError as exc:
            log.warning("OS keyring unavailable (%s); no MQTT password", exc)
    except Exception as exc:  # a backend may fail in its own ways (D-Bus missing, ...)
        log.warning("OS keyring failed (%s); no MQTT password", exc)
    return None
