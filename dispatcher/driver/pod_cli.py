"""``dispatcher pod purge [--dry-run]``: apply the proof-of-delivery retention now.

The recorder purges on its own every hour (dispatcher/driver/retention.py); this is for a
site without one, a changed ``[driver] pod_retention_days``, or to see what would go.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from dispatcher.config import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pod = sub.add_parser("pod", help="proof-of-delivery files: retention")
    pod_sub = pod.add_subparsers(dest="pod_command", metavar="ACTION", required=True)
    purge = pod_sub.add_parser(
        "purge", help="delete POD photos and signatures older than [driver] pod_retention_days"
    )
    purge.add_argument("--dry-run", action="store_true", help="only say what would be removed")


def run_pod(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.clock import system_now
    from dispatcher.driver.retention import purge
    from dispatcher.driver.settings import DriverSettings
    from dispatcher.persistence.database import Database

    values = DriverSettings.from_sections(settings.sections)  # bad config: said before the DB
    if values.pod_retention_days <= 0:
        print("retention is off ([driver] pod_retention_days = 0): nothing purged", file=out)
        return 0
    db = Database(settings.database_url, must_exist=True)
    try:
        report = purge(
            db, values.store(), values.pod_retention_days, system_now(), dry_run=args.dry_run
        )
    finally:
        db.dispose()
    print(report.summary(), file=out)
    for problem in report.problems:
        print(f"  {problem}", file=out)
    return 1 if report.failed else 0
