"""WORKAROUND for PySide6 6.12.0 on Python < 3.12: every emit of a signal declared in Python
(``Signal()`` on a QObject subclass) drops one reference to ``True`` that it never took.

pyqtgraph emits such signals on every range change and redraw, so a console that shows charts
loses thousands of references an hour; when the count reaches zero the interpreter aborts
("Fatal Python error: bool_dealloc"), usually at exit. PySide6 6.11.3 does not do this, and on
Python 3.12+ ``True`` is immortal (PEP 683, https://peps.python.org/pep-0683/), so the bug is
harmless there. Until the dependency excludes 6.12.0, :func:`protect_bools` gives ``True`` and
``False`` a reference count no run can exhaust — the same state Python 3.12 puts them in.
Reproduce with ``tests/ui/test_kpi_dock.py::test_signal_emits_keep_bool_references``.
"""

from __future__ import annotations

import ctypes
import functools
import sys

#: References added once; a signal emitted 10,000 times a second would need ~3 years to use them.
_HEADROOM = 1 << 40


def affected() -> bool:
    """Whether this interpreter and PySide6 have the bug."""
    import PySide6

    return sys.version_info < (3, 12) and PySide6.__version__.startswith("6.12.")


@functools.cache
def protect_bools() -> bool:
    """Make ``True``/``False`` effectively immortal if the bug is present (once per process;
    later calls only repeat the answer); returns whether the workaround is in place."""
    if not affected():
        return False
    for value in (True, False):
        ctypes.c_ssize_t.from_address(id(value)).value += _HEADROOM
    return True
