"""Proof of visit answers exactly what a brute-force scan of every stored fix answers: the
grid-cell and bounding-box prefilter in SQL never loses a fix the exact test accepts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from dispatcher.errors import ValidationError
from dispatcher.geo import haversine_m
from dispatcher.history.visits import Circle, Polygon, Visit, proof_of_visit
from dispatcher.model.core import PositionReport
from dispatcher.persistence.database import Database
from dispatcher.persistence.grid import cell_of
from dispatcher.persistence.history_repo import Box, cells_in_box
from dispatcher.persistence.orm import PositionRow
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

fixes_near_berlin = st.lists(
    st.builds(
        lambda v, s, dlat, dlon: PositionReport(
            f"v{v}", T0 + timedelta(seconds=s), 52.52 + dlat, 13.40 + dlon
        ),
        st.integers(0, 5),
        st.integers(0, 7200),
        st.floats(-0.03, 0.03),
        st.floats(-0.05, 0.05),
    ),
    max_size=60,
)


def brute_force(
    fixes: list[PositionReport], inside: Callable[[float, float], bool], t0: datetime, t1: datetime
) -> dict[str, tuple[datetime, datetime, int]]:
    out: dict[str, tuple[datetime, datetime, int]] = {}
    seen: set[tuple[str, datetime]] = set()
    for p in fixes:
        if (p.vehicle_id, p.ts) in seen:
            continue  # a vehicle has one fix per instant: the first one stored
        seen.add((p.vehicle_id, p.ts))
        if t0 <= p.ts <= t1 and inside(p.lat, p.lon):
            first, last, n = out.get(p.vehicle_id, (p.ts, p.ts, 0))
            out[p.vehicle_id] = (min(first, p.ts), max(last, p.ts), n + 1)
    return out


def as_dict(visits: list[Visit]) -> dict[str, tuple[datetime, datetime, int]]:
    return {v.vehicle_id: (v.first_seen, v.last_seen, v.fixes) for v in visits}


def store(db: Database, fixes: list[PositionReport]) -> None:
    with db.session() as session:
        session.execute(delete(PositionRow))
    SqlTelemetrySink(db).write_positions(fixes)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fixes=fixes_near_berlin,
    dlat=st.floats(-0.02, 0.02),
    dlon=st.floats(-0.03, 0.03),
    radius=st.floats(5, 3000),
    window=st.tuples(st.integers(0, 7200), st.integers(0, 7200)).map(sorted),
)
def test_circle_visits_match_a_brute_force_scan(
    database: Database,
    fixes: list[PositionReport],
    dlat: float,
    dlon: float,
    radius: float,
    window: list[int],
) -> None:
    store(database, fixes)
    circle = Circle(52.52 + dlat, 13.40 + dlon, radius)
    t0, t1 = (T0 + timedelta(seconds=s) for s in window)
    expected = brute_force(
        fixes, lambda la, lo: haversine_m(circle.lat, circle.lon, la, lo) <= radius, t0, t1
    )
    assert as_dict(proof_of_visit(database, circle, t0, t1)) == expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fixes=fixes_near_berlin,
    corners=st.lists(
        st.tuples(st.floats(52.49, 52.55), st.floats(13.35, 13.45)), min_size=3, max_size=6
    ),
)
def test_polygon_visits_match_a_brute_force_scan(
    database: Database, fixes: list[PositionReport], corners: list[tuple[float, float]]
) -> None:
    store(database, fixes)
    zone = Polygon(tuple(corners))
    t0, t1 = T0, T0 + timedelta(hours=3)
    expected = brute_force(fixes, zone.contains, t0, t1)
    assert as_dict(proof_of_visit(database, zone, t0, t1)) == expected


def test_closest_approach_and_dwell_are_reported(database: Database) -> None:
    point = (52.5, 13.4)
    metre = 1 / 111_195
    fixes = [
        PositionReport("van", T0 + timedelta(minutes=m), point[0] + d * metre, point[1])
        for m, d in ((0, 500), (1, 40), (2, 10), (7, 12), (8, 600))
    ]
    store(database, fixes)
    [visit] = proof_of_visit(database, Circle(*point, 50), T0, T0 + timedelta(hours=1))
    assert visit.vehicle_id == "van" and visit.fixes == 3
    assert visit.dwell_s == 360
    assert visit.closest_m == pytest.approx(10, abs=0.1)


def test_a_circle_across_the_antimeridian_finds_both_sides(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        fixes = [
            PositionReport("east", T0, -17.0, 179.9995),
            PositionReport("west", T0, -17.0, -179.9995),
            PositionReport("far", T0, -17.0, 179.9),
        ]
        store(db, fixes)
        visits = proof_of_visit(db, Circle(-17.0, 180.0, 200), T0, T0)
        assert sorted(v.vehicle_id for v in visits) == ["east", "west"]
    finally:
        db.dispose()


def test_a_large_zone_falls_back_to_the_time_index() -> None:
    assert cells_in_box(Box(52.0, 13.0, 52.005, 13.005)) == [cell_of(52.0, 13.0)]
    assert cells_in_box(Box(50.0, 10.0, 55.0, 15.0)) is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Circle(95.0, 13.0, 100), "not a latitude"),
        (lambda: Circle(52.0, 13.0, 0), "radius"),
        (lambda: Circle(float("nan"), 13.0, 10), "not a latitude"),
        (lambda: Polygon(((52.0, 13.0), (52.1, 13.1))), "three corners"),
    ],
)
def test_bad_zones_are_refused_with_a_reason(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make()
