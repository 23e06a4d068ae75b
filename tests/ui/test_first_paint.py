"""The window shows, and can be worked, before the day's routes are read (issue 17).

At 500 vehicles / 10,000 stops the day's read and evaluation take seconds in their worker;
the window (frame, docks, map, the empty boards strip and queue) must not wait for them. The
read is held here in the data layer it calls, with a :class:`threading.Event`, so the
window's own start-up runs as it does for a dispatcher; the boards fill once it is let go.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY
from PySide6.QtCore import Qt

from dispatcher.persistence import fleet_repo
from dispatcher_ui.exceptions.panel import LOADING


@dataclass
class Held:
    """The day's route read waits on ``gate``; ``threads``: where it was called."""

    gate: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[Held]:
    """Hold the routes' read (let go at the end whatever happened, so no worker is left
    waiting when the window closes)."""
    state = Held()
    read = fleet_repo.load_routes

    def slow_read(*args: Any, **kwargs: Any) -> Any:
        state.threads.append(threading.current_thread())
        assert state.gate.wait(30), "the test never let the read go"
        return read(*args, **kwargs)

    monkeypatch.setattr(fleet_repo, "load_routes", slow_read)
    yield state
    state.gate.set()


def test_the_window_is_shown_and_usable_while_the_routes_are_read(
    qtbot: Any,
    tmp_path: Path,
    demo_core: Callable[..., Any],
    open_console: Callable[..., Any],
    held: Held,
) -> None:
    core = demo_core(f"sqlite:///{tmp_path / 'paint.sqlite3'}")
    window = open_console(core, wait=False)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.painted, timeout=5000)  # the ticks start from here
    panel = window.routes_panel
    # Shown, with the read still held in its worker: the boards say they are loading.
    qtbot.waitUntil(lambda: bool(held.threads), timeout=5000)
    assert threading.main_thread() not in held.threads
    assert window.routes_loading and not held.gate.is_set()
    assert panel.loading_label.isVisible()
    assert window.loading_label.text() == "Loading the day's routes…"
    assert panel.strip.known == [] and window.stats_label.text() == ""
    # ... and usable: keys reach the filter, a dock comes forward, the queue loads on its own.
    qtbot.keyClicks(window.route_filter, "Sample")
    assert window.route_filter.text() == "Sample"
    window.route_filter.clear()
    kpis = window.docks["kpis"]
    kpis.raise_()
    qtbot.waitUntil(kpis.widget().isVisible, timeout=5000)
    queue = window.exceptions_panel
    qtbot.waitUntil(lambda: queue.message.text() != LOADING, timeout=10000)
    assert window.routes_loading  # still held: none of that waited for the routes
    # Let the read go: the boards, the fleet's names and the counts fill in.
    held.gate.set()
    qtbot.waitUntil(lambda: not window.routes_loading, timeout=15000)
    assert not panel.loading_label.isVisible() and window.loading_label.text() == ""
    vehicles = [v for v in panel.strip.known if v]
    assert vehicles and panel.controller.day is not None
    assert panel.controller.day.plan.routes[vehicles[0]]
    assert window.stats_label.text().endswith("stops")
    assert window.service_day == DAY
    board = panel.boards[vehicles[0]]
    qtbot.mouseClick(board.table.viewport(), Qt.MouseButton.LeftButton)  # a board to work
    assert board.model.rowCount() > 0
    # F5 on the day already on the boards keeps them and does not say "loading" again:
    # showing and hiding that line laid the strip and the status bar out at each reload.
    window.reload_routes()
    assert window.routes_loading and not panel.loading_label.isVisibleTo(panel)
    assert window.loading_label.text() == ""
    qtbot.waitUntil(lambda: not window.routes_loading, timeout=15000)
