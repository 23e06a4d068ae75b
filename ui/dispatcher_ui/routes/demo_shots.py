"""Screenshots of the route boards: a late stop dragged to where it is on time, and the
whole-fleet optimize preview with its map.

Run ``QT_QPA_PLATFORM=offscreen python -m dispatcher_ui.routes.demo_shots OUT_DIR``. It builds the
demo day in a temporary SQLite database, finds a late stop, picks (with the insertion planner) a
vehicle that can take it without new lateness, shows the two boards side by side, and writes
``route_board_before.png`` and ``route_board_after.png`` after a real drop event. Then it
optimizes the whole fleet (Ctrl+Shift+O's dialog) and writes ``optimize_preview.png`` once the
preview's map is drawn. The offscreen screen is 800x600 unless told otherwise
(``QT_QPA_PLATFORM=offscreen:configfile=screen.json``); the dialog never outgrows its screen.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path

from PySide6.QtCore import QByteArray, QMimeData, QPointF, QSettings, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from dispatcher.clock import system_monotonic
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.scenario.demo import demo_scenario
from dispatcher_ui.map import web  # noqa: F401  (registers the map's dmap: scheme before the app exists)
from dispatcher_ui.routes.board import VehicleBoard
from dispatcher_ui.routes.board_model import STOPS_MIME, Role
from dispatcher_ui.routes.panel import RoutesPanel


def drop(board: VehicleBoard, stop_ids: list[str], row: int) -> None:
    """A drag-enter then a drop on ``board`` above ``row``, as a mouse drag delivers them."""
    mime = QMimeData()
    mime.setData(STOPS_MIME, QByteArray(json.dumps(stop_ids).encode()))
    rect = board.table.visualRect(board.model.index(min(row, board.model.rowCount() - 1), 0))
    pos = QPointF(
        rect.center().x(), rect.top() + 1 if row < board.model.rowCount() else rect.bottom() - 1
    )
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.MoveAction, mime, buttons, keys)
    QApplication.sendEvent(board.table.viewport(), enter)
    event = QDropEvent(pos, Qt.DropAction.MoveAction, mime, buttons, keys)
    QApplication.sendEvent(board.table.viewport(), event)


def pick_move(panel: RoutesPanel) -> tuple[str, str, str, int]:
    """(late stop, its vehicle, a vehicle that takes it on time, row) from the demo day."""
    c = panel.controller
    assert c.day is not None and c.evaluation is not None and c.pm is not None
    from dispatcher.planning import suggest_insertions

    for vid, ev in c.evaluation.routes.items():
        for i, sid in enumerate(ev.stop_ids):
            if ev.lateness[i] <= 0:
                continue
            others = [v for v in c.day.plan.routes if v != vid]
            for s in suggest_insertions(c.day.plan, c.pm, sid, 20, others):
                if s.keeps_feasibility and s.added_lateness <= 0:
                    return sid, vid, s.vehicle_id, s.index
    raise SystemExit("the demo day has no late stop that another vehicle can take on time")


def wait(app: QApplication, done: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Process events until ``done()`` (the routes, the solver and the map work meanwhile)."""
    deadline = system_monotonic() + timeout_s
    while not done():
        if system_monotonic() > deadline:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.02)


def optimize_preview(app: QApplication, panel: RoutesPanel, path: Path) -> str:
    """The whole-fleet preview with its map, written to ``path``; returns its status line."""
    from dispatcher_ui.routes.optimize_dialog import start_optimization

    dialog = start_optimization(panel, None)
    wait(app, lambda: dialog.outcome is not None or dialog.error is not None)
    wait(app, lambda: dialog.map is None or dialog.map.loaded, 30)
    settle = system_monotonic() + 2  # tiles (when online) and the canvas
    wait(app, lambda: system_monotonic() > settle)
    dialog.grab().save(str(path))
    status = dialog.status.text()
    dialog.reject()
    return status


def main(out_dir: Path) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    tmp = Path(tempfile.mkdtemp(prefix="route-board-"))
    core = Core(Settings(database_url=f"sqlite:///{tmp / 'demo.sqlite3'}"))
    core.store_scenario(demo_scenario(date(2026, 11, 20)))
    from dispatcher_ui.main_window import MainWindow

    window = MainWindow(core, QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat))
    wait(app, lambda: not window.routes_loading)  # the routes are read off the GUI thread
    panel: RoutesPanel = window.routes_panel
    sid, source, target, row = pick_move(panel)
    panel.show_only({source, target})
    window.resize(1900, 1000)
    window.resizeDocks(
        [window.docks["map"], window.docks["routes"]], [560, 1330], Qt.Orientation.Horizontal
    )
    window.show()
    app.processEvents()
    out_dir.mkdir(parents=True, exist_ok=True)
    before = out_dir / "route_board_before.png"
    panel.grab().save(str(before))
    drop(panel.boards[target], [sid], row)
    app.processEvents()
    after = out_dir / "route_board_after.png"
    panel.grab().save(str(after))
    late = [
        b.model.index(r, 0).data(Role.LATE)
        for b in (panel.boards[source], panel.boards[target])
        for r in range(b.model.rowCount())
    ]
    print(f"moved stop {sid} from {source} to {target} at row {row + 1}")
    print(f"change: {panel.change_label.text()}")
    print(f"late rows on the two boards after the drag: {sum(map(bool, late))}")
    print(f"wrote {before} and {after}")
    preview = out_dir / "optimize_preview.png"
    print(f"optimize fleet: {optimize_preview(app, panel, preview)}")
    print(f"wrote {preview}")
    window.close()
    core.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "route-board-shots")))
