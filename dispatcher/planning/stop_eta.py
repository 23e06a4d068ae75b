"""The ETA of every stop of the day, as the route boards show it — for every other view.

The boards evaluate the whole day (:func:`~dispatcher.planning.evaluate.evaluate_plan`, the
vehicles placed at their live positions). The map used to run its own straight-line guess and
could say "ETA 00:27" for a stop its board showed at 08:12. Now the board's evaluation is
turned into one table here, announced with :class:`StopEtasChanged`, and the map draws what
the board shows: done and in-progress stops at the arrival the driver reported, open stops at
the evaluator's predicted arrival.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from dispatcher import display
from dispatcher.planning.dayplan import DayPlan
from dispatcher.planning.evaluate import PlanEvaluation


@dataclass(frozen=True, slots=True)
class StopEta:
    """When a stop is (or was) reached.

    Attributes:
        arrival: Predicted arrival of an open stop, or the reported arrival of a done / in
            progress one; None when a done stop's arrival was never reported.
        late_s: Seconds past the window's end the prediction arrives (0: on time).
        actual: True when ``arrival`` is what the driver reported, not a prediction.
    """

    arrival: datetime | None
    late_s: float = 0.0
    actual: bool = False

    def clock_text(self) -> str:
        """``14:05`` / ``2:05 PM`` (:mod:`dispatcher.display`) in the arrival's own (the
        fleet's) time zone, or "" when unknown."""
        return "" if self.arrival is None else display.current().clock(self.arrival)


@dataclass(frozen=True, slots=True)
class StopEtasChanged:
    """The route boards re-evaluated the day (an edit, live positions, drivers' progress).

    Attributes:
        etas: Every assigned stop's ETA, by database stop id.
    """

    etas: Mapping[int, StopEta] = field(default_factory=dict)


def stop_etas(
    day: DayPlan, evaluation: PlanEvaluation, vehicles: Iterable[str] | None = None
) -> dict[str, StopEta]:
    """Every assigned stop's ETA by plan stop id, local to the day's time zone; only the
    stops of ``vehicles``' routes when given (a driver's progress changed only those)."""
    tz = day.origin.tzinfo
    out: dict[str, StopEta] = {}
    routes = day.plan.routes
    chosen = routes.items() if vehicles is None else ((v, routes[v]) for v in vehicles)
    for vid, route in chosen:
        ev = evaluation.routes.get(vid)
        row = {} if ev is None else {s: i for i, s in enumerate(ev.stop_ids)}
        for sid in route:
            if day.plan.stops[sid].is_fixed:
                when = day.stops[sid].actual_arrival
                out[sid] = StopEta(None if when is None else when.astimezone(tz), actual=True)
            elif ev is not None and sid in row:
                i = row[sid]
                out[sid] = StopEta(day.clock_time(float(ev.arrival[i])), float(ev.lateness[i]))
    return out


def by_stop_id(etas: Mapping[str, StopEta]) -> dict[int, StopEta]:
    """The same table keyed by database stop id (plan ids are their decimal text)."""
    return {int(sid): eta for sid, eta in etas.items() if sid.isdigit()}
