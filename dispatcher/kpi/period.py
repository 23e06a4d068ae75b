"""Across days: a period (day, ISO week, month) of stored route days, grouped and bucketed.

:func:`load_period` makes sure every day of the period that has routes is in the rollup
(finished days once; *today* — the fleet's local day at ``now`` — recomputed on every load,
as it is still moving), then sums it in SQL (:mod:`dispatcher.persistence.kpi_period_repo`).
:class:`PeriodFigures` turns a sum into the figures the view shows: ratios are recomputed
from the summed counts, never averaged over days.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from dispatcher.eta.travel import TravelTimeProvider
from dispatcher.kpi.rollup import rollup_days
from dispatcher.model.route_kpi import PeriodRow
from dispatcher.persistence import kpi_period_repo, route_kpi_repo
from dispatcher.persistence.database import Database

#: How many days back a stored day is checked for late events (a device's buffer) and
#: recomputed if some came in after it was stored; older days are taken as final.
STALE_WINDOW_DAYS = 7


def period_range(kind: str, anchor: date) -> tuple[date, date]:
    """First and last day of the ``kind`` period holding ``anchor`` (weeks run Monday to
    Sunday, ISO 8601)."""
    if kind == "day":
        return anchor, anchor
    if kind == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        return monday, monday + timedelta(days=6)
    if kind == "month":
        last = calendar.monthrange(anchor.year, anchor.month)[1]
        return anchor.replace(day=1), anchor.replace(day=last)
    raise ValueError(f"unknown period {kind!r}")


def shift(kind: str, anchor: date, steps: int) -> date:
    """The anchor of the period ``steps`` periods away (the picker's arrows)."""
    if kind == "day":
        return anchor + timedelta(days=steps)
    if kind == "week":
        return anchor + timedelta(weeks=steps)
    month = anchor.month - 1 + steps
    year = anchor.year + month // 12
    return date(year, month % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """The figures of one summed row (see docs/kpi.md, "Across days")."""

    row: PeriodRow

    @staticmethod
    def _pct(hits: int, total: int) -> float | None:
        return 100.0 * hits / total if total else None

    @property
    def on_time_pct(self) -> float | None:
        return self._pct(self.row.on_time_hits, self.row.on_time_total)

    @property
    def first_attempt_pct(self) -> float | None:
        return self._pct(self.row.first_attempt_hits, self.row.first_attempt_total)

    @property
    def km_vs_plan_pct(self) -> float | None:
        """Actual km over planned km, percent (100: as planned; 112: 12 % further)."""
        r = self.row
        return 100.0 * r.actual_km / r.planned_km if r.planned_km else None

    @property
    def cost_per_stop(self) -> float | None:
        return self.row.cost / self.row.stops_visited if self.row.stops_visited else None

    @property
    def cost_per_parcel(self) -> float | None:
        return self.row.cost / self.row.parcels if self.row.parcels else None

    @property
    def co2e_per_parcel_kg(self) -> float | None:
        return self.row.co2e_kg / self.row.parcels if self.row.parcels else None

    @property
    def avg_rating(self) -> float | None:
        """The customers' mean rating (1-5) over every response of the group and period:
        summed ratings over summed responses, never a mean of daily means."""
        return self.row.rating_sum / self.row.ratings if self.row.ratings else None


#: Columns of the period table and CSV: (header, value of a figure row).
def columns() -> list[tuple[str, str]]:
    """(header, attribute) pairs; attributes of :class:`PeriodRow` or :class:`PeriodFigures`."""
    return [
        ("routes", "routes"),
        ("planned km", "planned_km"),
        ("actual km", "actual_km"),
        ("km vs plan %", "km_vs_plan_pct"),
        ("planned drive h", "planned_drive_h"),
        ("drive h", "drive_h"),
        ("planned service h", "planned_service_h"),
        ("service h", "service_h"),
        ("planned stops", "planned_stops"),
        ("stops visited", "stops_visited"),
        ("skipped", "skipped"),
        ("on time %", "on_time_pct"),
        ("first attempt %", "first_attempt_pct"),
        ("parcels", "parcels"),
        ("planned cost", "planned_cost"),
        ("cost", "cost"),
        ("cost per stop", "cost_per_stop"),
        ("cost per parcel", "cost_per_parcel"),
        ("fuel l", "fuel_l"),
        ("electricity kWh", "electricity_kwh"),
        ("planned CO2e kg", "planned_co2e_kg"),
        ("CO2e kg", "co2e_kg"),
        ("CO2e kg per parcel", "co2e_per_parcel_kg"),
        ("avg rating", "avg_rating"),
        ("ratings", "ratings"),
    ]


def value(figures: PeriodFigures, attribute: str) -> float | int | None:
    if hasattr(PeriodFigures, attribute):
        result = getattr(figures, attribute)
    else:
        result = getattr(figures.row, attribute)
    assert result is None or isinstance(result, int | float)
    return result


@dataclass(frozen=True, slots=True)
class Period:
    """A loaded period: its range, how it was grouped, the totals and the trend rows."""

    kind: str
    start: date
    end: date
    dimension: str
    #: One row per group over the whole period (bucketed by the period itself).
    totals: tuple[PeriodRow, ...]
    #: One row per (day, group): the trend.
    trend: tuple[PeriodRow, ...]
    #: Days rolled up by this load (finished days missing from the rollup, and today).
    computed_days: tuple[date, ...] = ()

    def fleet_total(self) -> PeriodFigures | None:
        """The whole period for the fleet: the sum over every group (``None`` if empty)."""
        return sum_rows(self.totals, self.start) if self.totals else None


def sum_rows(rows: Sequence[PeriodRow], bucket: date, key: str = "") -> PeriodFigures:
    """Add summed rows together (all fields are sums, so this is exact)."""
    names = [n for n in PeriodRow.__dataclass_fields__ if n not in ("bucket", "key")]
    totals = {n: sum(getattr(r, n) for r in rows) for n in names}
    return PeriodFigures(PeriodRow(bucket=bucket, key=key, **totals))


def load_period(
    db: Database,
    tz: tzinfo,
    kind: str,
    anchor: date,
    dimension: str,
    now: datetime,
    provider: TravelTimeProvider | None = None,
) -> Period:
    """Roll up what is missing, then read the period's totals and trend (off the GUI thread)."""
    start, end = period_range(kind, anchor)
    today = now.astimezone(tz).date()
    recent = max(start, today - timedelta(days=STALE_WINDOW_DAYS))
    with db.session() as session:
        have = route_kpi_repo.stored_days(session, start, end)
        days = route_kpi_repo.days_with_routes(session, start, end)
        stale = route_kpi_repo.stale_days(session, recent, end) if recent <= end else set()
    missing = [d for d in days if d == today or (d < today and (d not in have or d in stale))]
    if missing:
        rollup_days(db, missing, tz, now, provider)
    bucket = {"day": "day", "week": "week", "month": "month"}[kind]
    with db.session() as session:
        totals = kpi_period_repo.period_rows(session, start, end, bucket, dimension)
        trend = kpi_period_repo.period_rows(session, start, end, "day", dimension)
    return Period(kind, start, end, dimension, tuple(totals), tuple(trend), tuple(missing))
