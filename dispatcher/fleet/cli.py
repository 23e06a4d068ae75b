"""``dispatcher fleet ...``, ``dispatcher users ...`` and ``dispatcher import depots|vehicles|
drivers``: the fleet setup and the users table without SQL (docs/fleet-setup.md).

The actor is the OS login mapped to a user (the first one on an empty database is admin).
Exit codes: 0 done, 1 refused or failed (message on stderr), 2 bad input (each bad field or
line printed).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from dispatcher.config import Settings
from dispatcher.errors import DispatcherError, ValidationError
from dispatcher.fleet.setup import FleetSetupDesk
from dispatcher.model.fleet_setup import FieldErrors
from dispatcher.model.users import Role
from dispatcher.persistence.database import Database
from dispatcher.users.desk import UserDesk

#: Option -> form field of each record (the same names as the CSV columns).
DEPOT_OPTIONS = {
    "--name": "name",
    "--address": "address",
    "--lat": "lat",
    "--lon": "lon",
    "--opens": "opens_at",
    "--closes": "closes_at",
}
VEHICLE_OPTIONS = {
    "--name": "name",
    "--plate": "plate",
    "--type": "vehicle_type",
    "--capacity": "capacity",
    "--skills": "skills",
    "--cost-per-km": "cost_per_km",
    "--cost-per-hour": "cost_per_hour",
    "--depot": "depot_id",
    "--end-depot": "end_depot_id",
    "--driver": "driver_id",
    "--shift-start": "shift_start",
    "--shift-end": "shift_end",
    "--break-after": "break_after_min",
    "--break-min": "break_min",
    "--break-by": "break_latest_min",
    "--fixed-cost": "fixed_cost",
    "--max-weight": "max_weight_kg",
    "--max-volume": "max_volume_l",
    "--max-route": "max_route_min",
}
DRIVER_OPTIONS = {"--name": "name", "--phone": "phone", "--device": "device_key"}
RECORDS = {"depot": DEPOT_OPTIONS, "vehicle": VEHICLE_OPTIONS, "driver": DRIVER_OPTIONS}


def add_import_parsers(imp_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``dispatcher import depots|vehicles|drivers FILE``."""
    for kind in ("depots", "vehicles", "drivers"):
        p = imp_sub.add_parser(kind, help=f"create or update {kind} from CSV (docs/fleet-setup.md)")
        p.add_argument("file", type=Path, help="CSV file (UTF-8, ',' or ';')")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fleet = sub.add_parser("fleet", help="depots, vehicles, drivers and who drives what")
    fs = fleet.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    ls = fs.add_parser("list", help="the fleet setup")
    ls.add_argument("--json", action="store_true", help='{"depots":[…],"vehicles":[…],…}')
    for entity, options in RECORDS.items():
        for verb in ("add", "edit"):
            p = fs.add_parser(f"{verb}-{entity}", help=f"{verb} a {entity}")
            p.add_argument("id", help=f"the {entity}'s id (letters, digits, _ . -)")
            for option, field in options.items():
                p.add_argument(option, dest=field, metavar=field.upper())
    retire = fs.add_parser("retire", help="take a depot, vehicle or driver out of service")
    retire.add_argument("entity", choices=RECORDS)
    retire.add_argument("id")
    delete = fs.add_parser("delete-vehicle", help="delete a vehicle that never drove")
    delete.add_argument("id")
    assign = fs.add_parser("assign", help="put DRIVER on VEHICLE for a day")
    assign.add_argument("vehicle")
    assign.add_argument("driver")
    assign.add_argument("--date", required=True, help="YYYY-MM-DD")
    unassign = fs.add_parser("unassign", help="clear VEHICLE's driver of a day")
    unassign.add_argument("vehicle")
    unassign.add_argument("--date", required=True, help="YYYY-MM-DD")

    users = sub.add_parser("users", help="people and their roles (admin only for changes)")
    us = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    ul = us.add_parser("list", help="every user with role and OS login")
    ul.add_argument("--json", action="store_true", help="print a JSON array")
    roles = [r.value for r in Role]
    ua = us.add_parser("add", help="add a user")
    ua.add_argument("username")
    ua.add_argument("--role", required=True, choices=roles)
    ua.add_argument("--name", default="", help="display name")
    ua.add_argument("--os-user", help="OS login that maps to this user (default: username)")
    ur = us.add_parser("set-role", help="change a user's role")
    ur.add_argument("username")
    ur.add_argument("role", choices=roles)
    for verb in ("activate", "deactivate"):
        p = us.add_parser(verb, help=f"{verb} a user (kept for the audit trail)")
        p.add_argument("username")


def _bad_input(exc: ValidationError, out: TextIO) -> int:
    if isinstance(exc, FieldErrors):
        for name, message in exc.fields.items():
            print(f"{name}: {message}", file=out)
    else:
        print(str(exc), file=out)
    return 2


