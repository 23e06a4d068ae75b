"""``python main.py …`` from a checkout: the same program as the ``dispatcher`` command.

The composition root is :mod:`dispatcher_ui.launcher` (an installed wheel has no top-level
``main``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# A checkout run without an install: the UI package sits in ui/ (the repository's layout).
sys.path.insert(0, str(Path(__file__).resolve().parent / "ui"))

from dispatcher_ui.launcher import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
