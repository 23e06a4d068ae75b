"""Settings come from defaults, the TOML file, the environment and flags, in that order; a bad
file is one clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from dispatcher.config import load_settings
from dispatcher.errors import ConfigError
from main import main

REPO = Path(__file__).resolve().parents[2]


def test_defaults_put_sqlite_in_the_user_data_dir(isolated_user_dirs: Path) -> None:
    settings = load_settings(env={})
    assert settings.database_url.startswith("sqlite:///")
    assert "dispatcher.sqlite3" in settings.database_url
    assert settings.broker.url == "mqtt://localhost:1883"


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[database]\nurl = "sqlite:///from-file.db"\n[broker]\nurl = "mqtt://file:1"\n'
        'keepalive = 10\n[ui]\ntheme = "light"\n'
    )
    s = load_settings(cfg, env={})
    assert (s.database_url, s.broker.url, s.broker.keepalive, s.ui.theme) == (
        "sqlite:///from-file.db",
        "mqtt://file:1",
        10,
        "light",
    )
    s = load_settings(cfg, env={"DISPATCHER_BROKER": "mqtt://env:2"})
    assert s.broker.url == "mqtt://env:2"
    s = load_settings(
        cfg,
        env={"DISPATCHER_BROKER": "mqtt://env:2"},
        overrides={"broker.url": "mqtt://flag:3", "database_url": "x.db"},
    )
    assert s.broker.url == "mqtt://flag:3"
    assert s.database_url.endswith("/x.db") and s.database_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[broker\nurl=", "not valid TOML"),
        ('[broker]\nkeepalive = "soon"\n', "expected int"),
        ("colour = 3\n", "unknown setting 'colour'"),
        ("[broker]\nspeed = 3\n", "unknown setting 'broker.speed'"),
    ],
)
def test_a_bad_file_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, env={})


def test_a_named_but_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env={})


def test_cli_with_a_corrupt_config_prints_one_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_bytes(b"\xff\xfe[[[")
    assert main(["--config", str(cfg), "db", "current"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dispatcher: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_importing_the_core_loads_no_qt() -> None:
    code = (
        "import sys, dispatcher, dispatcher.core, dispatcher.cli, dispatcher.config;"
        "import dispatcher.persistence.database, dispatcher.importing.service;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('PySide6','shiboken6','pyqtgraph','folium','dispatcher_ui')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["--help"],
        ["demo", "--help"],
        ["db", "--help"],
        ["db", "upgrade", "--help"],
        ["import", "orders", "--help"],
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    assert "usage: dispatcher" in capsys.readouterr().out


def test_db_upgrade_and_current_on_an_empty_database(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", db_url, "db", "upgrade"]) == 0
    assert main(["db", "current", "--db", db_url]) == 0
    out = capsys.readouterr().out
    from dispatcher.persistence.database import MIGRATIONS_DIR

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert f"at revision {head}" in out and f"revision {head}, code expects {head}" in out
    assert main(["--db", db_url, "db", "downgrade", "base"]) == 0
    assert "base (empty)" in capsys.readouterr().out


def test_unreachable_database_is_one_line_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--db", "postgresql+psycopg://u:pw@127.0.0.1:1/x", "db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Cannot open the database" in err and "pw" not in err
