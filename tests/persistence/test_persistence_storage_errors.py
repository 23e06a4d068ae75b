"""Columns as migrated match the shared limits, and a failed write is classified: transient
(retry) or poison (set the record aside). Issue 15, findings 1 and 8."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg.errors
import pytest
from sqlalchemy import String, inspect, text
from sqlalchemy.exc import DataError, OperationalError

from dispatcher.errors import DatabaseLocked, RecordRefused
from dispatcher.model.core import PositionReport
from dispatcher.persistence import database as dbmod
from dispatcher.persistence.database import Database, storage_error
from dispatcher.persistence.orm import Base
from dispatcher.persistence.storage_errors import Fault, classify
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def test_postgresql_columns_are_as_wide_as_the_orm_says(pg_url: str) -> None:
    """The migration widened every column the ORM widened (PostgreSQL enforces them)."""
    db = Database(pg_url)
    try:
        inspector = inspect(db.engine)
        wrong = {}
        for table in Base.metadata.tables.values():
            reflected = {c["name"]: c["type"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if isinstance(column.type, String) and column.type.length:
                    width = getattr(reflected[column.name], "length", None)
                    if width != column.type.length:
                        wrong[f"{table.name}.{column.name}"] = (width, column.type.length)
        assert wrong == {}
    finally:
        db.dispose()


def test_the_widening_goes_down_and_up_with_data_kept(db_url: str) -> None:
    db = Database(db_url)
    try:
        SqlTelemetrySink(db).write_positions([PositionReport("VAN-1", T0, 52.0, 4.0)])
        dbmod.downgrade(db.engine, "0002")
        dbmod.upgrade(db.engine)
        with db.engine.connect() as conn:
            assert conn.scalar(text("SELECT vehicle_id FROM positions")) == "VAN-1"
    finally:
        db.dispose()


def test_a_value_too_long_is_poison_with_the_database_reason(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        with pytest.raises(RecordRefused, match="too long"):
            SqlTelemetrySink(db).write_positions([PositionReport("V" * 65, T0, 52.0, 4.0)])
        with pytest.raises(RecordRefused, match="NUL"):
            SqlTelemetrySink(db).write_positions([PositionReport("V\x00", T0, 52.0, 4.0)])
    finally:
        db.dispose()


def test_a_locked_sqlite_file_is_transient(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "locked.sqlite3"
    db = Database(f"sqlite:///{path}", busy_timeout_ms=50)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseLocked) as info:
            SqlTelemetrySink(db).write_positions([PositionReport("VAN-1", T0, 52.0, 4.0)])
        assert classify(info.value) is Fault.TRANSIENT
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        db.dispose()


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (psycopg.errors.SerializationFailure("could not serialize access"), Fault.TRANSIENT),
        (psycopg.errors.DeadlockDetected("deadlock detected"), Fault.TRANSIENT),
        (psycopg.errors.LockNotAvailable("could not obtain lock"), Fault.TRANSIENT),
        (psycopg.errors.AdminShutdown("terminating connection"), Fault.TRANSIENT),
        (psycopg.errors.QueryCanceled("statement timeout"), Fault.TRANSIENT),
        (psycopg.errors.DiskFull("could not extend file"), Fault.TRANSIENT),
        (psycopg.errors.ProgramLimitExceeded("index row size exceeds"), Fault.POISON),
    ],
)
def test_postgresql_states_of_the_server_are_transient_and_of_the_data_poison(
    error: Exception, fault: Fault
) -> None:
    wrapped = OperationalError("INSERT ...", {}, error)
    assert classify(wrapped) is fault
    core = storage_error(wrapped, "postgresql://db/x")
    assert isinstance(core, RecordRefused) == (fault is Fault.POISON)


def test_data_errors_without_a_state_are_poison() -> None:
    nul = psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    assert classify(DataError("INSERT ...", {}, nul)) is Fault.POISON
