"""The KPI dock's body: headline figures and four charts for the chosen scope (pyqtgraph).

It draws a :class:`dispatcher.kpi.report.KpiReport` and computes nothing itself: the report
comes from :func:`dispatcher.kpi.report.compute_report` over the latest snapshot (cheap, so a
scope change redraws at once without touching the database).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from dispatcher import display
from dispatcher.alerts.stats import DurationStats
from dispatcher.kpi.definitions import Ratio
from dispatcher.kpi.report import DurationSummary, KpiReport, compute_report
from dispatcher.kpi.rollup import summarize
from dispatcher.kpi.snapshot import KpiSnapshot
from dispatcher.model.kpi import FLEET, Scope, ScopeKind, scope_day, scopes_of
from dispatcher_ui.kpi.charts import LATE, ON_TIME, PLANNED, PREDICTED, ClockAxis, brush, pen
from dispatcher_ui.kpi.feed import KpiFeed

#: (key, caption, what it means) of each headline card, in display order.
CARDS = (
    ("on_time", "On time", "First arrival at or before the window end, of the stops arrived."),
    ("first_attempt", "First attempt", "Done at the first attempt, of the stops attempted."),
    ("otif", "OTIF", "On time and done at the first attempt, of the finished stops."),
    ("done", "Done / planned", "Stops done, of all stops of the day."),
    ("late", "Late", "Arrived after the window, or window passed without arrival."),
    ("open", "Open exceptions", "Exceptions not resolved or dismissed."),
    ("tta", "Avg to acknowledge", "Mean time from an exception to a person's first action."),
    ("ttr", "Avg to resolve", "Mean time from an exception to a person resolving it."),
    (
        "rating",
        "Customer rating",
        "Mean rating (1-5) customers gave on the tracking page after delivery; responses below.",
    ),
)


class _Card(QFrame):
    """One headline figure: a big value over a small caption."""

    def __init__(self, caption: str, meaning: str) -> None:
        super().__init__()
        self.setObjectName("kpiCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.value = QLabel("—")
        self.value.setObjectName("kpiValue")
        self.value.setStyleSheet("font-size: 20px; font-weight: 600;")
        self.detail = QLabel(caption)
        self.detail.setObjectName("kpiCaption")
        self.setToolTip(meaning)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(0)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        self.caption = caption

    def show_value(self, value: str, detail: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(f"{self.caption} · {detail}" if detail else self.caption)


#: Two rows of cards: a third row would raise the dock's minimum height, and the bottom area
#: it shares with the exception queue would take it from the route boards (1366 × 768).
CARDS_PER_ROW = 5

COSTS_TIP = (
    "Planned vs actual distance, route cost and CO2e of the routes in scope "
    '(docs/kpi.md, "Cost and emissions"); refreshed every minute'
)


class KpiPanel(QWidget):
    """Scope selector, headline cards and the charts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.snapshot: KpiSnapshot | None = None
        #: The feed that loads the day (set by ``install``; the timeline shares it).
        self.feed: KpiFeed | None = None
        self.report: KpiReport | None = None
        self.scope_box = QComboBox()
        self.scope_box.setObjectName("kpiScope")
        self.scope_box.setToolTip("Figures for the whole fleet, one route or one driver")
        self.scope_box.addItem(FLEET.label, FLEET)
        self.scope_box.currentIndexChanged.connect(self._scope_changed)
        self.status = QLabel("Loading the day…")
        self.status.setObjectName("kpiStatus")
        self.cards = {key: _Card(caption, meaning) for key, caption, meaning in CARDS}
        self.costs = QLabel("")
        self.costs.setObjectName("kpiCosts")
        self.costs.setToolTip(COSTS_TIP)
        self._build_layout()

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.scope_box, 1)
        top.addWidget(self.status, 2)
        # On the scope's row, not a row of its own: the dock shares the bottom area with the
        # exception queue, whose height a taller minimum would take from the route boards.
        # Ignored width: a long line is cut, never widens the dock (the tooltip has it all).
        self.costs.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top.addWidget(self.costs, 3)
        cards = QGridLayout()
        for i, card in enumerate(self.cards.values()):
            cards.addWidget(card, i // CARDS_PER_ROW, i % CARDS_PER_ROW)
        self.progress_plot = _plot("Stops done vs planned", ClockAxis("bottom", scale_s=3600))
        self.late_plot = _plot("Late stops by hour (window end)", ClockAxis("bottom", scale_s=3600))
        self.age_plot = _plot("Open exceptions by age", None)
        self.times_plot = _plot("Minutes to acknowledge / resolve, by kind", None)
        self.times_plot.addLegend(offset=(-10, 10))
        charts = QGridLayout()
        for i, plot in enumerate(
            (self.progress_plot, self.late_plot, self.age_plot, self.times_plot)
        ):
            charts.addWidget(plot, i // 2, i % 2)
        self._build_chart_items()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(cards)
        layout.addLayout(charts, 1)

    # --- data -----------------------------------------------------------------------------
    @property
    def scope(self) -> Scope:
        data = self.scope_box.currentData()
        return data if isinstance(data, Scope) else FLEET

    def show_snapshot(self, snapshot: KpiSnapshot) -> None:
        """A fresh snapshot from the feed: refresh the scope list, then redraw."""
        self.snapshot = snapshot
        self._fill_scopes(list(snapshot.scopes) or scopes_of(snapshot.records))
        local = snapshot.now.astimezone(snapshot.records.tz)
        shown = display.current()
        self.status.setText(f"{shown.day(snapshot.records.day)} · as of {shown.clock(local, True)}")
        self.redraw()

    def show_error(self, message: str) -> None:
        self.status.setText(message)

    def select_scope(self, scope: Scope) -> bool:
        """Show ``scope`` if the day has it; returns whether it was found."""
        for i in range(self.scope_box.count()):
            if self.scope_box.itemData(i) == scope:
                self.scope_box.setCurrentIndex(i)
                return True
        return False

    def _fill_scopes(self, scopes: list[Scope]) -> None:
        current = [self.scope_box.itemData(i) for i in range(self.scope_box.count())]
        if current == scopes:
            return
        chosen = self.scope
        self.scope_box.blockSignals(True)
        self.scope_box.clear()
        for scope in scopes:
            self.scope_box.addItem(scope.label, scope)
        index = scopes.index(chosen) if chosen in scopes else 0
        self.scope_box.setCurrentIndex(index)
        self.scope_box.blockSignals(False)

    def _scope_changed(self, _index: int) -> None:
        self.redraw()

    def redraw(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        if snapshot.report is not None and snapshot.report_scope == self.scope:
            self.report = snapshot.report  # computed in the feed's worker
        else:  # the dispatcher chose another scope: one report, until the next load
            self.report = compute_report(snapshot.records, snapshot.now, self.scope)
        self._draw_cards(self.report)
        self._draw_progress(self.report)
        self._draw_late(self.report)
        self._draw_ages(self.report)
        self._draw_times(self.report)
        self._draw_costs()

    def _draw_costs(self) -> None:
        snapshot, scope = self.snapshot, self.scope
        if snapshot is None or not snapshot.routes:
            self.costs.setText("Cost and CO2e: computing…" if snapshot else "")
            return
        summary = summarize(
            snapshot.routes,
            vehicle_id=scope.key if scope.kind is ScopeKind.ROUTE else None,
            driver_id=scope.key if scope.kind is ScopeKind.DRIVER else None,
        )
        text = "" if summary is None else summary.text()
        self.costs.setText(text)
        self.costs.setToolTip(f"{text}\n\n{COSTS_TIP}" if text else COSTS_TIP)

    def _draw_cards(self, report: KpiReport) -> None:
        h = report.headline
        for key, ratio in (
            ("on_time", h.on_time),
            ("first_attempt", h.first_attempt),
            ("otif", h.otif),
        ):
            self.cards[key].show_value(_percent(ratio), f"{ratio.hits}/{ratio.total}")
        self.cards["done"].show_value(f"{h.done} / {h.planned}")
        self.cards["late"].show_value(str(h.late))
        self.cards["open"].show_value(str(h.open_exceptions))
        self.cards["tta"].show_value(_minutes(h.time_to_acknowledge), _count(h.time_to_acknowledge))
        self.cards["ttr"].show_value(_minutes(h.time_to_resolve), _count(h.time_to_resolve))
        self._draw_rating()

    def _draw_rating(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        if snapshot.report_scope == self.scope:
            value, count = snapshot.rating
        else:
            ids = {s.id for s in scope_day(snapshot.records, self.scope).stops}
            given = [r for stop, r in snapshot.ratings.items() if stop in ids]
            value, count = (sum(given) / len(given) if given else None, len(given))
        mean = f"{value:.1f} / 5" if value is not None else "—"
        self.cards["rating"].show_value(mean, f"{count} responses")

    def _build_chart_items(self) -> None:
        """Items created once and updated in place: fewer scene changes on every refresh."""
        self.planned_line = self.progress_plot.plot(
            [], [], pen=pen(PLANNED, 2, style=Qt.PenStyle.DashLine), name="planned"
        )
        self.done_line = self.progress_plot.plot([], [], pen=pen(ON_TIME, 2), name="done")
        self.progress_now = pg.InfiniteLine(0.0, angle=90, pen=pen((200, 60, 200), 1))
        self.progress_plot.addItem(self.progress_now)
        self.late_bars = _bars(LATE)
        self.late_plot.addItem(self.late_bars)
        self.age_bars = _bars((230, 150, 20))
        self.age_plot.addItem(self.age_bars)
        self.ack_bars = _bars(PREDICTED, name="acknowledge")
        self.resolve_bars = _bars(ON_TIME, name="resolve")
        self.times_plot.addItem(self.ack_bars)
        self.times_plot.addItem(self.resolve_bars)

    def _draw_progress(self, report: KpiReport) -> None:
        planned, done = report.planned_curve, report.done_curve
        self.planned_line.setData(planned.x, planned.y)
        self.done_line.setData(done.x, done.y)
        if done.x:
            self.progress_now.setValue(done.x[-1])

    def _draw_late(self, report: KpiReport) -> None:
        hours = list(report.late_by_hour)
        xs = np.array(hours, dtype=float) + 0.5
        ys = np.array([report.late_by_hour[h] for h in hours], dtype=float)
        self.late_bars.setOpts(x=xs, height=ys, width=0.8)
        lo, hi = _hour_range(report)
        if self.late_plot.viewRange()[0] != [lo, hi]:
            self.late_plot.setXRange(lo, hi, padding=0)

    def _draw_ages(self, report: KpiReport) -> None:
        labels = [label for label, _ in report.open_by_age]
        counts = np.array([n for _, n in report.open_by_age], dtype=float)
        self.age_bars.setOpts(x=np.arange(len(labels), dtype=float), height=counts, width=0.7)
        self._set_ticks(self.age_plot, labels)

    def _draw_times(self, report: KpiReport) -> None:
        kinds = sorted(set(report.ack_by_kind) | set(report.resolve_by_kind))
        xs = np.arange(len(kinds), dtype=float)
        for offset, table, bars in (
            (-0.2, report.ack_by_kind, self.ack_bars),
            (0.2, report.resolve_by_kind, self.resolve_bars),
        ):
            heights = np.array([_mean_min(table, k) for k in kinds], dtype=float)
            bars.setOpts(x=xs + offset, height=heights, width=0.38)
        self._set_ticks(self.times_plot, [k.replace("_", " ") for k in kinds])
        title = "Minutes to acknowledge / resolve, by kind"
        self.times_plot.setTitle(title if kinds else f"{title} — none handled yet", size="9pt")

    def _set_ticks(self, plot: pg.PlotWidget, labels: list[str]) -> None:
        if plot.property("tickLabels") != labels:
            plot.getAxis("bottom").setTicks([list(enumerate(labels))])
            plot.setProperty("tickLabels", labels)


def _bars(colour: tuple[int, int, int], name: str | None = None) -> pg.BarGraphItem:
    return pg.BarGraphItem(
        x=np.zeros(0), height=np.zeros(0), width=0.8, brush=brush(colour, 200), name=name
    )


def _plot(title: str, axis: pg.AxisItem | None) -> pg.PlotWidget:
    plot = pg.PlotWidget(axisItems={"bottom": axis} if axis is not None else None)
    plot.setTitle(title, size="9pt")
    plot.setMouseEnabled(x=True, y=False)
    plot.showGrid(x=False, y=True, alpha=0.2)
    plot.setMinimumHeight(64)  # small enough for a 768-pixel screen to keep room above
    return plot


def _percent(ratio: Ratio) -> str:
    return "—" if ratio.percent is None else f"{ratio.percent:.0f} %"


def _minutes(d: DurationSummary) -> str:
    return "—" if not d.count else f"{d.mean_s / 60:.1f} min"


def _count(d: DurationSummary) -> str:
    return f"{d.count} handled" if d.count else "none yet"


def _mean_min(table: Mapping[str, DurationStats], kind: str) -> float:
    d = table.get(kind)
    return d.mean_s / 60.0 if d is not None else 0.0


def _hour_range(report: KpiReport) -> tuple[float, float]:
    xs = report.planned_curve.x
    if not xs:
        return 7.0, 19.0
    return float(int(min(xs))), float(int(max(xs)) + 1)
