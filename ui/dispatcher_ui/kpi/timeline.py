"""The route timeline widget: one row per vehicle against the clock (pyqtgraph).

It draws a :class:`dispatcher.kpi.timeline.Timeline` and nothing more: each stop's time
window as a band, its planned (grey tick), predicted (hollow diamond) and actual (dot)
arrival, late stops in red with a line from the window end to the arrival, at-risk ones in
amber, and a "now" line. A click on a stop selects it in the app's one selection; a selection
made elsewhere highlights the stop and its row here. Wheel zooms, drag pans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from dispatcher.kpi.snapshot import KpiSnapshot
from dispatcher.kpi.timeline import Timeline, TimelineStop, build_timeline
from dispatcher_ui.kpi.charts import (
    AT_RISK,
    HIGHLIGHT,
    LATE,
    ON_TIME,
    PLANNED,
    PREDICTED,
    ClockAxis,
    brush,
    clock_label,
    pen,
)
from dispatcher_ui.selection import Selection, SelectionModel

#: Pixels around a mark that still hit it.
HIT_PX = 7.0
BAND_HEIGHT = 0.56
BREAK_HEIGHT = 0.8
BREAK = (90, 90, 100)
SOURCE = "timeline"
#: (field of TimelineStop, symbol, size, filled) of each arrival mark.
MARKS = (
    ("planned", "|", 12, True),
    ("predicted", "d", 10, False),
    ("actual", "o", 9, True),
)

LEGEND = (
    "<span style='color:#7aa7e0'>▬</span> time window · "
    "<span style='color:#8c8c96'>|</span> planned · ◇ predicted · ● actual · "
    "<span style='color:#dc322f'>red</span> late · "
    "<span style='color:#e69614'>amber</span> at risk · "
    "<span style='color:#5a5a64'>▬</span> driver's break — click a stop to select it; "
    "wheel zooms, drag pans"
)


class TimelineView(QWidget):
    """The timeline dock's body; feed it with :meth:`show_snapshot` or :meth:`set_timeline`."""

    def __init__(self, selection: SelectionModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.selection = selection
        self.timeline: Timeline | None = None
        #: A snapshot that came while the view was hidden: drawn when it is shown.
        self.waiting: KpiSnapshot | None = None
        #: Whether the dock's tab is the one in front (:meth:`set_in_front`): a tabbed dock
        #: behind another stays "visible" to Qt, moved out of sight.
        self.in_front = True
        self.axis = ClockAxis("bottom")
        self.plot = pg.PlotWidget(axisItems={"bottom": self.axis})
        self.plot.setObjectName("timelinePlot")
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.view_box = self.plot.getViewBox()
        self.view_box.invertY(True)
        # The ranges are set by fit() and the user's zoom: never by the items' bounds, which
        # pyqtgraph would otherwise compute again over every mark each time the now line moves.
        self.view_box.disableAutoRange()
        self.view_box.setMouseEnabled(x=True, y=True)
        self.plot.getAxis("left").setWidth(90)
        self._fitted = False
        self._drawn: TimelineArrays | None = None
        self.bands = _band_item(PREDICTED, 45)
        self.late_bands = _band_item(LATE, 80)
        self.late_lines = pg.PlotDataItem([], [], connect="pairs", pen=pen(LATE, 2))
        #: The drivers' planned breaks: a dark bar under the row's windows.
        self.breaks = pg.BarGraphItem(
            x0=[], x1=[], y=[], height=BREAK_HEIGHT, pen=pen(BREAK, 1), brush=brush(BREAK, 170)
        )
        self.breaks.setZValue(-5)
        self.plot.addItem(self.breaks)
        #: One scatter item per (mark, colour): uniform pens draw fast, per-point pens do not.
        self.marks: dict[tuple[str, tuple[int, int, int]], pg.ScatterPlotItem] = {}
        for mark, symbol, size, filled in MARKS:
            colours = (PLANNED,) if mark == "planned" else (ON_TIME, AT_RISK, LATE)
            for colour in colours:
                self.marks[mark, colour] = _marks(symbol, size, colour, filled=filled)
        for item in (self.bands, self.late_bands, self.late_lines, *self.marks.values()):
            self.plot.addItem(item)
        self.now_line = pg.InfiniteLine(angle=90, movable=False, pen=pen((200, 60, 200), 2))
        self.now_line.setZValue(20)
        self.row_band = pg.LinearRegionItem(
            orientation="horizontal",
            movable=False,
            brush=brush(HIGHLIGHT, 40),
            pen=pen(HIGHLIGHT, 0, 0),
        )
        self.row_band.setZValue(-10)
        self.row_band.hide()
        self.ring = pg.ScatterPlotItem(
            size=18, symbol="o", pen=pen(HIGHLIGHT, 3), brush=pg.mkBrush(None)
        )
        self.ring.setZValue(30)
        self.selected_band = pg.BarGraphItem(
            x0=[0.0],
            x1=[0.0],
            y=[0.0],
            height=BAND_HEIGHT,
            pen=pen(HIGHLIGHT, 2),
            brush=brush(HIGHLIGHT, 60),
        )
        self.selected_band.setZValue(5)
        self.selected_band.hide()
        for item in (self.now_line, self.row_band, self.ring, self.selected_band):
            self.plot.addItem(item)
        legend = QLabel(LEGEND)
        legend.setObjectName("timelineLegend")
        legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(legend)
        layout.addWidget(self.plot)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self.plot.scene().sigMouseMoved.connect(self._hovered)
        selection.changed.connect(self._selection_changed)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._draw_waiting()

    def set_in_front(self, in_front: bool) -> None:
        """The dock's ``visibilityChanged``: its tab came to the front or went behind."""
        self.in_front = in_front
        self._draw_waiting()

    def seen(self) -> bool:
        return self.isVisible() and self.in_front

    def _draw_waiting(self) -> None:
        waiting = self.waiting
        if waiting is not None and self.seen():
            self.show_snapshot(waiting)

    # --- data -----------------------------------------------------------------------------
    def show_snapshot(self, snapshot: KpiSnapshot) -> None:
        """Draw ``snapshot``'s timeline, or keep it for when the view is shown.

        The timeline shares its dock area with the KPIs and the exception queue, and the
        feed's load serves them all: drawing 10,000 marks into a hidden plot held the GUI
        thread for a few hundred ms at every load (bench/console.py).
        """
        if not self.seen():
            self.waiting = snapshot
            return
        self.waiting = None
        timeline = snapshot.timeline  # built in the loading worker (KpiFeed)
        if timeline is None:
            timeline = build_timeline(snapshot.records, snapshot.now, snapshot.predicted)
        prepared = snapshot.views.get(SOURCE)
        drawn = prepared if isinstance(prepared, TimelineArrays) else None
        self.set_timeline(timeline, drawn if drawn and drawn.timeline is timeline else None)

    def set_timeline(self, timeline: Timeline, arrays: TimelineArrays | None = None) -> None:
        """Redraw what changed; the user's zoom is kept after the first fit.

        ``arrays`` are the timeline's arrays prepared off the GUI thread (the feed's worker);
        without them they are computed here. Only the items whose arrays differ from the
        ones drawn are updated: pyqtgraph rebuilds a scatter item of 10,000 points at every
        ``setData``, and between two loads most marks do not move.
        """
        previous = self.timeline
        self.timeline = timeline
        self.axis.origin = timeline.origin
        self.set_now(timeline.now)
        if arrays is None:
            if previous is not None and previous.rows == timeline.rows:
                return
            arrays = timeline_arrays(timeline)
        self._apply(arrays)
        if not self._fitted or previous is None or len(previous.rows) != len(timeline.rows):
            self.fit()
        self._selection_changed(self.selection.current)

    def _apply(self, arrays: TimelineArrays) -> None:
        """Hand each persistent item its new arrays, if they changed (a diff, not a rebuild)."""
        old = self._drawn
        self._drawn = arrays
        for name, bars in (("bands", self.bands), ("late_bands", self.late_bands)):
            x0, x1, y = arrays.bars[name]
            if old is None or not _same(old.bars[name], (x0, x1, y)):
                bars.setOpts(x0=x0, x1=x1, y=y)
        if old is None or not _same(old.bars["breaks"], arrays.bars["breaks"]):
            x0, x1, y = arrays.bars["breaks"]
            self.breaks.setOpts(x0=x0, x1=x1, y=y)
        if old is None or not _same(old.late_lines, arrays.late_lines):
            self.late_lines.setData(*arrays.late_lines)
        for key, item in self.marks.items():
            xs, ys = arrays.marks[key]
            if old is None or not _same(old.marks[key], (xs, ys)):
                item.setData(xs, ys)
        if old is None or old.ticks != arrays.ticks:
            self.plot.getAxis("left").setTicks([arrays.ticks])

    def mark_count(self, mark: str) -> int:
        """How many ``planned``/``predicted``/``actual`` marks are drawn."""
        return sum(len(item.data) for (m, _), item in self.marks.items() if m == mark)

    def set_now(self, seconds: float) -> None:
        """Move the "now" line (seconds since local midnight of the service day).

        Only when it moves by a pixel or more: each move repaints the plot, 10,000 marks at
        500 vehicles, and the window's tick asks five times a second (bench/console.py).
        """
        pixel = abs(self.view_box.viewPixelSize()[0]) if self._fitted else 0.0
        if abs(seconds - float(self.now_line.value())) >= pixel:
            self.now_line.setValue(seconds)

    def fit(self) -> None:
        """Show the whole day and every row."""
        if self.timeline is None:
            return
        lo, hi = self.timeline.span()
        margin = max((hi - lo) * 0.02, 300.0)
        rows = max(len(self.timeline.rows), 1)
        self.view_box.setRange(
            xRange=(lo - margin, hi + margin), yRange=(-0.6, rows - 0.4), padding=0
        )
        self._fitted = True

    # --- selection --------------------------------------------------------------------------
    def stop_at(self, scene_pos: QPointF) -> TimelineStop | None:
        """The stop under a point of the scene (what a click there selects)."""
        if self.timeline is None or not self.view_box.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.view_box.mapSceneToView(scene_pos)
        tolerance = abs(self.view_box.viewPixelSize()[0]) * HIT_PX
        return self.timeline.hit(point.x(), point.y(), tolerance)

    def scene_pos_of(self, x: float, row: float) -> QPointF:
        """Where the view point ``(x, row)`` is in the scene (tests click there)."""
        return QPointF(self.view_box.mapViewToScene(QPointF(x, row)))

    def _clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        stop = self.stop_at(event.scenePos())
        if stop is None:
            return
        event.accept()
        self.selection.select_stop(stop.stop_id, stop.vehicle_id, source=SOURCE)

    def _hovered(self, scene_pos: QPointF) -> None:
        stop = self.stop_at(scene_pos)
        self.plot.setToolTip(_tooltip(stop) if stop else "")

    def _selection_changed(self, selection: Selection) -> None:
        timeline = self.timeline
        stop = timeline.find(selection.stop_id) if timeline and selection.stop_id else None
        vehicle = stop.vehicle_id if stop else selection.vehicle_id
        row = timeline.row_of(vehicle) if timeline and vehicle else None
        if row is None:
            self.row_band.hide()
        else:
            self.row_band.setRegion((row - 0.5, row + 0.5))
            self.row_band.show()
        if stop is None:
            self.ring.setData([], [])
            self.selected_band.hide()
            return
        marks = stop.marks()
        self.ring.setData(list(marks), [stop.row] * len(marks))
        if stop.window_start is not None and stop.window_end is not None:
            self.selected_band.setOpts(x0=[stop.window_start], x1=[stop.window_end], y=[stop.row])
            self.selected_band.show()
        else:
            self.selected_band.hide()
        if selection.source != SOURCE:
            self._reveal(stop)

    def _reveal(self, stop: TimelineStop) -> None:
        """Pan (without zooming) so a stop selected elsewhere is on screen."""
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        xs = [*stop.marks(), *(t for t in (stop.window_start, stop.window_end) if t is not None)]
        if not xs:
            return
        x = sum(xs) / len(xs)
        if not x0 <= x <= x1:
            half = (x1 - x0) / 2
            self.view_box.setXRange(x - half, x + half, padding=0)
        if not y0 <= stop.row <= y1:
            half = (y1 - y0) / 2
            self.view_box.setYRange(stop.row - half, stop.row + half, padding=0)

    def selected_stop_id(self) -> int | None:
        """The stop the highlight ring is on (``None`` when nothing is highlighted)."""
        sel = self.selection.current.stop_id
        if self.timeline is None or sel is None or self.timeline.find(sel) is None:
            return None
        return sel


@dataclass(frozen=True, slots=True, eq=False)
class TimelineArrays:
    """What the timeline's items draw, as arrays: computed from a :class:`Timeline` by
    :func:`timeline_arrays`, which touches no Qt object (it runs in the KPI feed's worker)."""

    timeline: Timeline
    #: "bands", "late_bands", "breaks": (x0, x1, y).
    bars: dict[str, tuple[Any, Any, Any]] = field(default_factory=dict)
    late_lines: tuple[Any, Any] = (np.zeros(0), np.zeros(0))
    #: By (mark, colour) as :attr:`TimelineView.marks`: (xs, ys).
    marks: dict[tuple[str, tuple[int, int, int]], tuple[Any, Any]] = field(default_factory=dict)
    #: The rows' labels on the left axis.
    ticks: list[tuple[int, str]] = field(default_factory=list)


def timeline_arrays(timeline: Timeline) -> TimelineArrays:
    """The arrays of every item of the timeline (pure; no Qt)."""
    stops = timeline.stops()
    bars: dict[str, tuple[Any, Any, Any]] = {}
    for late, key in ((False, "bands"), (True, "late_bands")):
        chosen = [
            s
            for s in stops
            if s.window_start is not None and s.window_end is not None and s.late == late
        ]
        bars[key] = (
            np.array([s.window_start for s in chosen], dtype=float),
            np.array([s.window_end for s in chosen], dtype=float),
            np.array([s.row for s in chosen], dtype=float),
        )
    spans = [(b, r.row) for r in timeline.rows for b in r.breaks]
    bars["breaks"] = (
        np.array([b[0] for b, _ in spans], dtype=float),
        np.array([b[1] for b, _ in spans], dtype=float),
        np.array([row for _, row in spans], dtype=float),
    )
    marks: dict[tuple[str, tuple[int, int, int]], tuple[Any, Any]] = {}
    for mark, _symbol, _size, _filled in MARKS:
        colours = (PLANNED,) if mark == "planned" else (ON_TIME, AT_RISK, LATE)
        for colour in colours:
            xs, ys = [], []
            for s in stops:
                x = getattr(s, mark)
                if x is not None and (mark == "planned" or _colour(s) == colour):
                    xs.append(x)
                    ys.append(s.row)
            marks[mark, colour] = (np.array(xs, dtype=float), np.array(ys, dtype=float))
    return TimelineArrays(
        timeline,
        bars,
        _lateness_segments(stops),
        marks,
        [(r.row, r.label) for r in timeline.rows],
    )


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _colour(stop: TimelineStop) -> tuple[int, int, int]:
    if stop.late:
        return LATE
    return AT_RISK if stop.at_risk else ON_TIME


def _band_item(colour: tuple[int, int, int], alpha: int) -> pg.BarGraphItem:
    empty = np.zeros(0)
    return pg.BarGraphItem(
        x0=empty,
        x1=empty,
        y=empty,
        height=BAND_HEIGHT,
        pen=pen(colour, 1, 110),
        brush=brush(colour, alpha),
    )


def _marks(
    symbol: str, size: float, colour: tuple[int, int, int], *, filled: bool
) -> pg.ScatterPlotItem:
    """A scatter item for one kind of mark in one colour."""
    item = pg.ScatterPlotItem(
        symbol=symbol,
        size=size,
        pen=pen(colour, 2),
        brush=brush(colour) if filled else pg.mkBrush(None),
    )
    item.setZValue(10)
    return item


def _lateness_segments(stops: list[TimelineStop]) -> tuple[Any, Any]:
    """Pairs of points from each late stop's window end to its (actual, else predicted)
    arrival, drawn as red lines."""
    xs: list[float] = []
    ys: list[float] = []
    for s in stops:
        arrival = s.actual if s.actual is not None else s.predicted
        if s.late and s.window_end is not None and arrival is not None and arrival > s.window_end:
            xs += [s.window_end, arrival]
            ys += [s.row, s.row]
    return np.array(xs, dtype=float), np.array(ys, dtype=float)


def _tooltip(stop: TimelineStop) -> str:
    def t(v: float | None) -> str:
        return clock_label(v) if v is not None else "—"

    window = f"{t(stop.window_start)}–{t(stop.window_end)}" if stop.window_end else "none"
    state = "late" if stop.late else "at risk" if stop.at_risk else stop.status
    lines = [
        f"{stop.order_ref} · {stop.customer}" if stop.customer else stop.order_ref,
        f"{stop.kind}, stop {stop.sequence or '?'} of {stop.vehicle_id} — {state}",
        f"window {window}",
        f"planned {t(stop.planned)} · predicted {t(stop.predicted)} · actual {t(stop.actual)}",
    ]
    if stop.lateness_s:
        lines.append(f"{stop.lateness_s / 60:.0f} min after the window")
    return "\n".join(lines)
