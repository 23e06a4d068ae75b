"""One refresh of the KPI dock and the timeline: load the day, plan it, predict from live.

Runs off the GUI thread (the UI hands it to its worker pool): it opens its own session, and
takes the live positions as a plain mapping copied on the GUI thread, because the fleet state
is not thread-safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from typing import Any

from dispatcher.eta.travel import TravelTimeProvider
from dispatcher.kpi.report import KpiReport, compute_report
from dispatcher.kpi.rollup import RouteDayResult, route_days
from dispatcher.kpi.schedule import LatLon, planned_arrivals, planned_breaks, predicted_arrivals
from dispatcher.kpi.timeline import Timeline, build_timeline
from dispatcher.model.kpi import FLEET, DayRecords, Scope, scope_day, scopes_of
from dispatcher.persistence import feedback_repo, kpi_repo
from dispatcher.persistence.database import Database


@dataclass(frozen=True, slots=True)
class KpiSnapshot:
    """The day's records (planned arrivals filled in) and the live predictions at ``now``."""

    records: DayRecords
    now: datetime
    predicted: Mapping[int, datetime] = field(default_factory=dict)
    #: The Timeline view's rows, when built with the snapshot (:meth:`with_timeline`).
    timeline: Timeline | None = None
    #: Each driver's planned break (begin, end), for the timeline.
    breaks: Mapping[str, tuple[datetime, datetime]] = field(default_factory=dict)
    #: Planned vs actual, cost and CO₂e per route (:meth:`with_routes`; refreshed less often
    #: than the rest, since it reads the day's position history).
    routes: tuple[RouteDayResult, ...] = ()
    #: Customers' ratings (1-5) of the day's stops, by stop id (the dock's "Customer rating").
    ratings: Mapping[int, int] = field(default_factory=dict)
    #: The report of :attr:`report_scope` (:meth:`with_report`, in the loading worker: for
    #: 10,000 stops it held the GUI thread for a tenth of a second at every refresh).
    report: KpiReport | None = None
    report_scope: Scope | None = None
    #: Mean customer rating of :attr:`report_scope`'s stops and how many gave one.
    rating: tuple[float | None, int] = (None, 0)
    #: The scopes the day offers (fleet, each route, each driver), as the scope list shows.
    scopes: tuple[Scope, ...] = ()
    #: What a front end prepared off its GUI thread from this snapshot, by view name (the
    #: timeline's arrays): opaque to the core.
    views: Mapping[str, Any] = field(default_factory=dict)

    def with_timeline(self) -> KpiSnapshot:
        """The snapshot with its timeline built: in the loading worker, since for 10,000
        stops building it on the GUI thread took half a second (bench/console.py)."""
        timeline = build_timeline(self.records, self.now, self.predicted, breaks=self.breaks)
        return replace(self, timeline=timeline)

    def with_report(self, scope: Scope = FLEET) -> KpiSnapshot:
        """The snapshot with the report, rating and scope list of ``scope`` computed."""
        scopes = tuple(scopes_of(self.records))
        if scope not in scopes:
            scope = FLEET
        report = compute_report(self.records, self.now, scope)
        ids = {s.id for s in scope_day(self.records, scope).stops}
        given = [r for stop, r in self.ratings.items() if stop in ids]
        rating = (sum(given) / len(given) if given else None, len(given))
        return replace(self, report=report, report_scope=scope, rating=rating, scopes=scopes)

    def with_routes(self, db: Database, provider: TravelTimeProvider | None = None) -> KpiSnapshot:
        """The snapshot with each route's planned-vs-actual, cost and CO₂e computed."""
        found = route_days(db, self.records.day, self.records.tz, self.now, provider)
        return replace(self, routes=tuple(found))


def load_snapshot(
    db: Database,
    tz: tzinfo,
    now: datetime,
    positions: Mapping[str, LatLon],
    *,
    day: date | None = None,
    provider: TravelTimeProvider | None = None,
) -> KpiSnapshot:
    """Read the day from ``db`` and compute planned and predicted arrivals."""
    with db.session() as session:
        records = kpi_repo.load_day(session, tz, day)
        ratings = feedback_repo.ratings_of_day(session, records.day)
    records = records.with_planned(planned_arrivals(records, provider))
    predicted = predicted_arrivals(records, positions, now, provider)
    breaks = planned_breaks(records, provider)
    return KpiSnapshot(records, now, predicted, breaks=breaks, ratings=ratings)
