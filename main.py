"""Dispatcher's composition root: parse the command line, load settings, start the program.

``python main.py`` and the ``dispatcher`` console script are the same program. Qt is imported
only for the commands that open a window, so every other command (and ``dispatcher/``) works
on a machine without a display.
"""

from __future__ import annotations

import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
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
            from ui.app import run_console

            return run_console(args, settings)
        if args.command == "report":  # its HTML map uses folium, kept out of dispatcher/
            from ui.history.report_cli import run_report

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


if __name__ == "__main__":
    sys.exit(main())
