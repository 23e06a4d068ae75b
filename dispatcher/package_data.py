"""Where the product's own files are: the one place that knows (resources and migrations).

In a source checkout (and the editable install ``make test`` uses) they sit at the top of the
repository, ``resources/`` and ``migrations/``, beside the packages. A wheel, an sdist-built
install and the frozen desktop build carry them *inside* the package, as ``dispatcher/resources``
and ``dispatcher/migrations`` (setup.py maps the two folders there; packaging/dispatcher.spec does
the same for PyInstaller), so an installed console never looks outside its own package.
``importlib.resources`` finds that copy whatever the installer or freezer did with the package;
the checkout's folders are the fallback. Every module asks here instead of counting
``parents[…]`` from its own file.

Both functions return real paths: Alembic and the web view need files on disk, so a package
imported from a zip is extracted once for the life of the process (``as_file``).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]


@functools.cache
def _base(folder: str) -> Path:
    """The installed copy of ``folder`` if the package carries one, else the checkout's."""
    packaged = resources.files("dispatcher") / folder
    if packaged.is_dir():
        if isinstance(packaged, Path):
            return packaged
        # A zipped package: extract once and keep the copy until the process exits.
        stack = contextlib.ExitStack()
        atexit.register(stack.close)
        return stack.enter_context(resources.as_file(packaged))
    return _CHECKOUT / folder


def resources_dir(*parts: str) -> Path:
    """A folder or file under ``resources/`` (templates, map scripts, web pages, icons)."""
    return _base("resources").joinpath(*parts)


def migrations_dir() -> Path:
    """The Alembic script folder (``migrations/``)."""
    return _base("migrations")
