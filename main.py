"""``python main.py …`` from a checkout: the same program as the ``dispatcher`` command.

The composition root is :mod:`ui.launcher` (an installed wheel has no top-level ``main``).
"""

from __future__ import annotations

import sys

from ui.launcher import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
