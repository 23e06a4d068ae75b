"""The frozen desktop build's entry script (PyInstaller runs this file as ``__main__``).

The program is :func:`dispatcher_ui.launcher.main`; it calls ``multiprocessing.freeze_support()``
first, so the optimizer's spawned worker becomes a worker here instead of a second console.
"""

from __future__ import annotations

import sys

from dispatcher_ui.launcher import gui_main

if __name__ == "__main__":
    sys.exit(gui_main())
