"""UI test helpers: answer a real modal dialog the way a person would; open the real window.

A test of a user action opens the console's own dialog (never a stub of it); ``answer_modal``
schedules, before the key or click that opens it, a callback that waits for the modal to
appear, fills it in and accepts or rejects it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from dispatcher.core import Core
from dispatcher_ui.main_window import MainWindow


@dataclass(frozen=True)
class Seen:
    """What the dialog showed (kept as text: the dialog is deleted once answered)."""

    title: str
    text: str


Answer = Callable[[Callable[[QWidget], None]], list[Seen]]


@pytest.fixture
def answer_modal(qapp: Any) -> Answer:
    """``answer_modal(fill)``: when the next modal dialog shows, call ``fill(dialog)``.

    Returns a list that receives what the dialog showed once answered (to assert on its text after).
    """

    def schedule(fill: Callable[[QWidget], None]) -> list[Seen]:
        seen: list[Seen] = []

        def poll() -> None:
            dialog = QApplication.activeModalWidget()
            if dialog is None or not dialog.isVisible():
                QTimer.singleShot(10, poll)
                return
            labels = [w.text() for w in dialog.findChildren(QLabel)]
            seen.append(Seen(dialog.windowTitle(), "\n".join(t for t in labels if t)))
            fill(dialog)

        QTimer.singleShot(0, poll)
        return seen

    return schedule


@pytest.fixture
def board_window(core: Core, open_console: Callable[..., MainWindow]) -> MainWindow:
    """The real main window over the test module's ``core``, its routes read, not shown: the
    route-board tests show it only when a shortcut needs it (``show_active``)."""
    return open_console(core)


@pytest.fixture
def window(qtbot: Any, board_window: MainWindow) -> MainWindow:
    """The real main window over the test module's ``core``, shown, active, its routes read.

    Its settings live in the test's own directory, so no layout leaks between tests.
    """
    w = board_window
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    return w
