"""Small pyqtgraph helpers shared by the KPI charts and the timeline: a clock axis, colours."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import pyqtgraph as pg

from dispatcher import display
from dispatcher.planning.model import from_plan_seconds

#: Tick steps (seconds) the clock axis picks from: whole minutes and hours only.
_STEPS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
#: Minimum distance in pixels between two labelled ticks.
_MIN_PX = 70.0

ON_TIME = (46, 160, 67)
LATE = (220, 50, 47)
AT_RISK = (230, 150, 20)
PLANNED = (140, 140, 150)
PREDICTED = (60, 130, 220)
HIGHLIGHT = (255, 215, 0)


class ClockAxis(pg.AxisItem):  # type: ignore[misc]  # pyqtgraph is untyped: base is Any
    """An axis whose values are a time of day; labels read ``HH:MM``.

    Args:
        scale_s: Seconds per axis unit (1 for plan seconds, 3600 for hours).

    :attr:`origin` set (the plan's local midnight) labels values as plan seconds of that day
    (:func:`~dispatcher.planning.model.from_plan_seconds`); unset, as seconds of the day.
    """

    def __init__(self, orientation: str = "bottom", scale_s: float = 1.0, **kw: Any) -> None:
        super().__init__(orientation, **kw)
        self._scale = scale_s
        self.origin: datetime | None = None

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        span_s = max((maxVal - minVal) * self._scale, 1.0)
        per_px = span_s / max(size, 1.0)
        major = next((s for s in _STEPS if s / per_px >= _MIN_PX), _STEPS[-1])
        minor = next((s for s in reversed(_STEPS) if s < major), major)
        return [(major / self._scale, 0.0), (minor / self._scale, 0.0)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.origin is not None:
            origin = self.origin
            clock = display.current().clock
            return [clock(from_plan_seconds(v * self._scale, origin)) for v in values]
        return [clock_label(v * self._scale) for v in values]


def clock_label(seconds: float) -> str:
    """``HH:MM`` of a time of day in seconds since midnight (past midnight keeps counting);
    with a locale, its clock (``2:05 PM``)."""
    minutes = round(seconds / 60.0)
    shown = display.current()
    if shown.locale is None:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return shown.clock(time((minutes // 60) % 24, minutes % 60))  # the locale's clock


def brush(rgb: tuple[int, int, int], alpha: int = 255) -> Any:
    return pg.mkBrush(*rgb, alpha)


def pen(rgb: tuple[int, int, int], width: float = 1.0, alpha: int = 255, **kw: Any) -> Any:
    return pg.mkPen((*rgb, alpha), width=width, **kw)
