"""The route timeline as plain data: one row per vehicle, each stop's window and arrivals.

The widget (ui/dispatcher_ui/kpi/timeline.py) only draws this. Times are plan seconds (seconds since
local midnight of the service day). Hit testing lives here too, so "which stop did the click hit"
is tested without a screen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from dispatcher.kpi.definitions import DEFAULT_RULES, KpiRules, Verdict, verdict
from dispatcher.model.kpi import DayRecords, StopRecord, by_vehicle
from dispatcher.planning.model import to_plan_seconds

#: How long before its window end a predicted arrival makes a stop "at risk".
AT_RISK_S = 10 * 60.0


@dataclass(frozen=True, slots=True)
class TimelineStop:
    """One stop on a row; any time may be ``None`` (no window, not planned, not arrived)."""

    stop_id: int
    order_ref: str
    vehicle_id: str
    row: int
    sequence: int | None
    kind: str
    status: str
    customer: str
    window_start: float | None
    window_end: float | None
    planned: float | None
    predicted: float | None
    actual: float | None
    late: bool
    at_risk: bool

    def marks(self) -> tuple[float, ...]:
        """The x positions of the stop's arrival marks."""
        return tuple(t for t in (self.planned, self.predicted, self.actual) if t is not None)

    @property
    def lateness_s(self) -> float:
        """How far the (actual, else predicted) arrival is past the window end."""
        arrival = self.actual if self.actual is not None else self.predicted
        if arrival is None or self.window_end is None:
            return 0.0
        return max(arrival - self.window_end, 0.0)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    vehicle_id: str
    label: str
    row: int
    stops: tuple[TimelineStop, ...]
    breaks: tuple[tuple[float, float], ...] = ()
    """The driver's planned break(s), begin and end in plan seconds."""


@dataclass(frozen=True, slots=True)
class Timeline:
    """Rows top to bottom (row 0 first) and where "now" is."""

    rows: tuple[TimelineRow, ...]
    origin: datetime
    now: float

    def stops(self) -> list[TimelineStop]:
        return [s for r in self.rows for s in r.stops]

    def find(self, stop_id: int) -> TimelineStop | None:
        return next((s for s in self.stops() if s.stop_id == stop_id), None)

    def row_of(self, vehicle_id: str) -> int | None:
        return next((r.row for r in self.rows if r.vehicle_id == vehicle_id), None)

    def span(self) -> tuple[float, float]:
        """Earliest and latest time on the timeline (windows and marks), else a working day."""
        times = [self.now]
        for s in self.stops():
            times += [t for t in (s.window_start, s.window_end) if t is not None]
            times += list(s.marks())
        for r in self.rows:
            times += [t for b in r.breaks for t in b]
        finite = [t for t in times if math.isfinite(t)]
        return (min(finite), max(finite)) if finite else (7 * 3600.0, 19 * 3600.0)

    def hit(self, x: float, y: float, tolerance_s: float) -> TimelineStop | None:
        """The stop under the point ``(x, y)``: the nearest mark within ``tolerance_s`` on that
        row; otherwise the stop whose window band holds ``x`` (the narrowest one)."""
        row = round(y)
        if abs(y - row) > 0.5 or not 0 <= row < len(self.rows):
            return None
        stops = self.rows[row].stops
        near = [(min(abs(t - x) for t in s.marks()), s) for s in stops if s.marks()]
        near = [(d, s) for d, s in near if d <= tolerance_s]
        if near:
            return min(near, key=lambda pair: pair[0])[1]
        inside = [
            s
            for s in stops
            if s.window_start is not None
            and s.window_end is not None
            and s.window_start <= x <= s.window_end
        ]
        return min(inside, key=_band_width, default=None)


def _band_width(stop: TimelineStop) -> float:
    assert stop.window_start is not None and stop.window_end is not None
    return stop.window_end - stop.window_start


def build_timeline(
    records: DayRecords,
    now: datetime,
    predicted: Mapping[int, datetime] | None = None,
    rules: KpiRules = DEFAULT_RULES,
    breaks: Mapping[str, tuple[datetime, datetime]] | None = None,
) -> Timeline:
    """Rows for every vehicle with stops, in the order of ``records.vehicles`` then by id.

    ``predicted`` comes from :func:`dispatcher.kpi.schedule.predicted_arrivals`; a stop
    without a prediction that has not been reached shows its planned arrival as predicted.
    ``breaks`` (:func:`dispatcher.kpi.schedule.planned_breaks`) puts each driver's break on
    its row.
    """
    breaks = breaks or {}
    predicted = predicted or {}
    origin = records.midnight()
    names = {v.id: v.name for v in records.vehicles}
    order = {v.id: i for i, v in enumerate(records.vehicles)}
    groups = by_vehicle(records.stops)
    rows = []
    for index, vehicle_id in enumerate(sorted(groups, key=lambda v: (order.get(v, 1 << 30), v))):
        stops = tuple(
            _stop(s, index, origin, now, predicted.get(s.id), rules) for s in groups[vehicle_id]
        )
        label = names.get(vehicle_id, vehicle_id)
        spans: tuple[tuple[float, float], ...] = ()
        if vehicle_id in breaks:
            begin, end = breaks[vehicle_id]
            spans = ((to_plan_seconds(begin, origin), to_plan_seconds(end, origin)),)
        rows.append(TimelineRow(vehicle_id, label, index, stops, spans))
    return Timeline(tuple(rows), origin, to_plan_seconds(now, origin))


def _stop(
    stop: StopRecord,
    row: int,
    origin: datetime,
    now: datetime,
    predicted: datetime | None,
    rules: KpiRules,
) -> TimelineStop:
    reached = stop.arrival is not None or stop.is_final
    if predicted is None and not reached:
        predicted = stop.planned_arrival
    judged = verdict(stop, now, rules)
    late = judged in (Verdict.LATE, Verdict.OVERDUE)
    at_risk = False
    if not reached and stop.window_end is not None and predicted is not None:
        slack = (stop.window_end - predicted).total_seconds() + rules.grace_s
        late = late or slack < 0
        at_risk = not late and slack < AT_RISK_S
    return TimelineStop(
        stop_id=stop.id,
        order_ref=stop.order_ref,
        vehicle_id=stop.vehicle_id or "",
        row=row,
        sequence=stop.sequence,
        kind=stop.kind,
        status=stop.status,
        customer=stop.customer,
        window_start=_seconds(stop.window_start, origin),
        window_end=_seconds(stop.window_end, origin),
        planned=_seconds(stop.planned_arrival, origin),
        predicted=None if reached else _seconds(predicted, origin),
        actual=_seconds(stop.arrival, origin),
        late=late,
        at_risk=at_risk,
    )


def _seconds(when: datetime | None, origin: datetime) -> float | None:
    return None if when is None else to_plan_seconds(when, origin)
