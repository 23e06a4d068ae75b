"""``dispatcher report day``: the day report without a window (run by ``main.py``).

Here rather than in ``dispatcher/cli.py`` because the HTML map is drawn with folium, which
the core never imports; nothing here needs Qt or a display.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from dispatcher.cli import install_display
from dispatcher.config import Settings
from dispatcher.fleet_settings import fleet_zone_name
from dispatcher.history.commands import parse_day, zone
from dispatcher.persistence.database import Database
from dispatcher_ui.history.report_map import export_day_report


def run_report(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Write the CSV and the map of ``--date`` into ``--out``; prints both paths."""
    out = out or sys.stdout
    install_display(settings)  # the map's times in the fleet's locale
    zone_name = fleet_zone_name(settings, args.timezone)
    tz = zone(zone_name)
    day = parse_day(args.date, tz)
    db = Database(settings.database_url, must_exist=True)  # read-only: never create
    try:
        csv_path, map_path = export_day_report(db, day, zone_name, args.out)
    finally:
        db.dispose()
    print(f"wrote {csv_path}", file=out)
    print(f"wrote {map_path}", file=out)
    return 0
