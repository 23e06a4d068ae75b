"""What the fleet setup forms and CSV files say, checked field by field before anything is saved.

Forms and CSV rows both arrive as text: :func:`parse_depot`, :func:`parse_vehicle`,
:func:`parse_driver` and :func:`parse_assignment` turn a mapping of field name to text into a
checked record, or raise :class:`FieldErrors` naming *every* bad field with a sentence (the form
shows each under its field, the import prints them on the row's line). Checks that need the
database (duplicates, unknown depot) are the repository's, in the same transaction as the save.
Limits are the column sizes of ``persistence/orm.py``, so PostgreSQL never truncates or refuses
what SQLite would have taken.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import TypeVar

from dispatcher.errors import ValidationError

ID_MAX, NAME_MAX, ADDRESS_MAX, PLATE_MAX, PHONE_MAX, DEVICE_MAX, TYPE_MAX, SKILL_MAX = (
    40,
    200,
    300,
    40,
    40,
    200,
    24,
    40,
)
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]+$")
_HHMM = re.compile(r"^(\d{1,2})[:.h](\d{2})$")
T = TypeVar("T")


class FieldErrors(ValidationError):
    """One or more fields are wrong; ``fields`` maps each to its message."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.fields.items()))


@dataclass(frozen=True, slots=True)
class DepotSpec:
    id: str
    name: str
    lat: float
    lon: float
    address: str = ""
    opens_at: time | None = None
    closes_at: time | None = None


@dataclass(frozen=True, slots=True)
class DriverSpec:
    id: str
    name: str
    phone: str = ""
    device_key: str = ""


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    id: str
    name: str
    plate: str = ""
    vehicle_type: str = "van"
    capacity: int = 100
    skills: tuple[str, ...] = ()
    cost_per_km: float = 0.0
    cost_per_hour: float = 0.0
    depot_id: str | None = None
    end_depot_id: str | None = None
    driver_id: str | None = None
    shift_start: time = time(8, 0)
    shift_end: time = time(17, 0)
    break_after_min: int | None = None
    break_min: int = 0
    break_latest_min: int | None = None
    fixed_cost: float = 0.0
    max_weight_kg: int | None = None
    max_volume_l: int | None = None
    max_route_min: int | None = None


@dataclass(frozen=True, slots=True)
class AssignmentSpec:
    service_date: date
    vehicle_id: str
    driver_id: str


class _Fields:
    """Reads text fields and collects one message per bad field."""

    def __init__(self, raw: Mapping[str, object]) -> None:
        self.raw = {k: "" if v is None else str(v).strip() for k, v in raw.items()}
        self.errors: dict[str, str] = {}

    def text(self, name: str, limit: int, *, required: bool = False) -> str:
        value = self.raw.get(name, "")
        if "\x00" in value or any("\udc80" <= ch <= "\udcff" for ch in value):
            self.errors[name] = "contains characters that are not text"
        elif required and not value:
            self.errors[name] = "required"
        elif len(value) > limit:
            self.errors[name] = f"at most {limit} characters (has {len(value)})"
        return value

    def ident(self, name: str, *, required: bool = True) -> str:
        value = self.text(name, ID_MAX, required=required)
        if value and name not in self.errors and not _ID.match(value):
            self.errors[name] = f"{value!r}: use letters, digits, '_', '.' or '-' only"
        return value

    def check(self, name: str, parse: Callable[[str], T], default: T) -> T:
        value = self.raw.get(name, "")
        if not value:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            self.errors[name] = str(exc)
            return default

    def done(self) -> None:
        if self.errors:
            raise FieldErrors(self.errors)


