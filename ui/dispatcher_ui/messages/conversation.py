"""The Conversation tab of the Messages dock: what we sent the selected stop's customer and
what they replied (SMS replies arrive through the web front's webhooks, docs/web.md).

Read off the GUI thread when the selection changes and now and then while the tab is shown;
every text is escaped (a reply is whatever the customer typed, HTML included).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget
from shiboken6 import isValid

from dispatcher.clock import system_monotonic
from dispatcher.messaging.service import ConversationLine, MessagingService
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

RELOAD_EVERY_S = 10.0
_WHO = {"out": "We", "in": "Customer"}


class ConversationTab(QWidget):
    def __init__(self, window: Shell, service: MessagingService) -> None:
        super().__init__()
        self._window, self._service = window, service
        self._zone = ZoneInfo(service.settings.timezone)
        self._stop_id: int | None = None
        self._last = 0.0
        self._loading = False
        self.title = QLabel("Select a stop to see its conversation.")
        self.title.setObjectName("conversationTitle")
        self.view = QTextBrowser()
        self.view.setObjectName("conversationView")
        self.view.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)

    def show_stop(self, stop_id: int | None) -> None:
        """Show ``stop_id``'s conversation (None: none selected)."""
        self._stop_id = stop_id
        if stop_id is None:
            self.title.setText("Select a stop to see its conversation.")
            self.view.clear()
            return
        self.reload()

    def tick(self) -> None:
        if self.isVisible() and system_monotonic() - self._last >= RELOAD_EVERY_S:
            self.reload()

    def reload(self) -> None:
        stop_id = self._stop_id
        if stop_id is None or self._loading:
            return
        self._loading = True
        self._last = system_monotonic()
        service = self._service

        def done(lines: list[ConversationLine]) -> None:
            if not isValid(self):
                return
            self._loading = False
            if stop_id == self._stop_id:
                self._show(stop_id, lines)

        def failed(exc: Exception) -> None:
            if isValid(self):
                self._loading = False
                self.title.setText(f"Could not load the conversation: {exc}")

        run_in_background(lambda: service.conversation(stop_id), done, failed)

    def _show(self, stop_id: int, lines: list[ConversationLine]) -> None:
        replies = sum(1 for line in lines if line.direction == "in")
        self.title.setText(
            f"Stop #{stop_id}: {len(lines) - replies} sent, {replies} "
            f"repl{'y' if replies == 1 else 'ies'}"
        )
        if not lines:
            self.view.setHtml("<p><i>No messages with this customer yet.</i></p>")
            return
        self.view.setHtml("".join(self._line(line) for line in lines))

    def _line(self, line: ConversationLine) -> str:
        when = line.at.astimezone(self._zone).strftime("%d %b %H:%M")
        align = "left" if line.direction == "in" else "right"
        state = {"opt_out": "STOP: opted out", "opt_in": "START: opted back in"}.get(
            line.state, line.state
        )
        return (
            f'<p align="{align}"><b>{_WHO[line.direction]}</b> '
            f"<small>{escape(when)} · {escape(line.channel)} · {escape(state)}</small><br>"
            f"{escape(line.text).replace(chr(10), '<br>')}</p>"
        )
