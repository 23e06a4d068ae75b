"""Opening a database: engine, session factory, migrations, and human-readable failures.

One place turns driver errors into :class:`~dispatcher.errors.DatabaseError` subclasses with a
message a person can act on ("cannot reach PostgreSQL at host:5432", "the database was created
by a newer Dispatcher"), so neither the CLI nor the UI ever shows a traceback for them.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, orm
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from dispatcher.errors import (
    DatabaseError,
    DatabaseLocked,
    DatabaseTooNew,
    DatabaseUnavailable,
    DispatcherError,
)
from dispatcher.extras import require
from dispatcher.package_data import migrations_dir
from dispatcher.persistence.storage_errors import Fault, classify, refused

#: The unit of work :meth:`Database.session` yields, under the ORM's name: the rooms that hand
#: a session on to the repositories name it without importing SQLAlchemy themselves (the
#: "SQLAlchemy only in persistence" contract, docs/architecture.md).
Session = orm.Session

log = logging.getLogger(__name__)

MIGRATIONS_DIR = migrations_dir()
SQLITE_BUSY_TIMEOUT_MS = 5000


def describe_url(url: str) -> str:
    """The URL without its password, for status bars and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def create_db_engine(
    url: str,
    *,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    must_exist: bool = False,
    **kwargs: Any,
) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys.

    ``must_exist``: a SQLite file that is not there is refused instead of created (with its
    folders) — a read-only command given a mistyped ``--db`` must say so, not answer from an
    empty database it just made. (PostgreSQL never creates a database on connect.)
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(f"'{url}' is not a database URL or SQLite path.") from None
    #: ``pool_size``/``max_overflow`` for PostgreSQL; SQLite's file pool needs no sizing.
    pool: dict[str, int] | None = kwargs.pop("pool", None)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if must_exist and not (database and database != ":memory:"):
            raise DatabaseUnavailable("an in-memory SQLite database has nothing to read")
        if must_exist and not Path(database).expanduser().is_file():
            raise DatabaseUnavailable(
                f"there is no database at {Path(database).expanduser()} (check --db or "
                "DISPATCHER_DB; this command only reads and does not create one)"
            )
        if database and database != ":memory:" and not parsed.query.get("uri"):
            prepare_sqlite_file(Path(database).expanduser())
        kwargs.setdefault("connect_args", {"timeout": busy_timeout_ms / 1000})
        engine = create_engine(url, **kwargs)

        def pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
            finally:
                cur.close()

        event.listen(engine, "connect", pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() == "psycopg":
            require("psycopg", "postgres", f"The database {describe_url(url)}", DatabaseUnavailable)
        kwargs.setdefault("pool_pre_ping", True)
        if pool:  # sized per process role (dispatcher.config.pool_options, docs/deploy.md)
            kwargs.setdefault("pool_size", pool["pool_size"])
            kwargs.setdefault("max_overflow", pool["max_overflow"])
        kwargs.setdefault("connect_args", {"connect_timeout": 5})
    try:
        return create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise DatabaseUnavailable(f"Cannot use database {describe_url(url)}: {exc}") from None


_CANNOT_CREATE = {
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "no permission to write there",
    errno.ENOSPC: "the disk is full",
    errno.ENOENT: "nothing can be created there",
}


def prepare_sqlite_file(path: Path) -> None:
    """Make sure a new SQLite database can be created at ``path``, or say why not.

    SQLite itself would only answer "unable to open database file", and a missing folder
    used to end in a traceback from ``mkdir``. The folder is created, then the (empty) file:
    an empty file is a valid empty database, so nothing is left behind that SQLite would not
    have made. An existing file is left alone.
    """
    if path.is_dir():
        raise DatabaseUnavailable(f"Cannot use {path} as the database: it is a folder.")
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        if not path.parent.is_dir():  # mkdir met a file where a folder should be
            raise DatabaseUnavailable(_cannot_create(path, errno.ENOTDIR, "")) from None
    except OSError as exc:
        raise DatabaseUnavailable(_cannot_create(path, exc.errno, exc.strerror)) from None


def _cannot_create(path: Path, code: int | None, strerror: str | None) -> str:
    why = _CANNOT_CREATE.get(code or 0) or (strerror or "unknown error").lower()
    return f"Cannot create the database {path}: {why}."


def translate_error(exc: SQLAlchemyError, url: str) -> DatabaseError:
    """Map a driver error to the message a person can act on."""
    text = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0] if str(exc) else ""
    where = describe_url(url)
    if "database is locked" in text or "database table is locked" in text:
        return DatabaseLocked(
            f"The database {where} is locked by another program. Close the other program "
            "(or wait for it to finish) and try again."
        )
    if "file is not a database" in text or "file is encrypted" in text:
        return DatabaseUnavailable(f"{where} is not a SQLite database file.")
    if isinstance(exc, OperationalError):
        return DatabaseUnavailable(f"Cannot open the database {where}: {text}")
    return DatabaseError(f"Database error on {where}: {text}")


def storage_error(exc: SQLAlchemyError, url: str) -> DispatcherError:
    """A failed write as a core error: :class:`RecordRefused` when retrying cannot help
    (see :mod:`dispatcher.persistence.storage_errors`), else the transient DatabaseError."""
    if classify(exc) is Fault.POISON:
        return refused(exc)
    return translate_error(exc, url)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None, "migrations folder has no revisions"
    return head


def check_not_newer(engine: Engine) -> None:
    """Refuse a database that a newer Dispatcher migrated (we do not know its schema)."""
    current = current_revision(engine)
    if current is None:
        return
    script = ScriptDirectory.from_config(alembic_config(engine))
    try:
        script.get_revision(current)
    except Exception:
        raise DatabaseTooNew(
            f"The database {describe_url(str(engine.url))} was upgraded by a newer version of "
            f"Dispatcher (schema revision {current}). Install that version; this one will not "
            "touch the data."
        ) from None


#: Advisory lock held while migrating a PostgreSQL database (any constant the app owns).
MIGRATION_LOCK = 0x64_69_73_70_6D_69_67  # "dispmig"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (used at start-up and by ``dispatcher db upgrade``).

    On PostgreSQL the migration holds an advisory lock: several recorders started at once
    after an upgrade (systemd) take turns, and the later ones find the schema at head instead
    of running the same revision again into the first one's half-done work.
    """
    url = str(engine.url)
    try:
        check_not_newer(engine)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s)", {"k": MIGRATION_LOCK})
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except SQLAlchemyError as exc:
        raise translate_error(exc, url) from None


def downgrade(engine: Engine, revision: str) -> None:
    url = str(engine.url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
    except SQLAlchemyError as exc:
        raise translate_error(exc, url) from None


class Database:
    """An opened, migrated database: the one place sessions come from."""

    def __init__(
        self, url: str, *, migrate: bool = True, must_exist: bool = False, **engine_kwargs: Any
    ) -> None:
        """Open (and migrate) the database; ``must_exist``: see :func:`create_db_engine`."""
        self.url = url
        self.engine = create_db_engine(url, must_exist=must_exist, **engine_kwargs)
        try:
            with self.engine.connect():
                pass
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise translate_error(exc, url) from None
        if migrate:
            try:
                upgrade(self.engine)
            except BaseException:
                self.engine.dispose()
                raise
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        return self.engine.url.get_backend_name()

    @property
    def display_name(self) -> str:
        return describe_url(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error, always closes."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            if isinstance(exc, OperationalError):
                raise storage_error(exc, self.url) from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
