"""Import depots, vehicles or drivers from CSV: every bad line reported, good lines in one go.

The file is read like an orders file (UTF-8 with or without BOM, ``,`` or ``;``, column names
in any order and case, common aliases); each row goes through the same field checks as the
Fleet setup form, and is stored through the same repository, with its audit row. A row the
database refuses (a plate another vehicle has, an unknown depot) is rolled back to its own
savepoint and reported on its line; the others are committed together. A row whose id is
already stored updates that record.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatcher.errors import DispatcherError, ImportFileError
from dispatcher.importing.orders_csv import MAX_FILE_BYTES, RowError
from dispatcher.model.fleet_setup import FieldErrors, parse_depot, parse_driver, parse_vehicle
from dispatcher.model.users import Permission
from dispatcher.persistence import fleet_setup_repo as repo
from dispatcher.persistence.database import Database, Session
from dispatcher.persistence.users_repo import acting_user

ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "depots": {
        "id": ("id", "depot_id", "depot", "code"),
        "name": ("name", "depot_name", "hub"),
        "address": ("address", "street"),
        "lat": ("lat", "latitude"),
        "lon": ("lon", "lng", "long", "longitude"),
        "opens_at": ("opens_at", "opens", "open_from", "opening"),
        "closes_at": ("closes_at", "closes", "open_to", "closing"),
    },
    "vehicles": {
        "id": ("id", "vehicle_id", "vehicle", "code"),
        "name": ("name", "vehicle_name"),
        "plate": ("plate", "registration", "licence_plate", "license_plate"),
        "vehicle_type": ("vehicle_type", "type", "kind"),
        "capacity": ("capacity", "cap"),
        "skills": ("skills", "skill", "equipment"),
        "cost_per_km": ("cost_per_km", "per_km"),
        "cost_per_hour": ("cost_per_hour", "per_hour"),
        "depot_id": ("depot_id", "depot", "start_depot", "start_depot_id"),
        "end_depot_id": ("end_depot_id", "end_depot"),
        "driver_id": ("driver_id", "driver"),
        "shift_start": ("shift_start", "start"),
        "shift_end": ("shift_end", "end"),
        "break_after_min": ("break_after_min", "break_after"),
        "break_min": ("break_min", "break"),
        "break_latest_min": ("break_latest_min", "break_by"),
        "fixed_cost": ("fixed_cost", "cost_per_day"),
        "max_weight_kg": ("max_weight_kg", "max_weight"),
        "max_volume_l": ("max_volume_l", "max_volume"),
        "max_route_min": ("max_route_min", "max_route"),
    },
    "drivers": {
        "id": ("id", "driver_id", "driver", "code"),
        "name": ("name", "driver_name"),
        "phone": ("phone", "mobile", "tel", "telephone"),
        "device_key": ("device_key", "device", "tracker"),
    },
}
_PARSERS: dict[str, tuple[str, Callable[[dict[str, str]], Any]]] = {
    "depots": ("depot", parse_depot),
    "vehicles": ("vehicle", parse_vehicle),
    "drivers": ("driver", parse_driver),
}
KINDS = tuple(ALIASES)


@dataclass
class FleetImportReport:
    path: Path
    kind: str
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"imported {self.created} new {self.kind}, updated {self.updated}, "
            f"{len(self.errors)} rows rejected"
        )


def read_table(path: Path, aliases: dict[str, tuple[str, ...]]) -> list[tuple[int, dict[str, str]]]:
    """Rows of ``path`` as (file line, {field: text}); needs at least a name column."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImportFileError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MB.")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{path} does not exist.") from None
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror or exc}") from None
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    if not text.strip():
        raise ImportFileError("The file is empty.")
    first = text.splitlines()[0]
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=";" if first.count(";") > first.count(",") else ","
    )
    header = [h.strip().lower().replace(" ", "_") for h in next(reader)]
    columns = {
        name: header.index(alias)
        for name, names in aliases.items()
        for alias in reversed(names)
        if alias in header
    }
    if "name" not in columns:
        raise ImportFileError(f"The header has no name column (found: {', '.join(header)}).")
    rows: list[tuple[int, dict[str, str]]] = []
    line = 2
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                values = {k: row[i] if i < len(row) else "" for k, i in columns.items()}
                if not values.get("id", "").strip():
                    values["id"] = _slug(values["name"])
                rows.append((line, values))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(f"line {line}: the CSV structure is broken ({exc}).") from None
    return rows


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip()).strip("-")[:40]


def import_fleet(db: Database, kind: str, path: Path, actor: str) -> FleetImportReport:
    """Import ``kind`` (depots, vehicles, drivers) from ``path`` as ``actor``."""
    if kind not in _PARSERS:
        raise DispatcherError(f"cannot import {kind!r}: choose one of {', '.join(KINDS)}")
    rows = read_table(path, ALIASES[kind])
    report = FleetImportReport(path, kind)
    with db.session() as session:
        acting_user(session, actor, Permission.FLEET_SETUP)
        seen: dict[str, int] = {}
        for line, values in rows:
            _import_row(session, kind, actor, line, values, seen, report)
    return report


def _import_row(
    session: Session,
    kind: str,
    actor: str,
    line: int,
    values: dict[str, str],
    seen: dict[str, int],
    report: FleetImportReport,
) -> None:
    entity, parse = _PARSERS[kind]
    try:
        spec = parse(values)
    except FieldErrors as exc:
        report.errors.append(RowError(line, str(exc)))
        return
    if spec.id in seen:
        report.errors.append(
            RowError(line, f"id {spec.id!r} again (first on line {seen[spec.id]})")
        )
        return
    seen[spec.id] = line
    try:
        new = repo.save_row(session, entity, actor, spec)
    except DispatcherError as exc:
        report.errors.append(RowError(line, str(exc)))
        return
    if new:
        report.created += 1
    else:
        report.updated += 1
