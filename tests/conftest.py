"""Shared fixtures: isolated user dirs, databases on SQLite and PostgreSQL, Qt marking.

PostgreSQL tests use the server named by ``DISPATCHER_TEST_PG_URL`` (``.ci/services.sh``
starts one); each test gets a database of its own, dropped afterwards. Without the variable
they are skipped locally but fail in CI, so a broken CI set-up cannot pass silently.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fleet_zone import DAY, TZ, TZ_NAME

#: Shared fakes of the outside world, with their fixtures (``provider``, ``closed_url``).
pytest_plugins = ["fake_geocoder"]

PG_ENV = "DISPATCHER_TEST_PG_URL"
MQTT_ENV = "DISPATCHER_TEST_MQTT_URL"

# The machine's zone is the suite's (DISPATCHER_TEST_TZ): the fleet's default zone when
# [fleet] names none, the one a bare ``astimezone()`` uses, and the one subprocesses inherit.
os.environ["TZ"] = TZ_NAME
time.tzset()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that touches Qt as ``gui`` so ``-m "not gui"`` runs headless."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if {"qtbot", "qapp", "qtmodeltester"} & set(fixtures):
            item.add_marker(pytest.mark.gui)
        if "pg_url" in fixtures or "postgres" in item.nodeid:
            item.add_marker(pytest.mark.postgres)


class _ErrorRecords(logging.Handler):
    """Keeps every ERROR (or worse) record logged anywhere, on any thread, during a test."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_error_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which an error was logged (qutebrowser's "fail on logging").

    Handlers that keep the console running after a failure (tick hooks, event-bus subscribers,
    Qt slots, worker threads) log it with ``log.exception``: without this, such a bug passes
    every test silently. Exceptions reaching ``sys.excepthook`` from a Qt slot and Qt's own
    warnings fail the test through pytest-qt (``qt_log_level_fail`` in pyproject.toml).
    A test that asserts an error IS logged opts out with ``@pytest.mark.allow_error_logs``.
    """
    handler = _ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("allow_error_logs") is None:
        lines = [
            f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "")
            for r in handler.records
        ]
        pytest.fail("errors were logged during the test:\n" + "\n".join(lines), pytrace=False)


@pytest.fixture(autouse=True)
def isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Config, data and QSettings go to a temporary home, never the developer's."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    for var in ("DISPATCHER_DB", "DISPATCHER_BROKER", "DISPATCHER_CONFIG", "DISPATCHER_THEME"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(autouse=True)
def default_display() -> Iterator[None]:
    """Each test starts (and leaves) with km and no locale: a Core built for a fleet in
    miles installs its formatter process-wide (dispatcher/display.py)."""
    from dispatcher import display

    display.reset()
    yield
    display.reset()


@pytest.fixture
def fleet_tz() -> ZoneInfo:
    """The fleet's zone for this run of the suite (see tests/fleet_zone.py)."""
    return TZ


@pytest.fixture
def service_day() -> date:
    """The service day for this run of the suite (see tests/fleet_zone.py)."""
    return DAY


def _require(env: str) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if os.environ.get("CI"):
        pytest.fail(f"{env} is not set: .ci/services.sh must start the service in CI")
    pytest.skip(f"{env} not set (run the suite with `make test` to start the service)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(_require(PG_ENV))
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def database(db_url: str) -> Iterator[object]:
    from dispatcher.persistence.database import Database

    db = Database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def mqtt_url() -> str:
    return _require(MQTT_ENV)


@pytest.fixture
def demo_core() -> Iterator[Callable[..., Any]]:
    """``demo_core(url)``: a core on ``url`` with the suite's demo day stored (``scenario=``
    another day, ``settings=`` settings of the test's own); closed after the test. The set-up
    the route-board, new-order and driver-push tests share."""
    from dispatcher.config import Settings
    from dispatcher.core import Core
    from dispatcher.persistence import fleet_repo

    made: list[Core] = []

    def make(url: str, *, scenario: Any = None, settings: Any = None) -> Core:
        core = Core(settings or Settings(database_url=url))
        made.append(core)
        if scenario is not False:  # False: an empty database (another fixture seeds it)
            from fleet_zone import demo_day

            with core.db.session() as session:
                fleet_repo.save_scenario(session, scenario or demo_day(DAY))
        return core

    yield make
    for core in reversed(made):
        core.close()


@pytest.fixture
def open_console(qtbot: Any, tmp_path: Path) -> Callable[..., Any]:
    """``open_console(core)``: the real main window over ``core``, not shown, its layout in
    the test's own directory (nothing leaks between tests), once its routes are read
    (``wait=False``: at once, for a database another fixture fills later)."""
    from PySide6.QtCore import QSettings

    from dispatcher_ui.main_window import MainWindow

    def open_window(core: Any, *, wait: bool = True) -> MainWindow:
        window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(window)
        if wait:  # what tests/ui/routes_wait.py waits for: the reload off the GUI thread
            qtbot.waitUntil(lambda: not window.routes_loading, timeout=15000)
        return window

    return open_window
