"""``dispatcher outbox [--status failed] [--stop REF] [--limit N] [--json]``: list outbox rows.

Plain text is one line per message (newest first) for a person at a terminal; ``--json`` is
an array of objects with every column except the HTML part, for scripts. Times are ISO 8601
in UTC in JSON, local ``HH:MM:SS`` in text.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any, TextIO

from dispatcher import display
from dispatcher.config import Settings
from dispatcher.errors import DispatcherError
from dispatcher.model.messaging import OutboxMessage, OutboxStatus

_FIELDS = (
    "id",
    "status",
    "situation",
    "channel",
    "address",
    "stop_ref",
    "customer_id",
    "template_id",
    "template_version",
    "attempts",
    "last_error",
    "provider_id",
    "created_by",
    "created_at",
    "not_before",
    "next_attempt_at",
    "sent_at",
    "delivered_at",
    "subject",
    "body",
    "idempotency_key",
)


def add_parser(sub: Any) -> None:
    """Register ``outbox`` on the main parser's subcommands."""
    outbox = sub.add_parser("outbox", help="list customer messages in the outbox")
    outbox.add_argument(
        "--status",
        help="only this status: " + ", ".join(s.value for s in OutboxStatus),
    )
    outbox.add_argument("--stop", metavar="REF", help="only messages about this order / stop")
    outbox.add_argument("--limit", type=int, default=200, help="at most N rows (default 200)")
    outbox.add_argument("--timezone", help="zone for times in text (default: the fleet's)")
    outbox.add_argument("--json", action="store_true", help="print a JSON array")


def run_outbox(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.persistence.database import Database
    from dispatcher.persistence.outbox_repo import SqlOutboxStore

    status = _status(args.status)
    if args.limit is not None and args.limit < 0:
        raise DispatcherError("--limit must be 0 or more")
    db = Database(settings.database_url, must_exist=True)  # read-only: never create
    try:
        store = SqlOutboxStore(db)
        rows = store.list(status, limit=None if args.stop else args.limit)
    finally:
        db.dispose()
    if args.stop:
        rows = [r for r in rows if r.stop_ref == args.stop][: args.limit]
    if args.json:
        json.dump([as_dict(r) for r in rows], out, indent=2, ensure_ascii=False)
        out.write("\n")
        return 0
    from dispatcher.fleet_settings import fleet_zone_name

    tz = fleet_zone_name(settings, args.timezone)
    for row in rows:
        print(format_row(row, tz), file=out)
    print(f"{len(rows)} message{'s' if len(rows) != 1 else ''}", file=out)
    return 0


def as_dict(row: OutboxMessage) -> dict[str, Any]:
    """One row as JSON-safe values."""
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, OutboxStatus):
            value = value.value
        out[name] = value
    return out


def format_row(row: OutboxMessage, tz: str = "UTC") -> str:
    """``#12 sent  sms +49... ORD-1 running_late v1 created 10:02:11 by ann sent 10:02:19 ...``"""
    from dispatcher.model.messaging import zone

    local = zone(tz)

    def hms(value: datetime | None) -> str:
        return display.current().clock(value.astimezone(local), True) if value else "-"

    parts = [
        f"#{row.id}",
        f"{row.status.value:<9}",
        f"{row.channel:<6}",
        row.address,
        row.stop_ref or "-",
        f"{row.situation} v{row.template_version}",
        f"created {hms(row.created_at)} by {row.created_by}",
        f"sent {hms(row.sent_at)}",
        f"tries {row.attempts}",
    ]
    if row.last_error:
        parts.append(f"error: {row.last_error}")
    parts.append(f"| {' '.join(row.body.split())}")
    return "  ".join(parts)


def _status(text: str | None) -> OutboxStatus | None:
    if not text:
        return None
    try:
        return OutboxStatus(text.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in OutboxStatus)
        raise DispatcherError(f"--status {text!r} is not one of {allowed}") from None
