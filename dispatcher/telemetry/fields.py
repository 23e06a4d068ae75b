"""Field readers and unit conversions shared by the payload adapters.

Devices disagree on everything: numbers arrive as strings (old OwnTracks apps), speeds in
km/h, m/s or knots, timestamps in seconds, milliseconds or ISO 8601, battery as 0-1 or percent.
These helpers read one field, check its type strictly (``true`` is not a number) and convert it
to the units of :class:`~dispatcher.model.core.PositionReport`, raising :class:`PayloadError`
with a precise reason otherwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dispatcher.limits import storable
from dispatcher.model.core import PositionReport
from dispatcher.telemetry.rejection import PayloadError, RejectReason

try:  # optional accelerator, see load_object
    import orjson

    _fast_loads: Callable[[bytes], Any] | None = orjson.loads
    _FastError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - depends on the environment
    _fast_loads = None
    _FastError = ValueError

KNOT_KMH = 1.852
MS_KMH = 3.6
#: Epoch values above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
MS_THRESHOLD = 1e11
#: Default longest text field (region names...); stored fields pass their own dispatcher.limits.
MAX_TEXT = 256


def load_object(payload: bytes) -> dict[str, Any]:
    """Decode UTF-8 JSON that must be an object; every failure becomes a reason code.

    orjson (when installed) parses the common, valid case several times faster. Anything it
    refuses goes through the standard library parser, which accepts the same superset as
    before (NaN/Infinity, lone surrogates, huge integers) so that the precise reason is the
    same with or without the accelerator.
    """
    if not payload:
        raise PayloadError(RejectReason.EMPTY, "empty payload")
    if _fast_loads is not None:
        try:
            obj = _fast_loads(payload)
        except _FastError:
            obj = _stdlib_loads(payload)
    else:
        obj = _stdlib_loads(payload)
    if type(obj) is not dict:
        raise PayloadError(RejectReason.NOT_AN_OBJECT, f"JSON {type(obj).__name__}, not object")
    return obj


def _stdlib_loads(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(RejectReason.BAD_UTF8, f"invalid UTF-8 at byte {exc.start}") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(RejectReason.MALFORMED_JSON, str(exc)[:120]) from None


def number(value: object, name: str, *, strings: bool = False) -> float:
    """A finite number; ``strings`` also accepts numeric strings such as ``"48.85"``."""
    kind = type(value)
    if kind is float or kind is int:  # the hot path: plain JSON numbers
        try:
            result = float(value)  # type: ignore[arg-type]  # type() is int/float: mypy can't see it
        except OverflowError:
            raise PayloadError(RejectReason.NOT_FINITE, f"{name} is too large") from None
    elif isinstance(value, str) and not isinstance(value, bool):
        if not strings:
            raise PayloadError(RejectReason.WRONG_TYPE, f"{name} must be a number, not a string")
        try:
            result = float(value.strip()) if len(value) <= 64 else math.nan
        except ValueError:
            raise PayloadError(RejectReason.WRONG_TYPE, f"{name} is not a number") from None
    else:
        raise PayloadError(RejectReason.WRONG_TYPE, f"{name} must be a number")
    if result - result != 0.0:  # NaN or infinite, faster than math.isfinite
        raise PayloadError(RejectReason.NOT_FINITE, f"{name} is not finite")
    return result


def opt_number(obj: dict[str, Any], key: str, *, strings: bool = False) -> float | None:
    """``obj[key]`` as a number, or ``None`` when absent or null."""
    value = obj.get(key)
    return None if value is None else number(value, key, strings=strings)


def req_number(obj: dict[str, Any], key: str, *, strings: bool = False) -> float:
    """``obj[key]`` as a number; absence is a rejection."""
    value = obj.get(key)
    if value is None:
        raise PayloadError(RejectReason.MISSING_FIELD, f"{key} is required")
    return number(value, key, strings=strings)


def text(value: object, name: str, *, max_len: int = MAX_TEXT, drop_nul: bool = False) -> str:
    """A non-empty string that can be stored: bounded length, UTF-8 encodable, no NUL.

    A NUL is refused (PostgreSQL cannot store it, and an id with one is not the id it looks
    like), unless ``drop_nul``: a device's free-text name (a region, a geofence) with one is
    still worth its event, so the NUL is removed instead.
    """
    if not isinstance(value, str):
        raise PayloadError(RejectReason.WRONG_TYPE, f"{name} must be a string")
    if drop_nul and "\x00" in value:
        value = value.replace("\x00", "")
    if not value or len(value) > max_len:
        raise PayloadError(RejectReason.OUT_OF_RANGE, f"{name} must be 1..{max_len} characters")
    if not storable(value):
        if "\x00" in value:
            raise PayloadError(RejectReason.BAD_VALUE, f"{name} holds a NUL character")
        raise PayloadError(RejectReason.BAD_UTF8, f"{name} holds a lone surrogate")
    return value


def opt_text(
    obj: dict[str, Any], key: str, *, max_len: int = MAX_TEXT, drop_nul: bool = False
) -> str | None:
    """``obj[key]`` as text, or ``None`` when absent, null or empty."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    return text(value, key, max_len=max_len, drop_nul=drop_nul)


