"""The Messages panel as the message actions see it: :class:`SendFeedback`.

``ui/dispatcher_ui/messages/panel.py`` calls the actions of ``ui/dispatcher_ui/messages/actions.py``
(send, undo); the actions report back to the panel when their worker finishes. They find it in the
window's room registry as ``window.rooms.find(SendFeedback)`` (none when messaging is unavailable),
so the actions name this leaf base class and not the panel: no import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from dispatcher.messaging.service import StopSend


class SendFeedback(QWidget):
    """Where a message action's outcome shows (implemented by ``MessagesPanel``)."""

    def show_send(self, send: StopSend) -> None:
        raise NotImplementedError

    def show_bulk(self, text: str, sends: list[StopSend]) -> None:
        raise NotImplementedError

    def show_error(self, text: str) -> None:
        raise NotImplementedError

    def undone(self, message_id: int, ok: bool) -> None:
        raise NotImplementedError
