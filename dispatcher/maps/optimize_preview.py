"""What the optimizer preview's map draws: each vehicle's route now and as proposed.

A whole-fleet preview moves a hundred stops at once; a table of totals says how much better
the day gets, not *where* the vans would drive. The preview dialog
(ui/dispatcher_ui/routes/optimize_dialog.py) therefore shows a small map next to its table, drawn
from the payload built here: every vehicle in its own colour (the same colour as its row in the
table), its current and its proposed route, numbered stops, and the stops that move marked — ringed
when they change vehicle, dashed when only their place in the route changes.

The payload is plain data for :func:`dispatcher.maps.jsbridge.to_js`; the page puts every
string into the DOM as text (resources/map/preview.js).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dispatcher.planning.dayplan import DayPlan
from dispatcher.planning.evaluate import PlanEvaluation
from dispatcher.planning.optimize import OptimizationResult

#: Stop marks in a row of ``stops``: where it is after / before, and how it changes.
MOVED_NONE, MOVED_PLACE, MOVED_VEHICLE = 0, 1, 2


def preview_payload(
    day: DayPlan,
    result: OptimizationResult,
    colours: Sequence[str],
    *,
    whole_fleet: bool,
) -> dict[str, Any]:
    """The map payload of ``result`` (a preview of ``day``'s routes).

    Returns ``{"vehicles": [...], "stops": [...], "unassigned": {"before", "after"}}``:

    * a vehicle is ``{"id", "name", "colour", "start", "end", "before", "after", "changes"}``
      with ``before``/``after`` the indexes into ``stops`` of its route in order, ``start``
      ``[lat, lon]`` (its live position or depot) and ``end`` its depot or ``None``;
    * a stop is ``[lat, lon, order ref, customer, address, moved, late after, ETA before,
      ETA after, done]`` with ``moved`` one of :data:`MOVED_NONE`, :data:`MOVED_PLACE`,
      :data:`MOVED_VEHICLE` and the ETAs as ``HH:MM`` (empty when the stop is not planned);
    * the unassigned pool before and after, when the whole fleet was optimized (one route's
      preview does not plan the pool; only the stops it would drop show there).

    Colours are the caller's (the dialog uses the same list for the table's swatches),
    given in the boards' vehicle order and cycled.
    """
    plan = day.plan
    vids = [v for v in plan.routes if v in result.routes]
    index: dict[str, int] = {}
    stops: list[list[Any]] = []
    moved, changed_vehicle = set(result.moved), set(result.changed_vehicle)
    eta_before = _etas(day, result.before)
    eta_after = _etas(day, result.after)
    late_after = _late(result.after)

    def row(sid: str) -> int:
        if sid not in index:
            view, stop = day.stops.get(sid), plan.stops[sid]
            lat, lon = (view.lat, view.lon) if view is not None else stop.location
            mark = MOVED_NONE
            if sid in changed_vehicle:
                mark = MOVED_VEHICLE
            elif sid in moved:
                mark = MOVED_PLACE
            index[sid] = len(stops)
            stops.append(
                [
                    float(lat),
                    float(lon),
                    view.order_ref if view is not None else sid,
                    view.customer_name if view is not None else "",
                    view.address if view is not None else "",
                    mark,
                    int(sid in late_after),
                    eta_before.get(sid, ""),
                    eta_after.get(sid, ""),
                    int(stop.status.is_final),
                ]
            )
        return index[sid]

    vehicles = []
    changes = result.changes_by_vehicle(plan.routes)
    for k, vid in enumerate(vids):
        vehicle, info = plan.vehicles[vid], day.vehicles.get(vid)
        vehicles.append(
            {
                "id": vid,
                "name": info.name if info is not None and info.name else vid,
                "colour": colours[k % len(colours)],
                "start": [float(c) for c in vehicle.start],
                "end": None if vehicle.end is None else [float(c) for c in vehicle.end],
                "before": [row(s) for s in plan.routes[vid]],
                "after": [row(s) for s in result.routes[vid]],
                "changes": changes.get(vid, ""),
            }
        )
    if whole_fleet:
        before, after = list(plan.unassigned), list(result.unassigned)
    else:  # one route: the pool is not its business, only what it would drop
        before, after = [], [s for s in result.unassigned if s not in plan.unassigned]
    return {
        "vehicles": vehicles,
        "stops": stops,
        "unassigned": {"before": [row(s) for s in before], "after": [row(s) for s in after]},
    }


def _etas(day: DayPlan, evaluation: PlanEvaluation) -> dict[str, str]:
    out: dict[str, str] = {}
    for ev in evaluation.routes.values():
        for sid, t in zip(ev.stop_ids, ev.arrival, strict=True):
            out[sid] = day.clock_time(float(t)).strftime("%H:%M")
    return out


def _late(evaluation: PlanEvaluation) -> set[str]:
    return {
        sid
        for ev in evaluation.routes.values()
        for sid, late in zip(ev.stop_ids, ev.lateness, strict=True)
        if late > 1e-9
    }
