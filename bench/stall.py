"""Does the window stay live when PostgreSQL stops answering? (issue 16, item 4)

Starts a throw-away PostgreSQL cluster (``initdb``/``pg_ctl`` of the newest server under
``/usr/lib/postgresql/*/bin``, a temp dir, port ``--port``), puts the demo day in it, opens the
real :class:`~dispatcher_ui.main_window.MainWindow` offscreen and, while a 10 ms ``QTimer`` on the
GUI thread records how late each of its ticks is, drives through the real widgets:

* 0.5 s: drags the first stop of V01 onto V02's board (drag-enter + drop on the viewport);
* 1.5 s: presses A on a selected exception in the queue (acknowledge);
* 2.5 s: presses Ctrl+Shift+Y (History > Replay…: opens the history dock and loads it).

``--actions ack,history`` leaves some out; ``--why`` prints where the GUI thread was whenever
it had not ticked for 200 ms.

The run is done twice: with the server answering, then with the postmaster and every backend
SIGSTOPped from 0 s to ``--stop`` s (found by the data dir: ``postmaster.pid`` and its
children). After SIGCONT it waits up to 20 s for the drag and the acknowledgement to be in the
database ("nothing lost"). Prints the lateness p50/p99/max over the first ``--stop`` + 1 s.
Goal while stopped: p99 < 50 ms, max < 200 ms. Run (as root it uses the ``postgres`` account
for the server)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/stall.py [--stop 5 --port 55499]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QByteArray, QMimeData, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from dispatcher.alerts.workflow import AlertService
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.model.alerts import AlertKind, AlertStatus, Condition, Severity
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.alert_repo import alert_store
from dispatcher.scenario.demo import demo_scenario
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.board_model import STOPS_MIME

TIMEZONE = "Europe/Berlin"


# -- the throw-away server ---------------------------------------------------------------


def _as_pg(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres(port: int) -> Iterator[tuple[str, Path]]:
    """A fresh cluster on 127.0.0.1:``port`` (trust auth); yields (URL, data dir)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not bins:
        raise SystemExit("no PostgreSQL server under /usr/lib/postgresql/*/bin")
    pg_bin = bins[-1]
    tmp = Path(tempfile.mkdtemp(prefix="stall-pg-"))
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
    data = tmp / "data"
    subprocess.run(
        _as_pg([str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off"
    ctl = [str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(tmp / "pg.log"), "-w"]
    subprocess.run(_as_pg([*ctl, "-o", opts, "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data
    finally:
        send(data, signal.SIGCONT)  # never leave it stopped
        subprocess.run(_as_pg([*ctl, "-m", "immediate", "stop"]), check=False, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def server_pids(data: Path) -> list[int]:
    """The postmaster of ``data`` (first line of postmaster.pid) and its children."""
    try:
        master = int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:  # field 4 of stat: the parent's pid
            pids.append(int(stat.parent.name))
    return pids


def send(data: Path, sig: signal.Signals) -> int:
    pids = server_pids(data)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:  # a backend that ended since it was listed
            continue
    return len(pids)


def watchdog(stop: threading.Event, limit_s: float = 0.2) -> dict[str, int]:
    """With ``--why``: where the GUI thread was when it had not ticked for ``limit_s``."""
    seen: dict[str, int] = {}
    main_id = threading.main_thread().ident

    def watch() -> None:
        while not stop.wait(limit_s / 2):
            if time.perf_counter() - LAST_TICK[0] > limit_s and main_id is not None:
                frame = sys._current_frames().get(main_id)
                where = []
                while frame is not None and len(where) < 40:
                    code = frame.f_code
                    if "/dispatcher/" in code.co_filename or "/ui/" in code.co_filename:
                        where.append(
                            f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}"
                        )
                    frame = frame.f_back
                key = " < ".join(where[:6])
                seen[key] = seen.get(key, 0) + 1

    threading.Thread(target=watch, daemon=True).start()
    return seen


LAST_TICK = [0.0]


# -- the console and its measurement -----------------------------------------------------


def wait(app: QApplication, until: Callable[[], bool], timeout_s: float) -> bool:
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        app.processEvents()
        if until():
            return True
        time.sleep(0.005)
    return until()


def drop(window: MainWindow, stop_id: str, vid: str) -> None:
    """A drag of ``stop_id`` onto the top of ``vid``'s board, as Qt delivers a real one."""
    board = window.routes_panel.boards[vid]
    mime = QMimeData()
    mime.setData(STOPS_MIME, QByteArray(json.dumps([stop_id]).encode()))
    rect = board.table.visualRect(board.model.index(0, 0))
    pos = QPointF(rect.center().x(), rect.top() + 1)
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():  # PySide marks the QPoint constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.MoveAction, mime, buttons, keys)
    QApplication.sendEvent(board.table.viewport(), enter)
    event = QDropEvent(pos, Qt.DropAction.MoveAction, mime, buttons, keys)
    QApplication.sendEvent(board.table.viewport(), event)


def one_run(  # noqa: PLR0915  # one scripted session, read top to bottom
    app: QApplication,
    url: str,
    data: Path,
    stop_s: float,
    tmp: Path,
    *,
    actions: frozenset[str] = frozenset({"drag", "ack", "history"}),
    why: bool = False,
) -> dict[str, Any]:
    core = Core(Settings(database_url=url))
    with core.db.session() as session:
        fleet_repo.save_scenario(session, demo_scenario(timezone=TIMEZONE, n_vehicles=4))
    window = MainWindow(core, QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.show()
    assert wait(app, lambda: not window.routes_loading, 30), "routes never loaded"
    controller = window.routes_panel.controller
    assert controller.day is not None
    sid = str(controller.day.plan.routes["V01"][0])
    now = core.clock.now()
    late = Condition(
        AlertKind.LATE,
        f"stop:{sid}",
        Severity.HIGH,
        "Stop late",
        sla_deadline=now + timedelta(minutes=30),
        vehicle_id="V01",
        stop_id=sid,
    )
    with alert_store(core.db) as store:
        AlertService(store, core.clock).reconcile([late], list(AlertKind))
    queue = window.exceptions_panel
    queue.reload(background=False)
    wait(app, lambda: False, 1.0)  # let start-up work settle

    lateness: list[float] = []
    last = [time.perf_counter()]
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)

    def tick() -> None:
        t = time.perf_counter()
        lateness.append(max(0.0, t - last[0] - 0.010))
        last[0] = LAST_TICK[0] = t

    probe.timeout.connect(tick)

    def acknowledge() -> None:
        window.docks["exceptions"].show()
        queue.view.setFocus()
        queue.view.selectRow(0)
        QTest.keyClick(queue.view, Qt.Key.Key_A)

    def history() -> None:
        QTest.keyClick(
            window,
            Qt.Key.Key_Y,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )

    stopped = [0]
    if stop_s:
        stopped[0] = send(data, signal.SIGSTOP)
        # not a QTimer: a GUI thread waiting on the server would never wake it
        threading.Timer(stop_s, lambda: send(data, signal.SIGCONT)).start()
    if "drag" in actions:
        QTimer.singleShot(500, lambda: drop(window, sid, "V02"))
    if "ack" in actions:
        QTimer.singleShot(1500, acknowledge)
    if "history" in actions:
        QTimer.singleShot(2500, history)
    last[0] = LAST_TICK[0] = time.perf_counter()
    probe.start(10)
    done = threading.Event()
    blocked = watchdog(done) if why else {}
    wait(app, lambda: False, (stop_s or 5.0) + 1.0)
    done.set()
    probe.stop()
    for where, n in sorted(blocked.items(), key=lambda kv: -kv[1]):
        print(f"  GUI thread blocked ({n}x): {where}")
    if stop_s:
        send(data, signal.SIGCONT)  # in case the GUI thread never ran the timer

    def landed() -> bool:
        with alert_store(core.db) as store:
            acked = (
                store.list_alerts()[0].status is AlertStatus.ACKNOWLEDGED or "ack" not in actions
            )
        routes = {r.vehicle_id: [str(s.id) for s in r.stops] for r in core.load_routes()}
        return acked and (sid in routes.get("V02", []) or "drag" not in actions)

    t0 = time.perf_counter()
    ok = wait(app, landed, 20)
    recovered = time.perf_counter() - t0
    window.close()
    core.close()
    ms = sorted(x * 1000 for x in lateness)
    return {
        "stopped_pids": stopped[0],
        "ticks": len(ms),
        "p50": statistics.median(ms) if ms else 0.0,
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else 0.0,
        "max": ms[-1] if ms else 0.0,
        "nothing_lost": ok,
        "recovered_s": recovered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stop", type=float, default=5.0, help="seconds the server is stopped")
    parser.add_argument("--port", type=int, default=55499)
    parser.add_argument(
        "--actions", default="drag,ack,history", help="which of drag,ack,history to do"
    )
    parser.add_argument("--why", action="store_true", help="say where the GUI thread blocked")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    with postgres(args.port) as (url, data), tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, stop in (("answering", 0.0), (f"stopped {args.stop:g} s", args.stop)):
            from sqlalchemy import create_engine, text

            engine = create_engine(url, isolation_level="AUTOCOMMIT")  # a fresh schema per run
            with engine.connect() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
            results[name] = one_run(
                app,
                url,
                data,
                stop,
                Path(tmp),
                actions=frozenset(args.actions.split(",")),
                why=args.why,
            )
    print(f"{'run':<18}{'ticks':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  nothing lost")
    for name, r in results.items():
        print(
            f"{name:<18}{r['ticks']:>7}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['max']:>9.1f}  "
            f"{'yes' if r['nothing_lost'] else 'NO'} (in {r['recovered_s']:.1f} s)"
        )


if __name__ == "__main__":
    main()
