"""The control room around a console, for ``bench/console.py --topology room``.

A fleet of hundreds of vehicles is run the way docs/deploy.md sets up a control room: a
broker, a recorder (``dispatcher serve``: it stores the positions and events and runs the
alert rules, holding the rules' lease) and consoles that only read
(``[console] recorder = "external"``). This module is that recorder, started by the bench
as a process of its own, with two differences from ``dispatcher serve`` so that the bench
can drive it:

* it runs on the bench's simulated clock (``--start``, ``--speed`` and ``--origin``: the
  console's :class:`~dispatcher.clock.ScaledClock` read at the same instant), so its rules
  judge the same "now" as the console's boards;
* it drives the demo day's simulated fleet over the broker (the phones), as
  ``dispatcher demo`` does in its own process.

It prints ``ready`` once its services run, and stops gracefully on SIGTERM or SIGINT
(:func:`dispatcher.services.run_for`) or when its stdin ends (the bench is gone).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dispatcher.app import LiveOptions, build_core
from dispatcher.clock import ScaledClock
from dispatcher.config import BrokerSettings, Settings
from dispatcher.messaging.settings import demo_settings
from dispatcher.services import run_for
from dispatcher.telemetry.sharing import RecorderSettings


def _stop_with_the_bench() -> None:
    """The bench holds this process's stdin open: its end (the bench exited, or crashed)
    stops the recorder as SIGTERM does, instead of leaving it driving the fleet."""
    sys.stdin.read()
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True, help="the console's database URL")
    parser.add_argument("--broker", required=True, help="mqtt://host:port")
    parser.add_argument("--timezone", required=True, help="the fleet's zone")
    parser.add_argument("--start", required=True, help="simulated start, ISO 8601 with offset")
    parser.add_argument("--origin", type=float, required=True, help="time.monotonic() at start")
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    settings = Settings(database_url=args.db, broker=BrokerSettings(url=args.broker))
    settings.sections.setdefault("fleet", {})["timezone"] = args.timezone
    clock = ScaledClock(datetime.fromisoformat(args.start), args.speed, origin=args.origin)
    core = build_core(
        settings,
        "serve",
        clock=clock,
        live=LiveOptions(
            simulate_seed=args.seed, recorder=RecorderSettings.from_sections(settings.sections)
        ),
        messaging=demo_settings,
    )
    threading.Thread(target=_stop_with_the_bench, name="bench-watch", daemon=True).start()
    try:
        print("ready", flush=True)
        run_for(None, core.tick, 0.1)
    finally:
        core.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
