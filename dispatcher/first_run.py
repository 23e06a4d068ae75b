"""The first run of a fleet that is not the demo: the answers a new owner gives, applied.

On an empty database ``dispatcher`` opens a short assistant (ui/dispatcher_ui/first_run.py) instead
of an empty window: company and time zone, the depot, the vans (or their CSV), and how phones
reach the broker. This module holds what the assistant decides, so the window only asks:

- :func:`needs_first_run` — no depot and no vehicle yet;
- :func:`apply_first_run` — checks every answer first (nothing is written when one is wrong,
  each problem named by its field), places the depot's address with the geocoder, writes the
  settings into the config file (tomlkit keeps the owner's comments and other settings), then
  creates the depot and the vans through the fleet setup desk (audited, with the actor).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomlkit

from dispatcher.errors import ConfigError
from dispatcher.fleet.setup import FleetSetupDesk
from dispatcher.geocoding import GeocodeError, Geocoder
from dispatcher.model.fleet_setup import FieldErrors, parse_depot, parse_vehicle
from dispatcher.persistence.database import Database

BROKER_CHOICES = ("local", "lan", "external")
#: Where phones on the LAN reach the embedded broker (TLS, docs/mqtt.md).
LAN_LISTEN = "0.0.0.0:8883"


@dataclass(frozen=True, slots=True)
class FirstRunAnswers:
    """What the assistant asked. Text as typed: checked by :func:`apply_first_run`."""

    company: str
    timezone: str
    units: str = "km"
    depot_name: str = "Depot"
    depot_address: str = ""
    depot_lat: str = ""
    depot_lon: str = ""
    vans: int = 3
    van_prefix: str = "Van"
    capacity: str = "100"
    shift_start: str = "08:00"
    shift_end: str = "17:00"
    broker: str = "local"
    broker_url: str = ""


@dataclass(frozen=True, slots=True)
class FirstRunResult:
    config_path: Path
    depot_id: str
    vehicle_ids: tuple[str, ...]
    depot_lat: float
    depot_lon: float


def needs_first_run(db: Database) -> bool:
    """True while the fleet has neither a depot nor a vehicle (a fresh install)."""
    from dispatcher.persistence.fleet_repo import count_fleet

    with db.session() as session:
        return count_fleet(session) == 0


def check_answers(answers: FirstRunAnswers) -> dict[str, str]:
    """Every problem, by field (empty when all is well); nothing is looked up or written."""
    problems: dict[str, str] = {}
    if not answers.company.strip():
        problems["company"] = "say what the company is called (customers see it in messages)"
    try:
        ZoneInfo(answers.timezone.strip())
    except (ZoneInfoNotFoundError, ValueError):
        problems["timezone"] = f"{answers.timezone!r} is not a time zone (e.g. Europe/London)"
    if answers.units not in ("km", "mi"):
        problems["units"] = "km or mi"
    if not 1 <= answers.vans <= 500:
        problems["vans"] = "between 1 and 500 vans"
    has_place = answers.depot_lat.strip() and answers.depot_lon.strip()
    if not has_place and not answers.depot_address.strip():
        problems["depot_address"] = "give the depot's address (or its latitude and longitude)"
    if answers.broker not in BROKER_CHOICES:
        problems["broker"] = f"one of {', '.join(BROKER_CHOICES)}"
    elif answers.broker == "external" and not answers.broker_url.strip().startswith(
        ("mqtt://", "mqtts://")
    ):
        problems["broker_url"] = "the broker's address, e.g. mqtts://broker.example.lan:8883"
    try:
        parse_vehicle(_vehicle_fields(answers, 1, "D1"))
    except FieldErrors as exc:
        problems.update({f"van {k}": v for k, v in exc.fields.items()})
    return problems


def apply_first_run(
    db: Database,
    config_path: Path,
    answers: FirstRunAnswers,
    *,
    actor: str,
    geocoder: Geocoder | None,
) -> FirstRunResult:
    """Check, place, write the settings, create the depot and the vans.

    Raises :class:`~dispatcher.model.fleet_setup.FieldErrors` (by field) before anything is
    written when an answer is wrong or the depot cannot be placed.
    """
    problems = check_answers(answers)
    if problems:
        raise FieldErrors(problems)
    lat, lon = _depot_place(answers, geocoder)
    depot_fields = {
        "id": "D1",
        "name": answers.depot_name.strip() or "Depot",
        "address": answers.depot_address.strip(),
        "lat": f"{lat:.7f}",
        "lon": f"{lon:.7f}",
    }
    parse_depot(depot_fields)  # raises FieldErrors with the field names
    write_settings(config_path, settings_of(answers))
    desk = FleetSetupDesk(db, ZoneInfo(answers.timezone.strip()))
    depot = desk.save(actor, "depot", depot_fields, new=True)
    vehicles = [
        desk.save(actor, "vehicle", _vehicle_fields(answers, n, depot["id"]), new=True)["id"]
        for n in range(1, answers.vans + 1)
    ]
    return FirstRunResult(config_path, str(depot["id"]), tuple(vehicles), lat, lon)


def settings_of(answers: FirstRunAnswers) -> dict[str, dict[str, Any] | Any]:
    """The config file's part the assistant owns, as TOML tables."""
    out: dict[str, Any] = {
        "fleet": {"timezone": answers.timezone.strip(), "units": answers.units},
        "messaging": {"company_name": answers.company.strip()},
    }
    if answers.broker == "external":
        out["embedded_broker"] = False
        out["broker"] = {"url": answers.broker_url.strip()}
    else:
        out["embedded_broker"] = True
        if answers.broker == "lan":
            out["broker"] = {"listen": LAN_LISTEN}
    return out


def write_settings(path: Path, changes: Mapping[str, Any]) -> None:
    """Merge ``changes`` into the TOML file at ``path``, keeping everything else as written.

    The file is replaced atomically (a crash leaves the old file or the new one, never half),
    so a broken write can never stop the console from starting.
    """
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError) as exc:
        raise ConfigError(f"Cannot update configuration file {path}: {exc}") from None
    for key, value in changes.items():
        if isinstance(value, Mapping):
            table = document.get(key)
            if not isinstance(table, dict):
                table = tomlkit.table()
                document[key] = table
            for sub, subvalue in value.items():
                table[sub] = subvalue
        else:
            document[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(document))
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"Cannot write configuration file {path}: {exc}") from None


def _depot_place(answers: FirstRunAnswers, geocoder: Geocoder | None) -> tuple[float, float]:
    if answers.depot_lat.strip() and answers.depot_lon.strip():
        try:
            return float(answers.depot_lat.replace(",", ".")), float(
                answers.depot_lon.replace(",", ".")
            )
        except ValueError:
            raise FieldErrors({"depot_lat": "latitude and longitude are numbers"}) from None
    if geocoder is None or not geocoder.enabled:
        raise FieldErrors({"depot_address": "no geocoder: give latitude and longitude"})
    try:
        hit = geocoder.geocode(answers.depot_address)
    except GeocodeError as exc:
        raise FieldErrors({"depot_address": str(exc)}) from None
    return hit.lat, hit.lon


def _vehicle_fields(answers: FirstRunAnswers, n: int, depot_id: str) -> dict[str, str]:
    prefix = answers.van_prefix.strip() or "Van"
    return {
        "id": f"V{n:02d}",
        "name": f"{prefix} {n:02d}",
        "capacity": answers.capacity.strip(),
        "depot_id": depot_id,
        "end_depot_id": depot_id,
        "shift_start": answers.shift_start.strip(),
        "shift_end": answers.shift_end.strip(),
    }
