"""The day report: one CSV row per stop, planned against actual, with the messages sent
and the proof of delivery (recipient, time, file hashes, distance to the stop).

What a supervisor sends to the customer service desk or the client after the day: when each
stop was planned and when the vehicle arrived, how late against the customer's window, how
many attempts it took, and which customer messages actually went out (sent or delivered rows
of the outbox). Times are local (the depot's zone) and minute-rounded, written ISO-style in
the CSV whatever the fleet's locale (it is data for a spreadsheet); the map of the day's
tracks, with each vehicle's tracked distance in the fleet's units, is drawn by the UI side
from :func:`load_day_tracks` (folium stays out of the core).
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dispatcher.errors import DispatcherError
from dispatcher.geo import haversine_m
from dispatcher.model.driver import PodView
from dispatcher.model.stops import StopView
from dispatcher.persistence import driver_repo, history_repo
from dispatcher.persistence.database import Database

#: Outbox states that mean "the message left us".
SENT_STATUSES = ("sent", "delivered")

COLUMNS = (
    "vehicle_id",
    "vehicle",
    "sequence",
    "order_ref",
    "kind",
    "customer",
    "address",
    "window_start",
    "window_end",
    "planned_arrival",
    "actual_arrival",
    "arrival_vs_plan_min",
    "lateness_min",
    "on_time",
    "completed_at",
    "status",
    "attempts",
    "failure_reason",
    "messages_sent",
    "messages",
    "pod_recipient",
    "pod_taken_at",
    "pod_files",
    "pod_distance_m",
)


@dataclass(frozen=True, slots=True)
class StopReportRow:
    """One stop of the day: the record plus what was computed from it."""

    stop: StopView
    #: Actual minus planned arrival, minutes (negative = early); None without both.
    arrival_vs_plan_min: float | None
    #: Minutes after the window closed (0 when inside it); None without arrival or window.
    lateness_min: float | None
    #: Arrived inside the window; None when there is no arrival or no window to judge by.
    on_time: bool | None
    messages: list[tuple[str, str, datetime | None]]
    #: The stop's latest proof of delivery from the driver app (None: none).
    pod: PodView | None = None


@dataclass(frozen=True, slots=True)
class DayReport:
    day: date
    timezone: str
    rows: list[StopReportRow]

    def summary(self) -> str:
        arrived = [r for r in self.rows if r.stop.actual_arrival is not None]
        late = sum(1 for r in self.rows if r.lateness_min)
        sent = sum(len(r.messages) for r in self.rows)
        return (
            f"{self.day}: {len(self.rows)} stops, {len(arrived)} arrived, {late} late, "
            f"{sent} messages sent"
        )


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60.0, 1)


def judge(stop: StopView) -> tuple[float | None, float | None, bool | None]:
    """(arrival vs plan, lateness, on time) of one stop, in minutes.

    Same rule as the KPIs (docs/kpi.md): on time means arrived at or before the window end
    (arriving early is on time: the driver waits); a stop whose window has no end is not
    judged.
    """
    actual = stop.actual_arrival
    if actual is None:
        return None, None, None
    vs_plan = _minutes(actual - stop.planned_arrival) if stop.planned_arrival else None
    if stop.window_end is None:
        return vs_plan, None, None
    lateness = max(0.0, _minutes(actual - stop.window_end))
    return vs_plan, lateness, actual <= stop.window_end


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The local day as a UTC interval [start, end)."""
    tz = _zone(timezone)
    start = datetime.combine(day, time(0), tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (KeyError, ValueError):
        raise DispatcherError(f"unknown time zone {timezone!r}") from None


def build_day_report(db: Database, day: date, timezone: str) -> DayReport:
    """Read the day's stops, their sent messages and proofs of delivery (three queries)."""
    _zone(timezone)
    with db.session() as session:
        stops = history_repo.stops_of_day(session, day)
        refs = [s.order_ref for s in stops]
        messages = history_repo.messages_for_stops(session, refs, SENT_STATUSES)
        pods = driver_repo.latest_pods(session, refs)
    rows = [
        StopReportRow(s, *judge(s), messages.get(s.order_ref, []), pods.get(s.order_ref))
        for s in stops
    ]
    return DayReport(day, timezone, rows)


def _fmt_time(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""


def _fmt_num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def csv_row(row: StopReportRow, tz: ZoneInfo) -> list[str]:
    s = row.stop
    on_time = "" if row.on_time is None else ("yes" if row.on_time else "no")
    messages = "; ".join(
        f"{situation}/{channel}" + (f" {_fmt_time(at, tz)[11:]}" if at else "")
        for situation, channel, at in row.messages
    )
    return [
        s.vehicle_id or "",
        s.vehicle_name,
        "" if s.sequence is None else str(s.sequence),
        s.order_ref,
        s.kind,
        s.customer_name,
        s.address,
        _fmt_time(s.window_start, tz),
        _fmt_time(s.window_end, tz),
        _fmt_time(s.planned_arrival, tz),
        _fmt_time(s.actual_arrival, tz),
        _fmt_num(row.arrival_vs_plan_min),
        _fmt_num(row.lateness_min),
        on_time,
        _fmt_time(s.completed_at, tz),
        s.status,
        str(s.attempts),
        s.failure_reason,
        str(len(row.messages)),
        messages,
        *_pod_cells(row.pod, tz),
    ]


def _pod_cells(pod: PodView | None, tz: ZoneInfo) -> list[str]:
    """Recipient, time, files ("photo ab12cd34…; signature …") and distance of a POD."""
    if pod is None:
        return ["", "", "", ""]
    files = "; ".join(f"{f.get('role')} {str(f.get('sha256'))[:12]}" for f in pod.files)
    distance = "" if pod.distance_m is None else f"{pod.distance_m:.0f}"
    return [pod.recipient, _fmt_time(pod.taken_at, tz), files, distance]


def write_csv(report: DayReport, path: Path) -> Path:
    """Write the report as UTF-8 CSV (with BOM, so spreadsheet programs read accents)."""
    tz = _zone(report.timezone)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            writer.writerows(csv_row(r, tz) for r in report.rows)
    except OSError as exc:
        raise DispatcherError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


@dataclass(frozen=True, slots=True)
class DayTracks:
    """The day's tracks as the map draws them, and how far each vehicle went.

    Attributes:
        points: Each vehicle's track, evenly decimated (what the map draws).
        lengths_m: Each vehicle's tracked distance in metres: straight lines between every
            stored fix, before decimation (a decimated track cuts the corners).
    """

    points: dict[str, list[tuple[float, float]]]
    lengths_m: dict[str, float]


def load_day_tracks(db: Database, day: date, timezone: str, max_points: int = 2000) -> DayTracks:
    """Each vehicle's stored track of the local day and its length (one query)."""
    start, end = day_bounds(day, timezone)
    with db.session() as session:
        rows = history_repo.positions_between(session, start, end - timedelta(microseconds=1))
    tracks: dict[str, list[tuple[float, float]]] = {}
    for vid, _ts, lat, lon, _speed, _heading in rows:
        tracks.setdefault(vid, []).append((lat, lon))
    return DayTracks(
        {vid: decimate(points, max_points) for vid, points in tracks.items()},
        {vid: track_length_m(points) for vid, points in tracks.items()},
    )


def load_tracks(
    db: Database, day: date, timezone: str, max_points: int = 2000
) -> dict[str, list[tuple[float, float]]]:
    """Each vehicle's stored track of the local day, evenly decimated to ``max_points``."""
    return load_day_tracks(db, day, timezone, max_points).points


def track_length_m(points: Sequence[tuple[float, float]]) -> float:
    """Metres along ``points`` (great circle from fix to fix)."""
    return sum(haversine_m(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(points))


def decimate(points: Sequence[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """At most ``limit`` points, evenly spaced, always keeping the first and the last."""
    n = len(points)
    if n <= limit or limit < 2:
        return list(points)
    step = (n - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def default_names(day: date) -> tuple[str, str]:
    """File names of an export: the CSV and the HTML map."""
    return f"day-report-{day.isoformat()}.csv", f"day-map-{day.isoformat()}.html"
