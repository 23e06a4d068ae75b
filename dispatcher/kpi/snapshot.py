"""One refresh of the KPI dock and the timeline: load the day, plan it, predict from live.

Runs off the GUI thread (the UI hands it to its worker pool): it opens its own session, and
takes the live positions as a plain mapping copied on the GUI thread, because the fleet state
is not thread-safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from dispatcher.eta.travel import TravelTimeProvider
from dispatcher.kpi.schedule import LatLon, planned_arrivals, predicted_arrivals
from dispatcher.model.kpi import DayRecords
from dispatcher.persistence import kpi_repo
from dispatcher.persistence.database import Database


@dataclass(frozen=True, slots=True)
class KpiSnapshot:
    """The day's records (planned arrivals filled in) and the live predictions at ``now``."""

    records: DayRecords
    now: datetime
    predicted: Mapping[int, datetime] = field(default_factory=dict)


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
    records = records.with_planned(planned_arrivals(records, provider))
    predicted = predicted_arrivals(records, positions, now, provider)
    return KpiSnapshot(records, now, predicted)