def _with_db(settings: Settings, out: TextIO, work: Callable[[Database, str], int]) -> int:
    db = Database(settings.database_url)
    try:
        actor = UserDesk(db).login().id
        return work(db, actor)
    except ValidationError as exc:
        return _bad_input(exc, out)
    finally:
        db.dispose()


def run_fleet(args: argparse.Namespace, settings: Settings, out: TextIO, timezone: str) -> int:
    def work(db: Database, actor: str) -> int:
        desk = FleetSetupDesk(db, ZoneInfo(timezone))
        cmd: str = args.fleet_command
        if cmd == "list":
            fleet = desk.fleet()
            if args.json:
                json.dump(fleet, out, indent=2, ensure_ascii=False)
                out.write("\n")
            else:
                _print_fleet(fleet, out)
            return 0
        verb, _, entity = cmd.partition("-")
        if verb in ("add", "edit"):
            fields = {f: getattr(args, f) for f in RECORDS[entity].values()}
            given = {k: v for k, v in fields.items() if v is not None}
            if verb == "edit":
                current = _current(desk, entity, args.id)
                given = current | given
            record = desk.save(actor, entity, given | {"id": args.id}, new=verb == "add")
            print(f"{'added' if verb == 'add' else 'saved'} {entity} {record['id']}", file=out)
        elif cmd == "retire":
            desk.retire(actor, args.entity, args.id)
            print(f"retired {args.entity} {args.id}", file=out)
        elif cmd == "delete-vehicle":
            desk.delete_vehicle(actor, args.id)
            print(f"deleted vehicle {args.id}", file=out)
        elif cmd == "assign":
            fields = {"date": args.date, "vehicle_id": args.vehicle, "driver_id": args.driver}
            desk.assign(actor, fields)
            print(f"{args.driver} drives {args.vehicle} on {args.date}", file=out)
        else:
            desk.unassign(actor, args.vehicle, _day(args.date))
            print(f"{args.vehicle} has no driver set for {args.date}", file=out)
        return 0

    return _with_db(settings, out, work)


def _current(desk: FleetSetupDesk, entity: str, entity_id: str) -> dict[str, object]:
    for record in desk.fleet()[f"{entity}s"]:
        if record["id"] == entity_id:
            values = dict(record)
            values["skills"] = ",".join(values.get("skills") or [])
            return values
    raise DispatcherError(f"no {entity} {entity_id!r}")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"date: {text!r} is not YYYY-MM-DD") from None


def _print_fleet(fleet: dict[str, list[dict[str, Any]]], out: TextIO) -> None:
    for d in fleet["depots"]:
        hours = f"{d['opens_at'] or '–'}–{d['closes_at'] or '–'}"
        retired = "" if d["active"] else " (retired)"
        print(f"depot   {d['id']:<12} {d['name']} · {hours}{retired}", file=out)
    for v in fleet["vehicles"]:
        retired = "" if v["active"] else " (retired)"
        print(
            f"vehicle {v['id']:<12} {v['name']} · {v['plate'] or 'no plate'} · cap "
            f"{v['capacity']} · {v['shift_start']}–{v['shift_end']} · depot "
            f"{v['depot_id'] or '–'}{retired}",
            file=out,
        )
    for d in fleet["drivers"]:
        retired = "" if d["active"] else " (retired)"
        print(f"driver  {d['id']:<12} {d['name']} · {d['phone'] or 'no phone'}{retired}", file=out)
    for a in fleet["assignments"]:
        print(f"assign  {a['date']} {a['vehicle_id']} ← {a['driver_id']}", file=out)


def run_fleet_import(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.importing.fleet_csv import import_fleet

    def work(db: Database, actor: str) -> int:
        report = import_fleet(db, args.import_what, args.file, actor)
        for error in report.errors:
            print(f"{args.file}: {error}", file=out)
        print(report.summary(), file=out)
        return 2 if report.errors else 0

    return _with_db(settings, out, work)


def run_users(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    def work(db: Database, actor: str) -> int:
        desk = UserDesk(db)
        cmd: str = args.users_command
        if cmd == "list":
            users = desk.users()
            if args.json:
                json.dump([u.as_dict() for u in users], out, indent=2, ensure_ascii=False)
                out.write("\n")
            for u in users if not args.json else ():
                state = "" if u.active else " (inactive)"
                print(f"{u.username:<16} {u.role:<11} os:{u.os_user or '–'}{state}", file=out)
            return 0
        if cmd == "add":
            desk.add(actor, args.username, args.role, display_name=args.name, os_user=args.os_user)
            print(f"added {args.username} as {args.role}", file=out)
        elif cmd == "set-role":
            desk.set_role(actor, args.username, args.role)
            print(f"{args.username} is now {args.role}", file=out)
        else:
            desk.set_active(actor, args.username, cmd == "activate")
            print(f"{cmd}d {args.username}", file=out)
        return 0

    return _with_db(settings, out, work)
