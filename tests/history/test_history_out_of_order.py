"""Rows stored after a newer fix of the same vehicle are flagged out of order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from dispatcher.model.core import PositionReport
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import PositionRow
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def fix(vehicle: str, seconds: int) -> PositionReport:
    return PositionReport(vehicle, T0 + timedelta(seconds=seconds), 52.5, 13.4 + seconds * 1e-5)


def test_late_fixes_are_flagged_across_batches(database: Database) -> None:
    with database.session() as session:
        session.execute(delete(PositionRow))
    sink = SqlTelemetrySink(database)
    sink.write_positions([fix("a", 0), fix("a", 10), fix("b", 5), fix("a", 4)])
    sink.write_positions([fix("a", 8), fix("a", 20), fix("b", 1)])
    with database.session() as session:
        rows = session.execute(
            select(PositionRow.vehicle_id, PositionRow.ts, PositionRow.out_of_order)
        ).all()
    flags = {(v, round((ts.replace(tzinfo=UTC) - T0).total_seconds())): f for v, ts, f in rows}
    assert flags == {
        ("a", 0): False,
        ("a", 10): False,
        ("b", 5): False,
        ("a", 4): True,  # arrived after the 10-s fix
        ("a", 8): True,  # still older than the newest stored, in the next batch
        ("a", 20): False,
        ("b", 1): True,
    }
