"""Parse a day's orders from CSV: header-driven, forgiving about format, strict about data.

Accepted: UTF-8 with or without BOM, ``;`` or ``,`` as delimiter, column names in any order and
case, with a few common aliases (``latitude`` for ``lat``...). Every bad row is reported with its
line number, the field and the reason; the good rows are returned so that one broken line never
costs the rest of the day. Text must fit the columns it is stored in (``dispatcher.limits``) and
hold no NUL character. A quote that is never closed would make the rest of the file one field:
such a row is reported and the lines after it are read again (see :func:`_records`). Storing
(one transaction, skipping known order ids) is the repository's job.

Columns (see docs/import.md): ``order_id`` (required), ``lat``, ``lon`` (required unless the
row has an ``address`` and a geocoder is given: then the address is placed by it),
``customer_id``, ``customer_name``, ``phone``, ``email``, ``address``, ``date``,
``window_start``, ``window_end`` (``HH:MM`` on the date, or ISO 8601), ``service_min``,
``demand``, ``kind`` (delivery/pickup), ``vehicle``, ``notes``, and the constraints
``skills`` (comma list), ``weight_kg``, ``volume_l`` and ``pair`` (the key that joins a pickup
to its delivery).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from dispatcher import limits
from dispatcher.errors import DispatcherError, ImportFileError, ValidationError
from dispatcher.scenario.records import CustomerRecord, OrderRecord

ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("order_id", "order", "order_ref", "reference", "ref", "id"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "customer_id": ("customer_id", "customer_ref"),
    "customer_name": ("customer_name", "customer", "name", "recipient"),
    "phone": ("phone", "mobile", "tel", "telephone"),
    "email": ("email", "e-mail", "mail"),
    "address": ("address", "street"),
    "date": ("date", "service_date", "delivery_date"),
    "window_start": ("window_start", "tw_start", "from", "earliest"),
    "window_end": ("window_end", "tw_end", "to", "latest"),
    "service_min": ("service_min", "service_minutes", "service"),
    "demand": ("demand", "quantity", "qty", "parcels", "load"),
    "kind": ("kind", "type"),
    "vehicle": ("vehicle", "vehicle_id"),
    "notes": ("notes", "note", "comment", "comments"),
    "skills": ("skills", "required_skills", "needs"),
    "weight_kg": ("weight_kg", "weight", "kg"),
    "volume_l": ("volume_l", "volume", "litres", "liters"),
    "pair": ("pair", "pair_key", "shipment"),
}
REQUIRED = ("order_id", "lat", "lon")
MAX_FILE_BYTES = 50 * 1024 * 1024
#: Longest value of each stored text column (the rest are parsed: dates, numbers, kinds).
TEXT_LIMITS = {
    "order_id": limits.ORDER_ID,
    "customer_id": limits.CUSTOMER_REF,
    "customer_name": limits.NAME,
    "phone": limits.PHONE,
    "email": limits.EMAIL,
    "address": limits.ADDRESS,
    "vehicle": limits.VEHICLE_ID,
    "notes": limits.NOTE,
    "skills": 200,
    "pair": 40,
}
#: Longest value of a parsed column (an ISO 8601 time is 32): keeps messages readable.
PARSED_LIMIT = 64


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str
    #: The column at fault (our name, e.g. ``customer_name``), when one is.
    field: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ParseResult:
    orders: list[OrderRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: line number of each good order, for messages after storage
    lines: dict[str, int] = field(default_factory=dict)


class _RowRejected(Exception):
    def __init__(self, reason: str, field: str = "") -> None:
        super().__init__(reason)
        self.field = field


#: Places an address: ``(lat, lon)``, or a DispatcherError whose text says why not.
Locate = Callable[[str], tuple[float, float]]
NO_GEOCODER = "no coordinates, and no geocoder to place the address"


class FieldRefused(ValidationError):
    """One order refused by the rule of one field; ``field`` names it (``address``, ``lat``…)
    so a form can offer the fix that fits (New order… offers "Place on map" for a place)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def read_orders_file(
    path: Path,
    *,
    default_date: date,
    timezone: str,
    known_vehicles: set[str] | None = None,
    locate: Locate | None = None,
) -> ParseResult:
    """Read and parse ``path``; a file that cannot be read at all is an ImportFileError."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImportFileError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MB.")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{path} does not exist.") from None
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror or exc}") from None
    return parse_orders(
        data,
        default_date=default_date,
        timezone=timezone,
        known_vehicles=known_vehicles,
        locate=locate,
    )


def parse_orders(
    data: bytes,
    *,
    default_date: date,
    timezone: str,
    known_vehicles: set[str] | None = None,
    locate: Locate | None = None,
) -> ParseResult:
    """Parse CSV bytes into orders and per-line errors (see module docstring)."""
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    if not text.strip():
        raise ImportFileError("The file is empty.")
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    lines = io.StringIO(text, newline="").readlines()
    header = next(csv.reader(lines[:1], delimiter=delimiter))
    columns = _map_header(header)
    tz = ZoneInfo(timezone)
    result = ParseResult()
    seen: dict[str, int] = {}
    for line, row in _records(lines, delimiter, columns, header):
        if isinstance(row, RowError):
            result.errors.append(row)
            continue
        if not any(cell.strip() for cell in row):
            continue
        try:
            order = _parse_row(row, columns, default_date, tz, known_vehicles, locate)
        except _RowRejected as exc:
            result.errors.append(RowError(line, str(exc), exc.field))
            continue
        if order.order_ref in seen:
            result.errors.append(
                RowError(
                    line,
                    f"duplicate order id {order.order_ref!r} (first on line "
                    f"{seen[order.order_ref]})",
                    "order_id",
                )
            )
            continue
        seen[order.order_ref] = line
        result.lines[order.order_ref] = line
        result.orders.append(order)
    return result


def _records(
    lines: list[str], delimiter: str, columns: dict[str, int], header: list[str]
) -> Iterator[tuple[int, list[str] | RowError]]:
    """Yield each row after the header with the (1-based) line it starts on, or the error of
    a row whose quoting is broken.

    A quote that is never closed makes the CSV reader run on through the following lines,
    silently folding whole orders into one field. A row spanning several lines is taken as
    broken when the file ends inside its quotes, or when one of its continuation lines reads
    as an order on its own (an order id and numeric coordinates where the header puts them).
    It is reported, and reading starts again on the line after it, so the orders it had
    swallowed are imported. A row the reader cannot parse at all is reported the same way.
    """
    start = 1  # index in ``lines`` of the next row (0 is the header)
    while start < len(lines):
        reader = csv.reader(lines[start:], delimiter=delimiter)
        consumed = 0
        try:
            for row in reader:
                first, end = start + consumed, start + reader.line_num
                consumed = reader.line_num
                problem = _broken_quote(lines[first:end], row, delimiter, columns, header)
                if problem is not None:
                    yield first + 1, problem.at(first + 1)
                    start = first + 1
                    break
                yield first + 1, row
            else:
                return
        except csv.Error as exc:
            first = start + consumed
            yield first + 1, RowError(first + 1, f"the CSV structure is broken ({exc})")
            start = first + 1


@dataclass(frozen=True, slots=True)
class _QuoteProblem:
    field: str
    detail: str

    def at(self, line: int) -> RowError:
        return RowError(
            line, f"unterminated quote in {self.field}: {self.detail} (close the quote)", self.field
        )


def _broken_quote(
    raw: list[str], row: list[str], delimiter: str, columns: dict[str, int], header: list[str]
) -> _QuoteProblem | None:
    """Why the multi-line row ``raw`` looks like an unterminated quote, or None."""
    if len(raw) < 2:
        return None
    index = next((i for i, cell in enumerate(row) if "\n" in cell or "\r" in cell), len(row) - 1)
    field = _column_name(index, columns, header)
    if "".join(raw).count('"') % 2:
        return _QuoteProblem(field, "it runs to the end of the file")
    for offset, text in enumerate(raw[1:], start=1):
        if _looks_like_order(text, delimiter, columns):
            return _QuoteProblem(field, f"line {offset} below it reads as an order of its own")
    return None


def _looks_like_order(text: str, delimiter: str, columns: dict[str, int]) -> bool:
    cells = next(csv.reader([text], delimiter=delimiter), [])
    needed = max(columns[c] for c in REQUIRED)
    if len(cells) <= needed or not cells[columns["order_id"]].strip():
        return False
    try:
        for name in ("lat", "lon"):
            float(cells[columns[name]].strip().replace(",", "."))
    except ValueError:
        return False
    return True


def _column_name(index: int, columns: dict[str, int], header: list[str]) -> str:
    for name, position in columns.items():
        if position == index:
            return name
    return header[index].strip() if index < len(header) else f"column {index + 1}"


def _map_header(header: list[str]) -> dict[str, int]:
    normalized = [h.strip().lower().replace(" ", "_") for h in header]
    columns: dict[str, int] = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in normalized:
                columns[name] = normalized.index(alias)
                break
    required = REQUIRED if "address" not in columns else ("order_id",)
    missing = [c for c in required if c not in columns]
    if missing:
        raise ImportFileError(
            "The header has no column for "
            + ", ".join(missing)
            + f" (found: {', '.join(h.strip() for h in header)})."
        )
    return columns


def _parse_row(
    row: list[str],
    columns: dict[str, int],
    default_date: date,
    tz: ZoneInfo,
    known_vehicles: set[str] | None,
    locate: Locate | None = None,
) -> OrderRecord:
    def get(name: str) -> str:
        idx = columns.get(name)
        value = row[idx].strip() if idx is not None and idx < len(row) else ""
        if any("\udc80" <= ch <= "\udcff" for ch in value):
            raise _RowRejected(f"{name} is not valid UTF-8", name)
        if "\x00" in value:
            raise _RowRejected(f"{name} holds a NUL character", name)
        limit = TEXT_LIMITS.get(name, PARSED_LIMIT)
        if len(value) > limit:
            raise _RowRejected(f"{name} is {len(value)} characters long (at most {limit})", name)
        return value

    ref = get("order_id")
    if not ref:
        raise _RowRejected("order id is missing", "order_id")
    if not get("lat") and not get("lon") and get("address"):
        lat, lon = _located(get("address"), locate)
    else:
        lat, lon = _coordinate(get("lat"), "lat", 90.0), _coordinate(get("lon"), "lon", 180.0)
    if lat == 0.0 and lon == 0.0:
        raise _RowRejected("coordinates are 0,0 (not geocoded)", "lat")
    day = _date(get("date")) if get("date") else default_date
    start = _when(get("window_start"), day, tz, "window_start")
    end = _when(get("window_end"), day, tz, "window_end")
    if start and end and end <= start:
        raise _RowRejected(
            f"time window ends ({get('window_end')}) before it starts ({get('window_start')})",
            "window_end",
        )
    vehicle = get("vehicle") or None
    if vehicle and known_vehicles is not None and vehicle not in known_vehicles:
        raise _RowRejected(f"unknown vehicle {vehicle!r}", "vehicle")
    kind = (get("kind") or "delivery").lower()
    if kind in ("return", "returns"):
        kind = "pickup"
    if kind not in ("delivery", "pickup"):
        raise _RowRejected(f"kind must be delivery or pickup, not {kind!r}", "kind")
    name = get("customer_name")
    customer = CustomerRecord(
        ref=get("customer_id") or _customer_ref(name, get("phone"), get("email"), ref),
        name=name or ref,
        phone=get("phone"),
        email=get("email"),
        preferred_channel="email" if get("email") and not get("phone") else "sms",
    )
    return OrderRecord(
        order_ref=ref,
        service_date=day,
        customer=customer,
        address=get("address"),
        lat=lat,
        lon=lon,
        window_start=start,
        window_end=end,
        service_s=round(_number(get("service_min") or "5", "service_min", 0, 24 * 60) * 60),
        demand=int(_number(get("demand") or "1", "demand", -1000, 100000)),
        kind=kind,
        vehicle_id=vehicle,
        notes=get("notes"),
        skills=_skills(get("skills")),
        weight_kg=int(_number(get("weight_kg") or "0", "weight_kg", 0, 100_000)),
        volume_l=int(_number(get("volume_l") or "0", "volume_l", 0, 1_000_000)),
        pair=get("pair") or None,
    )


def _skills(text: str) -> tuple[str, ...]:
    skills = tuple(s.strip() for s in re.split(r"[,;|]", text) if s.strip())
    if any(len(s) > 40 for s in skills):
        raise _RowRejected("each skill at most 40 characters", "skills")
    return skills


def parse_order_fields(
    fields: Mapping[str, str],
    *,
    default_date: date,
    timezone: str,
    known_vehicles: set[str] | None = None,
    locate: Locate | None = None,
) -> OrderRecord:
    """One order from named fields (the console's new-order form): the CSV's rules exactly.

    ``fields`` uses the canonical column names (``order_id``, ``address``, ``lat``...).
    Raises :class:`FieldRefused` (a ValidationError) with the reason a row would get and the
    field at fault.
    """
    names = [name for name in ALIASES if name in fields]
    columns = {name: i for i, name in enumerate(names)}
    try:
        return _parse_row(
            [fields[n] for n in names],
            columns,
            default_date,
            ZoneInfo(timezone),
            known_vehicles,
            locate,
        )
    except _RowRejected as exc:
        raise FieldRefused(str(exc), exc.field) from None


def _located(address: str, locate: Locate | None) -> tuple[float, float]:
    """A row with an address and no coordinates: ask the geocoder (docs/import.md).

    With geocoding off (``provider = "none"``) only the pins dispatchers set by hand are
    known; an address without one gets the same reason as with no geocoder at all.
    """
    if locate is None:
        raise _RowRejected(NO_GEOCODER, "address")
    try:
        return locate(address)
    except DispatcherError as exc:
        if getattr(exc, "reason", "") == "disabled":
            raise _RowRejected(NO_GEOCODER, "address") from None
        raise _RowRejected(f"address not placed: {exc}", "address") from None


def _number(text: str, name: str, low: float, high: float) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise _RowRejected(f"{name} {text!r} is not a number", name) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise _RowRejected(f"{name} {text!r} is out of range ({low:g} to {high:g})", name)
    return value


def _coordinate(text: str, name: str, limit: float) -> float:
    if not text:
        raise _RowRejected(f"{name} is missing", name)
    return _number(text, name, -limit, limit)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _RowRejected(f"date {text!r} is not YYYY-MM-DD", "date") from None


_HHMM = re.compile(r"^(\d{1,2})[:.h](\d{2})$")


def _when(text: str, day: date, tz: ZoneInfo, name: str) -> datetime | None:
    if not text:
        return None
    match = _HHMM.match(text)
    try:
        if match:
            local = datetime.combine(day, time(int(match[1]), int(match[2])), tz)
        else:
            local = datetime.fromisoformat(text)
            if local.tzinfo is None:
                local = local.replace(tzinfo=tz)
    except ValueError:
        raise _RowRejected(f"time {text!r} is not HH:MM or ISO 8601", name) from None
    return local.astimezone(UTC)


def _customer_ref(name: str, phone: str, email: str, order_ref: str) -> str:
    key = re.sub(r"\D", "", phone) or email.lower() or name.lower() or order_ref
    return limits.fit_key(f"csv:{key}", limits.CUSTOMER_REF)
