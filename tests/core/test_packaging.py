"""What the installed product relies on (issue 21, docs/packaging.md), checked from a checkout.

The wheel itself is built, installed outside the repository and run by .ci/ship.sh; these
tests pin the pieces it stands on: where the product's files are found, the entry points and
dependency ranges in pyproject.toml, the message for a missing extra, and the GUI script's
start without a terminal.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

import dispatcher
from dispatcher import package_data
from dispatcher.errors import DatabaseUnavailable
from dispatcher.extras import MissingExtra, require
from dispatcher.persistence.database import create_db_engine
from dispatcher_ui import launcher

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture
def fresh_base() -> Iterator[None]:
    package_data._base.cache_clear()
    yield
    package_data._base.cache_clear()


def test_a_checkout_finds_its_top_level_folders(fresh_base: None) -> None:
    assert package_data.resources_dir("templates", "en.toml") == (
        REPO / "resources" / "templates" / "en.toml"
    )
    assert package_data.migrations_dir() == REPO / "migrations"
    assert (package_data.migrations_dir() / "env.py").is_file()


def test_an_installed_package_finds_the_copy_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_base: None
) -> None:
    """A wheel carries dispatcher/resources and dispatcher/migrations: those win."""
    installed = tmp_path / "site-packages" / "dispatcher"
    (installed / "resources" / "templates").mkdir(parents=True)
    (installed / "migrations").mkdir()
    monkeypatch.setattr(resources, "files", lambda name: installed)
    assert package_data.resources_dir("templates") == installed / "resources" / "templates"
    assert package_data.migrations_dir() == installed / "migrations"


def test_no_module_counts_parents_to_find_product_files() -> None:
    """``package_data`` is the one place that knows where resources and migrations are."""
    offenders = [
        str(path.relative_to(REPO))
        for root in (Path(dispatcher.__file__).parent, Path(launcher.__file__).parent)
        for path in root.rglob("*.py")
        if path.name != "package_data.py"
        and any(
            word in path.read_text(encoding="utf-8") for word in ('"resources"', '"migrations"')
        )
        and "parents[" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_one_version_source() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "dispatcher.__version__" and dispatcher.__version__


def test_entry_points_name_functions_that_exist() -> None:
    project = PYPROJECT["project"]
    assert project["scripts"] == {"dispatcher": "dispatcher_ui.launcher:main"}
    assert project["gui-scripts"] == {"dispatcher-console": "dispatcher_ui.launcher:gui_main"}
    assert callable(launcher.main) and callable(launcher.gui_main)
    assert "py-modules" not in PYPROJECT["tool"]["setuptools"]  # no top-level `main` installed


def test_pyside6_range_excludes_the_release_that_leaks_true() -> None:
    pyside = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("PySide6"))
    assert pyside.replace(" ", "") == "PySide6>=6.10,!=6.12.0"


def test_optional_extras_are_not_hard_dependencies() -> None:
    hard = " ".join(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert "psycopg" not in hard and "amqtt" not in hard
    assert any(d.startswith("psycopg") for d in extras["postgres"])
    assert any(d.startswith("amqtt") for d in extras["broker"])


def test_a_missing_extra_names_what_to_install() -> None:
    with pytest.raises(MissingExtra, match=r"pip install 'dispatcher\[report\]'"):
        require("no_such_module_for_dispatcher", "report", "The day report")


def test_postgresql_without_its_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(DatabaseUnavailable, match=r"dispatcher\[postgres\]"):
        create_db_engine("postgresql+psycopg://u@127.0.0.1:9/x")


def test_the_gui_script_without_a_terminal_writes_to_a_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under pythonw (Windows) stdout and stderr are None: messages go to console.log."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(sys, "argv", ["dispatcher", "--db", str(tmp_path / "no.db"), "alerts"])
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    code = launcher.gui_main()
    stream = sys.stderr
    assert stream is not None and stream is sys.stdout  # both to the one log file
    stream.close()
    assert code == 1
    logs = list((tmp_path / "state").rglob("console.log"))
    assert len(logs) == 1
    assert "there is no database" in logs[0].read_text(encoding="utf-8")
