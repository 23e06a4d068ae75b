"""Exports of a KPI period: a CSV (one row per bucket and group) and a self-contained HTML
report with static SVG charts (no script, no external file: it opens offline, prints, and
can be mailed).

Every text that came from the database (vehicle, driver, depot names) is HTML-escaped.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from dispatcher.errors import DispatcherError
from dispatcher.kpi.emissions import FACTOR_SOURCE
from dispatcher.kpi.period import Period, PeriodFigures, columns, sum_rows, value
from dispatcher.model.route_kpi import PeriodRow

#: The trend charts of the HTML report: (title, attribute).
CHARTS = (
    ("On time %", "on_time_pct"),
    ("First-attempt success %", "first_attempt_pct"),
    ("Actual km", "actual_km"),
    ("Cost", "cost"),
    ("Cost per parcel", "cost_per_parcel"),
    ("CO2e kg", "co2e_kg"),
)


def _fmt(number: float | int | None) -> str:
    if number is None:
        return ""
    if isinstance(number, int):
        return str(number)
    return f"{number:.2f}"


def csv_rows(rows: Sequence[PeriodRow]) -> list[list[str]]:
    header = ["bucket", "group", *(h for h, _ in columns())]
    body = [
        [r.bucket.isoformat(), r.key, *(_fmt(value(PeriodFigures(r), a)) for _, a in columns())]
        for r in rows
    ]
    return [header, *body]


def write_csv(period: Period, path: Path, *, trend: bool = True) -> Path:
    """The period's trend rows (or its totals) as UTF-8 CSV with a BOM for spreadsheets."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows(csv_rows(period.trend if trend else period.totals))
    except OSError as exc:
        raise DispatcherError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def fleet_by_day(period: Period) -> list[PeriodFigures]:
    """The fleet's figures per day of the trend (groups added together)."""
    days: dict[date, list[PeriodRow]] = {}
    for row in period.trend:
        days.setdefault(row.bucket, []).append(row)
    return [sum_rows(rows, day) for day, rows in sorted(days.items())]


def svg_chart(title: str, points: Sequence[tuple[str, float | None]], width: int = 460) -> str:
    """A bar chart as inline SVG; a missing value leaves a gap."""
    height, pad, top = 180, 34, 24
    known = [v for _, v in points if v is not None]
    high = max(known, default=0.0) or 1.0
    n = max(len(points), 1)
    slot = (width - 2 * pad) / n
    bars = []
    for i, (label, v) in enumerate(points):
        x = pad + i * slot
        if v is not None:
            h = (height - top - pad) * max(v, 0.0) / high
            bars.append(
                f'<rect x="{x + slot * 0.15:.1f}" y="{height - pad - h:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="#3b82f6">'
                f"<title>{html.escape(label)}: {v:.2f}</title></rect>"
            )
        if n <= 12 or i % max(n // 8, 1) == 0:
            bars.append(
                f'<text x="{x + slot / 2:.1f}" y="{height - pad + 14}" font-size="10" '
                f'text-anchor="middle">{html.escape(label)}</text>'
            )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">'
        f'<text x="{pad}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>'
        f'<text x="{width - pad}" y="16" font-size="10" text-anchor="end">max {high:.2f}</text>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        f'stroke="#888"/>{"".join(bars)}</svg>'
    )


def render_html(period: Period, title: str = "Dispatcher KPI report") -> str:
    """The whole report as one HTML document."""
    days = fleet_by_day(period)
    charts = "".join(
        svg_chart(name, [(f.row.bucket.strftime("%d.%m"), value(f, attr)) for f in days])
        for name, attr in CHARTS
    )
    heads = "".join(f"<th>{html.escape(h)}</th>" for h, _ in columns())
    body = "".join(
        f"<tr><td>{html.escape(r.key or 'fleet')}</td>"
        + "".join(f"<td>{_fmt(value(PeriodFigures(r), a))}</td>" for _, a in columns())
        + "</tr>"
        for r in period.totals
    )
    total = period.fleet_total()
    foot = ""
    if total is not None and period.dimension != "fleet":
        foot = (
            "<tr class='total'><td>all</td>"
            + "".join(f"<td>{_fmt(value(total, a))}</td>" for _, a in columns())
            + "</tr>"
        )
    span = f"{period.start.isoformat()} – {period.end.isoformat()}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} {span}</title>
<style>
body{{font-family:sans-serif;margin:1.5em;color:#222}}
table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}
tr.total td{{font-weight:bold}}
.charts svg{{margin:0 1em 1em 0;border:1px solid #eee}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(period.kind.capitalize())} {span}, by {html.escape(period.dimension)}.
Emission factors: {html.escape(FACTOR_SOURCE)} unless a vehicle type says otherwise.
Definitions: docs/kpi.md.</p>
<div class="charts">{charts}</div>
<table><thead><tr><th>{html.escape(period.dimension)}</th>{heads}</tr></thead>
<tbody>{body}{foot}</tbody></table>
</body></html>
"""


def write_html(period: Period, path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(period), encoding="utf-8")
    except OSError as exc:
        raise DispatcherError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
