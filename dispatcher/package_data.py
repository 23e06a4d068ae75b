"""Where the product's own files are: the one place that knows (resources and migrations).

In a source checkout they sit at the top of the repository (``resources/``, ``migrations/``),
beside the packages. Every module asks here instead of counting ``parents[…]`` from its own
file, so the packaging (issue 21: a wheel or a frozen build that carries them as package data)
changes this module only.
"""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def resources_dir(*parts: str) -> Path:
    """A folder or file under ``resources/`` (templates, map scripts, web pages, icons)."""
    return _ROOT.joinpath("resources", *parts)


def migrations_dir() -> Path:
    """The Alembic script folder (``migrations/``)."""
    return _ROOT / "migrations"
