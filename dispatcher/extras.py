"""Optional parts of the install and the message when one is missing (pyproject.toml extras).

A dispatcher's laptop on SQLite with Mosquitto (or an external broker) needs neither the
PostgreSQL driver nor the pure-Python fallback broker, so a plain ``pipx install`` leaves them
out. The command that needs one names the extra to add instead of failing with an ImportError
from deep inside SQLAlchemy or a broker thread.
"""

from __future__ import annotations

import importlib.util

from dispatcher.errors import DispatcherError


class MissingExtra(DispatcherError):
    """A feature needs an optional dependency that is not installed."""


def require(
    module: str, extra: str, purpose: str, error: type[DispatcherError] = MissingExtra
) -> None:
    """Raise ``error`` (the caller's kind, so its handlers still apply) unless ``module`` can
    be imported."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise error(
            f"{purpose} needs the optional package {module!r}, which is not installed. "
            f"Install the '{extra}' extra: pip install 'dispatcher[{extra}]' "
            f"(pipx: pipx inject dispatcher 'dispatcher[{extra}]'; from a checkout: "
            f"pip install -e '.[{extra}]')."
        )
