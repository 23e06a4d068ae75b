"""Dispatcher's composition root: parse the command line, load settings, start the program.

``python main.py``, the ``dispatcher`` console script, the ``dispatcher-console`` GUI script
and the frozen desktop build (packaging/dispatcher.spec) are the same program. Qt is imported
only for the commands that open a window, so every other command (and ``dispatcher/``) works
on a machine without a display. It lives in the UI package, not in a top-level ``main``
module, so an installed wheel adds no generic module name to site-packages; ``main.py`` in the
repository is a two-line shim.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys


def main(argv: list[str] | None = None) -> int:
    # A frozen build has no interpreter to spawn: the optimizer's worker process
    # (dispatcher/planning/worker.py, start method "spawn") re-runs this executable, which
    # must become the worker here instead of opening a second window. No-op elsewhere.
    multiprocessing.freeze_support()
    from dispatcher.cli import GUI_COMMANDS, build_parser, run_headless, settings_overrides
    from dispatcher.config import load_settings
    from dispatcher.errors import DispatcherError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose or 0, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(args.config, overrides=settings_overrides(args))
        if args.command in GUI_COMMANDS:
            from dispatcher_ui.app import run_console

            return run_console(args, settings)
        if args.command == "report":  # its HTML map uses folium, kept out of dispatcher/
            from dispatcher_ui.history.report_cli import run_report

            return run_report(args, settings)
        return run_headless(args, settings)
    except DispatcherError as exc:
        print(f"dispatcher: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`dispatcher fleet list --json | head`). Point stdout at
        # /dev/null so the interpreter's final flush does not raise again, as the Python docs
        # advise (library/signal.html, "Note on SIGPIPE"); no traceback, exit 1.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def gui_main() -> int:
    """The ``dispatcher-console`` GUI script: the console with no terminal behind it.

    Under ``pythonw`` (Windows) and in a windowed frozen app ``sys.stdout``/``sys.stderr`` are
    ``None``; anything printed would raise, so both go to a log file in the user's log folder.
    """
    if sys.stdout is None or sys.stderr is None:
        from platformdirs import user_log_path

        log = user_log_path("dispatcher", ensure_exists=True) / "console.log"
        stream = open(log, "a", encoding="utf-8", buffering=1)  # noqa: SIM115  # for the process
        sys.stdout = sys.stdout or stream
        sys.stderr = sys.stderr or stream
    return main()
