"""Planned-vs-actual, cost and emissions over a period, summed in SQL.

One ``GROUP BY`` over ``kpi_route_days`` (one row per route day, written by
:func:`dispatcher.kpi.rollup.rollup_days`): by bucket (day, ISO week from Monday, month) and
by a group (vehicle, driver, depot, area, or the whole fleet). ``service_date`` is already the
fleet's local day, so bucketing needs no time zone. A year of a 100-vehicle fleet is 36,500
rows; bench/kpi_year.py measures the query on PostgreSQL. Customers' ratings
(``customer_feedback``) are summed by a second query with the same buckets and groups and
added to the rows (:func:`feedback_sums`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, Integer, case, cast, func, literal, literal_column, select
from sqlalchemy.orm import Session

from dispatcher.model.route_kpi import BUCKETS, DIMENSIONS, PeriodRow
from dispatcher.persistence.orm import CustomerFeedbackRow
from dispatcher.persistence.orm import RouteDayKpiRow as K

_SUMS = (
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
    "planned_cost",
    "cost",
)
_SUMS_2 = (
    "planned_co2e_kg",
    "co2e_kg",
    "on_time_hits",
    "on_time_total",
    "first_attempt_hits",
    "first_attempt_total",
    "done",
    "failed",
    "skipped",
    "parcels",
)


def _bucket(dialect: str, bucket: str) -> Any:
    if bucket == "day":
        return K.service_date
    if dialect == "postgresql":
        return cast(func.date_trunc(bucket, K.service_date), Date)
    if bucket == "week":  # SQLite: back to Monday (%w: Sunday is 0)
        return func.date(
            K.service_date,
            literal("-")
            .concat(cast((cast(func.strftime("%w", K.service_date), Integer) + 6) % 7, Integer))
            .concat(" days"),
        )
    return func.strftime("%Y-%m-01", K.service_date)


def period_rows(
    session: Session, start: date, end: date, bucket: str = "day", dimension: str = "fleet"
) -> list[PeriodRow]:
    """Sums per (bucket, group) of the route days in ``[start, end]``, in bucket then group
    order. Unknown ``bucket``/``dimension`` names raise ``ValueError`` (never reach SQL)."""
    if bucket not in BUCKETS or dimension not in DIMENSIONS:
        raise ValueError(f"unknown bucket {bucket!r} or group {dimension!r}")
    dialect = session.get_bind().dialect.name
    when = _bucket(dialect, bucket).label("bucket")
    column = DIMENSIONS[dimension]
    key = (getattr(K, column) if column else literal_column("''")).label("key")
    fuel = func.sum(case((K.energy_unit == "l", K.energy), else_=0.0))
    kwh = func.sum(case((K.energy_unit == "kWh", K.energy), else_=0.0))
    frozen = func.sum(case((K.plan_frozen.is_(True), 1), else_=0))
    stmt = (
        select(
            when,
            key,
            func.count(),
            *(func.coalesce(func.sum(getattr(K, c)), 0) for c in _SUMS),
            func.coalesce(fuel, 0.0),
            func.coalesce(kwh, 0.0),
            *(func.coalesce(func.sum(getattr(K, c)), 0) for c in _SUMS_2),
            func.coalesce(frozen, 0),
        )
        .where(K.service_date.between(start, end))
        .group_by(*((when, key) if column else (when,)))
        .order_by(*((when, key) if column else (when,)))
    )
    found = []
    for row in session.execute(stmt):
        values = list(row)
        first = values[0]
        values[0] = date.fromisoformat(first) if isinstance(first, str) else first
        values[1] = values[1] or ""
        found.append(PeriodRow(*values))
    return _with_feedback(session, found, start, end, bucket, dimension)


def _with_feedback(
    session: Session, rows: list[PeriodRow], start: date, end: date, bucket: str, dimension: str
) -> list[PeriodRow]:
    """Add the customers' ratings (dispatcher/persistence/feedback_repo.py) to the rows."""
    from dataclasses import replace

    sums = feedback_sums(session, start, end, bucket, dimension)
    if not sums:
        return rows
    return [
        replace(r, rating_sum=sums[(r.bucket, r.key)][0], ratings=sums[(r.bucket, r.key)][1])
        if (r.bucket, r.key) in sums
        else r
        for r in rows
    ]


def feedback_sums(
    session: Session, start: date, end: date, bucket: str, dimension: str
) -> dict[tuple[date, str], tuple[int, int]]:
    """``(bucket, key) -> (sum of ratings, count)`` for route days in
    ``[start, end]``, joined to ``kpi_route_days`` (same day and vehicle) so a rating is
    grouped by that route day's vehicle, driver, depot or area like every other figure."""
    if bucket not in BUCKETS or dimension not in DIMENSIONS:
        raise ValueError(f"unknown bucket {bucket!r} or group {dimension!r}")
    F = CustomerFeedbackRow
    when = _bucket(session.get_bind().dialect.name, bucket).label("bucket")
    column = DIMENSIONS[dimension]
    key = (getattr(K, column) if column else literal_column("''")).label("key")
    stmt = (
        select(when, key, func.sum(F.rating), func.count(F.id))
        .join(K, (K.service_date == F.service_date) & (K.vehicle_id == F.vehicle_id))
        .where(F.service_date.between(start, end))
        .group_by(*((when, key) if column else (when,)))
    )
    out: dict[tuple[date, str], tuple[int, int]] = {}
    for first, k, total, count in session.execute(stmt):
        day = date.fromisoformat(first) if isinstance(first, str) else first
        out[(day, k or "")] = (int(total or 0), int(count or 0))
    return out
