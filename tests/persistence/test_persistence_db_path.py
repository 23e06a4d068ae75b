"""Issue 15, finding 9 (first half): a new database path that cannot be created gives one
clear line and exit code 1 on the command line, and the same message in the console's start-up
dialog; never a traceback. As root, permissions do not stop us, so the cases are a parent that
is a file, a folder where the file should be, /proc, and a read-only tmpfs when one can be
mounted here."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatcher.errors import DatabaseUnavailable, DispatcherError
from dispatcher.persistence.database import Database
from main import main


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs (needs the right to mount; skipped where there is none)."""
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def impossible_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "a_folder.sqlite3").mkdir()
    return {
        "parent is a file": (tmp_path / "a_file" / "x.sqlite3", "is a file, not a folder"),
        "ancestor is a file": (tmp_path / "a_file" / "sub" / "x.sqlite3", "not a folder"),
        "path is a folder": (tmp_path / "a_folder.sqlite3", "it is a folder"),
        "under /proc": (Path("/proc/dispatcher-no-such/x.sqlite3"), "nothing can be created"),
    }


CASES = ["parent is a file", "ancestor is a file", "path is a folder", "under /proc"]


@pytest.mark.parametrize("case", CASES)
def test_the_cli_says_why_in_one_line_and_exits_1(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, why = impossible_paths(tmp_path)[case]
    assert main(["--db", str(path), "db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("dispatcher: Cannot") and why in err and "Traceback" not in err


def test_a_read_only_file_system_is_named(
    read_only_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = read_only_dir / "new" / "dispatcher.sqlite3"
    assert main(["--db", str(path), "import", "orders", "/dev/null"]) == 1
    err = capsys.readouterr().err
    assert err == f"dispatcher: Cannot create the database {path}: the file system is read-only.\n"


def test_the_core_raises_the_error_the_console_shows(tmp_path: Path) -> None:
    path, _ = impossible_paths(tmp_path)["parent is a file"]
    with pytest.raises(DatabaseUnavailable) as info:
        Database(f"sqlite:///{path}")
    assert isinstance(info.value, DispatcherError)
    assert not (tmp_path / "a_file").is_dir()


def test_a_creatable_path_gets_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "dispatcher.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.dispose()
    assert path.is_file() and path.stat().st_size > 0


def test_the_console_shows_the_reason_in_its_start_up_dialog(qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    path, _ = impossible_paths(tmp_path)["parent is a file"]
    shown: list[tuple[str, str]] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        shown.append((box.windowTitle(), box.text()))
        box.accept()

    QTimer.singleShot(0, answer)
    assert main(["--db", str(path)]) == 1
    [(title, text)] = shown
    assert title == "Dispatcher cannot start"
    assert text == f"Cannot create the database {path}: a part of the path is a file, not a folder."
