"""A command whose reader goes away (``dispatcher fleet list --json | head``) ends quietly:
no traceback on the terminal, as a shell user expects of any command-line tool."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dispatcher.persistence.database import Database
from dispatcher.users.desk import UserDesk


def test_a_closed_pipe_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    db = Database(url)
    UserDesk(db).login("owner")
    db.dispose()
    main = Path(__file__).resolve().parents[2] / "main.py"
    proc = subprocess.Popen(
        [sys.executable, str(main), "--db", url, "fleet", "list", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the command writes its first line
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err.decode(), err.decode()
    assert proc.returncode == 1
