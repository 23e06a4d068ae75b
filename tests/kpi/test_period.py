"""Periods, sums of route days, and the CSV and HTML exports (by hand, no database)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from dispatcher.errors import DispatcherError
from dispatcher.kpi.period import Period, PeriodFigures, period_range, shift, sum_rows
from dispatcher.model.route_kpi import PeriodRow
from dispatcher.reports import period as export


def row(bucket: date, key: str, **kw: float) -> PeriodRow:
    base: dict[str, float] = dict.fromkeys(PeriodRow.__dataclass_fields__, 0)
    base.pop("bucket")
    base.pop("key")
    base.update(kw)
    return PeriodRow(bucket, key, **base)  # type: ignore[arg-type]  # **base: mixed types


def test_period_ranges_and_steps() -> None:
    friday = date(2026, 11, 20)
    assert period_range("day", friday) == (friday, friday)
    assert period_range("week", friday) == (date(2026, 11, 16), date(2026, 11, 22))
    assert period_range("month", date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert shift("month", date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert shift("month", date(2026, 1, 5), -1) == date(2025, 12, 1)
    assert shift("week", friday, -1) == date(2026, 11, 13)
    with pytest.raises(ValueError):
        period_range("fortnight", friday)


def test_ratios_come_from_summed_counts_not_from_a_mean_of_days() -> None:
    # Day 1: 9 of 10 on time (90 %); day 2: 0 of 1 (0 %). Mean of days: 45 %; the period's
    # on-time is (9 + 0) / (10 + 1) = 81.82 %.
    d1 = row(date(2026, 11, 16), "V1", on_time_hits=9, on_time_total=10, cost=100.0, parcels=8)
    d2 = row(date(2026, 11, 17), "V1", on_time_hits=0, on_time_total=1, cost=60.0, parcels=2)
    total = sum_rows([d1, d2], date(2026, 11, 16), "V1")
    assert total.on_time_pct == pytest.approx(100 * 9 / 11)
    # Cost per parcel = (100 + 60) / (8 + 2) = 16.
    assert total.cost_per_parcel == pytest.approx(16.0)
    assert PeriodFigures(row(date(2026, 11, 16), "")).on_time_pct is None
    planned = PeriodFigures(row(date(2026, 11, 16), "", planned_km=50.0, actual_km=56.0))
    assert planned.km_vs_plan_pct == pytest.approx(112.0)


def test_csv_and_self_contained_html(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    rows = (
        row(date(2026, 11, 16), "V1", routes=1, cost=100.0, parcels=8, co2e_kg=4.0),
        row(date(2026, 11, 17), hostile, routes=1, cost=60.0, parcels=2, co2e_kg=1.0),
    )
    period = Period("week", date(2026, 11, 16), date(2026, 11, 22), "vehicle", rows, rows)
    path = export.write_csv(period, tmp_path / "p.csv")
    with path.open(encoding="utf-8-sig") as fh:
        table = list(csv.reader(fh))
    header = table[0]
    assert header[:3] == ["bucket", "group", "routes"]
    first = dict(zip(header, table[1], strict=True))
    assert (first["cost"], first["cost per parcel"]) == ("100.00", "12.50")
    assert first["CO2e kg"] == "4.00"
    page = export.render_html(period)
    assert hostile not in page and "&lt;script&gt;" in page
    assert "<svg" in page and "src=" not in page and "<script" not in page  # self-contained
    assert "DESNZ" in page
    # The fleet's total row: cost 160, per parcel 160 / 10 = 16.
    assert "<td>160.00</td>" in page and "<td>16.00</td>" in page
    with pytest.raises(DispatcherError):
        export.write_html(period, tmp_path / "p.csv" / "x.html")  # a file is not a folder


def test_the_cost_line_speaks_the_fleets_units_and_numbers() -> None:
    """A Finnish fleet reads "12,3 km"; a US fleet miles: the KPI dock's line follows the
    board's totals, not Python's defaults (2,000 m = 1.24 mi; 1234.5 → "1,234.50")."""
    from dispatcher import display
    from dispatcher.fleet_settings import FleetSettings
    from dispatcher.kpi.rollup import CostSummary

    summary = CostSummary(1, 12.26, 12.34, 1000.0, 1234.5, 3.24, 10)
    display.install(FleetSettings.from_mapping({"locale": "fi_FI"}))
    assert summary.text() == (
        "12,3 km driven (planned 12,3) · cost 1 234,50 (planned 1 000,00) · "
        "123,45 per parcel · 3,2 kg CO2e"
    )
    us = CostSummary(1, 2.0, 2.0, 0.0, 1234.5, 0.0, 0)
    display.install(FleetSettings.from_mapping({"units": "mi", "locale": "en_US"}))
    assert us.text() == "1.2 mi driven (planned 1.2) · cost 1,234.50 (planned 0.00) · 0.0 kg CO2e"
