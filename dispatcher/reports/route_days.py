"""The day report's route sheet: planned vs actual, cost and CO₂e, one CSV row per route.

Written next to the per-stop CSV (:mod:`dispatcher.reports.day`) as
``day-routes-YYYY-MM-DD.csv``. Every figure is defined in docs/kpi.md ("Planned vs actual",
"Cost and emissions"); the emission factors' source is written on each row.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path

from dispatcher.errors import DispatcherError
from dispatcher.kpi.emissions import FACTOR_SOURCE
from dispatcher.kpi.rollup import RouteDayResult, route_days
from dispatcher.persistence.database import Database
from dispatcher.reports.day import _zone

ROUTE_COLUMNS = (
    "vehicle_id",
    "driver_id",
    "plan_frozen",
    "planned_km",
    "actual_km",
    "planned_drive_h",
    "drive_h",
    "planned_service_h",
    "service_h",
    "planned_route_h",
    "route_h",
    "planned_stops",
    "stops_visited",
    "done",
    "failed",
    "skipped",
    "added",
    "removed",
    "on_time",
    "judged",
    "first_attempt_ok",
    "attempted",
    "parcels_delivered",
    "planned_cost",
    "cost",
    "cost_per_stop",
    "cost_per_parcel",
    "energy",
    "energy_unit",
    "planned_co2e_kg",
    "co2e_kg",
    "co2e_kg_per_parcel",
    "factor_source",
)


def _n(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def route_row(result: RouteDayResult, source: str) -> list[str]:
    d = result.day
    return [
        d.vehicle_id,
        result.inputs.driver_id,
        "yes" if d.plan_frozen else "no",
        _n(d.planned.distance_km),
        _n(d.actual.distance_km),
        _n(d.planned.drive_h),
        _n(d.actual.drive_h),
        _n(d.planned.service_h),
        _n(d.actual.service_h),
        _n(d.planned.route_h),
        _n(d.actual.route_h),
        str(d.planned.stops),
        str(d.actual.stops),
        str(d.done),
        str(d.failed),
        str(d.skipped),
        str(d.added),
        str(d.removed),
        str(d.on_time.hits),
        str(d.on_time.total),
        str(d.first_attempt.hits),
        str(d.first_attempt.total),
        str(d.parcels_delivered),
        _n(d.planned.cost),
        _n(d.actual.cost),
        _n(d.cost_per_stop),
        _n(d.cost_per_parcel),
        _n(d.actual.energy),
        d.energy_unit,
        _n(d.planned.co2e_kg),
        _n(d.actual.co2e_kg),
        _n(d.co2e_per_parcel_kg),
        source if d.energy_unit else "",
    ]


def write_route_csv(results: Sequence[RouteDayResult], path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(ROUTE_COLUMNS)
            writer.writerows(route_row(r, FACTOR_SOURCE) for r in results)
    except OSError as exc:
        raise DispatcherError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


STOP_COLUMNS = (
    "vehicle_id",
    "order_ref",
    "in_plan_at_dispatch",
    "planned_arrival_at_dispatch",
    "window_end_promised",
    "actual_arrival",
    "arrival_vs_plan_min",
    "verdict",
    "attempts",
    "status",
)


def write_stop_csv(results: Sequence[RouteDayResult], path: Path, tz: tzinfo) -> Path:
    """Each stop against the plan at dispatch: its frozen planned arrival and promised window
    end, its first arrival, the verdict (``on_time``, ``late``, ``pending``, ``overdue``,
    ``not_judged``)."""

    def when(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(STOP_COLUMNS)
            for result in results:
                for o in result.day.outcomes:
                    delta = o.delta_min
                    writer.writerow(
                        [
                            result.day.vehicle_id,
                            o.order_ref,
                            "yes" if o.in_plan else "no",
                            when(o.planned_arrival),
                            when(o.window_end),
                            when(o.arrival),
                            "" if delta is None else f"{delta:.1f}",
                            o.verdict.value,
                            str(o.attempts),
                            o.status,
                        ]
                    )
    except OSError as exc:
        raise DispatcherError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def export_route_days(db: Database, day: date, timezone: str, out_dir: Path) -> Path:
    """Compute the day's routes and write ``day-routes-<day>.csv`` (one row per route) and
    ``day-plan-<day>.csv`` (one row per stop, against the plan at dispatch) into ``out_dir``.

    Judged as at the end of the local day (a past day's report does not change with the hour
    it is exported at). Returns the route sheet's path."""
    tz = _zone(timezone)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    results = route_days(db, day, tz, end)
    write_stop_csv(results, out_dir / f"day-plan-{day.isoformat()}.csv", tz)
    return write_route_csv(results, out_dir / f"day-routes-{day.isoformat()}.csv")
