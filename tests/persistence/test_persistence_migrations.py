"""Migrations build the schema on SQLite and PostgreSQL, go down and up again, and the
database refuses politely what it cannot use."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from dispatcher.errors import DatabaseLocked, DatabaseTooNew, DatabaseUnavailable
from dispatcher.persistence import database as dbmod
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Base

EXPECTED_TABLES = set(Base.metadata.tables)


def test_upgrade_on_an_empty_database_creates_every_table(db_url: str) -> None:
    db = Database(db_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
        assert tables >= EXPECTED_TABLES
        assert dbmod.current_revision(db.engine) == dbmod.head_revision(db.engine)
    finally:
        db.dispose()


def test_downgrade_to_base_and_up_again(db_url: str) -> None:
    db = Database(db_url)
    try:
        dbmod.downgrade(db.engine, "base")
        assert not (EXPECTED_TABLES & set(inspect(db.engine).get_table_names()))
        assert dbmod.current_revision(db.engine) is None
        dbmod.upgrade(db.engine)
        assert set(inspect(db.engine).get_table_names()) >= EXPECTED_TABLES
    finally:
        db.dispose()


def test_the_orm_matches_the_migrations(db_url: str) -> None:
    """A model change without a revision is caught here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        db.dispose()


def test_a_database_from_a_newer_version_is_refused_untouched(db_url: str) -> None:
    db = Database(db_url)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed9999'"))
    db.dispose()
    with pytest.raises(DatabaseTooNew, match="newer version"):
        Database(db_url)
    db = Database(db_url, migrate=False)
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "f00dfeed9999"
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    with db.engine.connect() as conn:
        assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
        assert conn.scalar(text("PRAGMA busy_timeout")) == dbmod.SQLITE_BUSY_TIMEOUT_MS
        assert conn.scalar(text("PRAGMA foreign_keys")) == 1
    db.dispose()


def test_a_locked_sqlite_file_gives_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseLocked, match="locked by another program"):
            Database(f"sqlite:///{path}", busy_timeout_ms=100)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(DatabaseUnavailable, match="not a SQLite database"):
        Database(f"sqlite:///{path}")
    assert path.read_text().startswith("these are my notes")


def test_an_unreachable_postgresql_gives_a_clear_message() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        Database("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value)
    assert "127.0.0.1" in str(info.value)


def test_processes_starting_at_once_migrate_one_after_the_other(pg_url: str) -> None:
    """Recorders restarted together after an upgrade: each opens the database, one migrates,
    the others find it at head (before, they ran the same revisions into each other)."""
    from concurrent.futures import ThreadPoolExecutor

    def open_and_close(_: int) -> str | None:
        db = Database(pg_url)
        try:
            return dbmod.current_revision(db.engine)
        finally:
            db.dispose()

    pool = ThreadPoolExecutor(3)
    try:  # without the lock they deadlocked: fail in a minute rather than hang
        revisions = [
            f.result(timeout=60) for f in [pool.submit(open_and_close, n) for n in range(3)]
        ]
    finally:
        pool.shutdown(wait=False)
    db = Database(pg_url, migrate=False)
    try:
        assert revisions == [dbmod.head_revision(db.engine)] * 3
    finally:
        db.dispose()