def timestamp(value: object, name: str, *, strings: bool = False) -> datetime:
    """An aware UTC datetime from epoch seconds, epoch milliseconds or ISO 8601.

    Epoch values above :data:`MS_THRESHOLD` are read as milliseconds. ISO strings without an
    offset are taken as UTC (what Traccar and most trackers send).
    """
    if isinstance(value, str) and not _looks_numeric(value, strings):
        return _iso(value, name)
    seconds = number(value, name, strings=strings)
    if seconds > MS_THRESHOLD:
        seconds /= 1000.0
    if seconds < 0:
        raise PayloadError(RejectReason.BAD_TIMESTAMP, f"{name} is before 1970")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(RejectReason.BAD_TIMESTAMP, f"{name} is out of range") from None


def _looks_numeric(value: str, strings: bool) -> bool:
    return strings and value.strip().lstrip("-").replace(".", "", 1).isdigit()


def _iso(value: str, name: str) -> datetime:
    if len(value) > 40:
        raise PayloadError(RejectReason.BAD_TIMESTAMP, f"{name} is too long for a timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(RejectReason.BAD_TIMESTAMP, f"{name} is not ISO 8601") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise PayloadError(RejectReason.BAD_TIMESTAMP, f"{name} is out of range") from None


def battery_from_fraction(fraction: float) -> float:
    """0-1 (OsmAnd, Traccar Client) to percent."""
    if fraction > 1.0:
        raise PayloadError(RejectReason.OUT_OF_RANGE, "battery fraction must be 0..1")
    return fraction * 100.0


def build_position(
    vehicle_id: str,
    ts: datetime,
    lat: float,
    lon: float,
    *,
    speed_kmh: float | None = None,
    heading_deg: float | None = None,
    accuracy_m: float | None = None,
    altitude_m: float | None = None,
    battery_pct: float | None = None,
    device_id: str | None = None,
    source: str = "native",
    tracking_mode: str | None = None,
) -> PositionReport:
    """Check ranges that are wrong whatever the configuration, then build the report.

    Negative speed, heading, accuracy or battery are the "unknown" markers of iOS and some
    trackers (``-1``), so they become ``None`` instead of rejecting a good fix.
    """
    # check_place inlined: this runs for every fix, and the call costs.
    if (
        not (-90.0 <= lat <= 90.0)
        or not (-180.0 <= lon <= 180.0)
        or (abs(lat) < 1e-7 and abs(lon) < 1e-7)
    ):
        check_place(lat, lon)  # raises the precise reason
    if battery_pct is not None:
        if battery_pct > 100.0:
            raise PayloadError(
                RejectReason.OUT_OF_RANGE,
                f"battery {battery_pct:g}% above 100: if the device sends volts or millivolts, "
                "set its profile's battery to volts",
            )
        if battery_pct < 0:
            battery_pct = None
    if heading_deg is not None:
        heading_deg = None if heading_deg < 0 else heading_deg % 360.0
    return PositionReport(  # positional: this runs for every fix
        vehicle_id,
        ts,
        lat,
        lon,
        None if speed_kmh is None or speed_kmh < 0 else speed_kmh,
        heading_deg,
        None if accuracy_m is None or accuracy_m < 0 else accuracy_m,
        altitude_m,
        battery_pct,
        device_id,
        source,
        False,
        tracking_mode,
    )


def check_place(lat: float, lon: float) -> None:
    """Reject a place that is no place: out of range, or (0, 0) ("Null Island")."""
    if not (-90.0 <= lat <= 90.0) or not (-180.0 <= lon <= 180.0):
        raise PayloadError(RejectReason.OUT_OF_RANGE, f"lat/lon ({lat}, {lon}) out of range")
    if abs(lat) < 1e-7 and abs(lon) < 1e-7:
        raise PayloadError(
            RejectReason.NULL_ISLAND, "position (0, 0) is a missing fix: the device had no GPS fix"
        )


def event_place(
    obj: dict[str, Any], lat_key: str, lon_key: str, extra: dict[str, Any]
) -> tuple[float | None, float | None]:
    """The optional place of an event, checked like a fix's.

    An event is worth keeping without its place (a transition, a geofence exit), so a
    missing, out-of-range or (0, 0) place is dropped, and why is noted in ``extra``
    (``place_dropped``), instead of storing the event at Null Island or rejecting it.
    """
    raw_lat, raw_lon = obj.get(lat_key), obj.get(lon_key)
    if raw_lat is None or raw_lon is None:
        return None, None
    try:
        lat = number(raw_lat, lat_key, strings=True)
        lon = number(raw_lon, lon_key, strings=True)
        check_place(lat, lon)
    except PayloadError as exc:
        extra["place_dropped"] = exc.detail or str(exc.reason)
        return None, None
    return lat, lon