def number(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(f"{text!r} is out of range ({low:g} to {high:g})")
        return value

    return parse


def whole(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = number(low, high)(text)
        if value != int(value):
            raise ValueError(f"{text!r} is not a whole number")
        return int(value)

    return parse


def clock_time(text: str) -> time:
    match = _HHMM.match(text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return time(int(match[1]), int(match[2]))


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD") from None


def parse_depot(raw: Mapping[str, object]) -> DepotSpec:
    f = _Fields(raw)
    spec_id, name = f.ident("id"), f.text("name", NAME_MAX, required=True)
    address = f.text("address", ADDRESS_MAX)
    lat = f.check("lat", number(-90, 90), math.nan)
    lon = f.check("lon", number(-180, 180), math.nan)
    for key, value in (("lat", lat), ("lon", lon)):
        if math.isnan(value) and key not in f.errors:
            f.errors[key] = "required"
    if lat == 0.0 and lon == 0.0:
        f.errors["lat"] = "0,0 is not a place (the address was not geocoded)"
    opens = f.check("opens_at", clock_time, None)
    closes = f.check("closes_at", clock_time, None)
    if opens is not None and closes is not None and closes <= opens:
        f.errors["closes_at"] = "must be after the opening time"
    f.done()
    return DepotSpec(spec_id, name, lat, lon, address, opens, closes)


def parse_driver(raw: Mapping[str, object]) -> DriverSpec:
    f = _Fields(raw)
    spec_id, name = f.ident("id"), f.text("name", NAME_MAX, required=True)
    phone = f.text("phone", PHONE_MAX)
    if phone and "phone" not in f.errors and not _PHONE.match(phone):
        f.errors["phone"] = f"{phone!r} is not a phone number (digits, spaces, + - ( ) . /)"
    device = f.text("device_key", DEVICE_MAX)
    f.done()
    return DriverSpec(spec_id, name, phone, device)


def parse_vehicle(raw: Mapping[str, object]) -> VehicleSpec:
    f = _Fields(raw)
    spec_id, name = f.ident("id"), f.text("name", NAME_MAX, required=True)
    plate = f.text("plate", PLATE_MAX)
    kind = f.text("vehicle_type", TYPE_MAX).lower() or "van"
    capacity = f.check("capacity", whole(1, 1_000_000), 100)
    skills = tuple(s.strip() for s in re.split(r"[,;|]", f.raw.get("skills", "")) if s.strip())
    if any(len(s) > SKILL_MAX for s in skills):
        f.errors["skills"] = f"each skill at most {SKILL_MAX} characters"
    per_km = f.check("cost_per_km", number(0, 1000), 0.0)
    per_hour = f.check("cost_per_hour", number(0, 10000), 0.0)
    depot = f.ident("depot_id", required=False) or None
    end_depot = f.ident("end_depot_id", required=False) or None
    driver = f.ident("driver_id", required=False) or None
    start = f.check("shift_start", clock_time, time(8, 0))
    end = f.check("shift_end", clock_time, time(17, 0))
    if end <= start and "shift_start" not in f.errors and "shift_end" not in f.errors:
        f.errors["shift_end"] = "must be after the shift start"
    break_after = f.check("break_after_min", whole(0, 24 * 60), None)
    break_min = f.check("break_min", whole(0, 240), 0)
    if break_min and break_after is None and "break_after_min" not in f.errors:
        f.errors["break_after_min"] = "say after how many minutes of shift the break is due"
    break_latest = f.check("break_latest_min", whole(0, 24 * 60), None)
    if break_latest is not None and break_after is not None and break_latest < break_after:
        f.errors["break_latest_min"] = "must not be before the break is due"
    fixed = f.check("fixed_cost", number(0, 100_000), 0.0)
    max_weight = f.check("max_weight_kg", whole(1, 1_000_000), None)
    max_volume = f.check("max_volume_l", whole(1, 10_000_000), None)
    max_route = f.check("max_route_min", whole(1, 24 * 60), None)
    f.done()
    return VehicleSpec(
        spec_id,
        name,
        plate,
        kind,
        capacity,
        skills,
        per_km,
        per_hour,
        depot,
        end_depot,
        driver,
        start,
        end,
        break_after,
        break_min,
        break_latest,
        fixed,
        max_weight,
        max_volume,
        max_route,
    )


def parse_assignment(raw: Mapping[str, object]) -> AssignmentSpec:
    f = _Fields(raw)
    when = f.check("date", day, None)
    if when is None and "date" not in f.errors:
        f.errors["date"] = "required"
    vehicle, driver = f.ident("vehicle_id"), f.ident("driver_id")
    f.done()
    assert when is not None
    return AssignmentSpec(when, vehicle, driver)
