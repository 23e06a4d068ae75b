"""One-click customer messaging, callable from any view (route board, exception queue, map).

``message_customer(window, stop_id, situation)`` is the whole gesture: it picks the template the
situation calls for (at risk / late -> running late with the fresh ETA, failed -> missed you,
``None`` -> from the stop's state), fills it, queues it in the outbox with an undo window of a
few seconds, and shows the preview with an Undo button in the Messages dock. The relay sends it
on the customer's preferred channel once the window has passed. Every database step runs in
the thread pool; the GUI thread only reads the fleet's live positions and shows the result.

Callers import this module lazily inside their slot::

    from dispatcher_ui.messages.actions import message_customer
    message_customer(self.window, stop_id, "running_late")
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from shiboken6 import isValid

from dispatcher.errors import DispatcherError
from dispatcher.messaging.service import MessagingService, StopSend
from dispatcher.messaging.stop_facts import VehicleFix
from dispatcher_ui.messages.feedback import SendFeedback
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

log = logging.getLogger(__name__)

#: Default for the bulk action's "ETA moved by more than N minutes".
DEFAULT_THRESHOLD_MIN = 15


def messaging_service(window: Shell) -> MessagingService:
    """The core's messaging service (dispatcher/app.py adds it); ``ServiceMissing`` (a
    ``DispatcherError``) on a core built without one, which the callers show."""
    return window.core.service(MessagingService)


def available_service(window: Shell) -> MessagingService | None:
    """The messaging service, or None after telling the dispatcher why there is none."""
    try:
        return messaging_service(window)
    except DispatcherError as exc:
        _say(window, f"Messaging is not available: {exc}")
        return None


def current_actor(window: Shell) -> str:
    """Who is clicking: the desk's user (OS login mapped to a users row; the core checks it)."""
    return window.core.user.id


def live_fixes(window: Shell) -> dict[str, VehicleFix]:
    """Every vehicle's last good position, read on the GUI thread (which owns the fleet)."""
    live = window.core.live
    if live is None:
        return {}
    fixes = {}
    for snap in live.fleet.snapshots():
        if snap.lat is not None and snap.lon is not None:
            when = snap.fix_time or snap.last_seen or window.core.clock.now()
            fixes[snap.vehicle_id] = VehicleFix(snap.lat, snap.lon, when)
    return fixes


def message_customer(window: Shell, stop_id: int, situation: str | None = None) -> None:
    """Compose, queue (with an undo window) and preview the message ``stop_id`` calls for.

    ``situation``: ``"running_late"``/``"late"``/``"at_risk"``, ``"missed_you"``/``"failed"``,
    ``"arriving_soon"``, ``"delivered"``... or ``None`` to decide from the stop's state. A
    second click on the same stop finds the same outbox row and sends nothing more.
    """
    service = available_service(window)
    if service is None:
        return
    fixes = live_fixes(window)
    actor = current_actor(window)
    _say(window, "Preparing the customer message…", 3000)
    run_in_background(
        lambda: service.message_stop(stop_id, situation, actor, fixes),
        lambda send: _sent(window, send),
        lambda exc: _failed(window, exc),
    )


def notify_route_eta_moved(
    window: Shell, vehicle_id: str | None = None, threshold_min: int | None = None
) -> None:
    """Bulk: message every customer on the route whose ETA moved by more than N minutes.

    Without arguments it uses the selected vehicle and asks for N (default 15).
    """
    vehicle_id = vehicle_id or window.selection.current.vehicle_id
    if not vehicle_id:
        _say(window, "Select a vehicle or one of its stops first.")
        return
    if threshold_min is None:
        from PySide6.QtWidgets import QInputDialog

        value, ok = QInputDialog.getInt(
            window,
            "Notify customers",
            f"Message every customer on {vehicle_id}'s route whose ETA moved by more than "
            "(minutes):",
            DEFAULT_THRESHOLD_MIN,
            1,
            240,
        )
        if not ok:
            return
        threshold_min = value
    service = available_service(window)
    if service is None:
        return
    fixes = live_fixes(window)
    actor = current_actor(window)
    threshold = timedelta(minutes=threshold_min)
    _say(window, f"Checking the ETAs on {vehicle_id}'s route…", 3000)
    run_in_background(
        lambda: service.notify_route(vehicle_id, threshold, actor, fixes),
        lambda sends: _bulk_sent(window, vehicle_id, threshold_min, sends),
        lambda exc: _failed(window, exc),
    )


def undo_message(window: Shell, message_id: int) -> None:
    """Cancel a message still in its undo window (off the GUI thread)."""
    service = available_service(window)
    if service is None:
        return
    actor = current_actor(window)
    run_in_background(
        lambda: service.undo(message_id, actor),
        lambda ok: _undone(window, message_id, bool(ok)),
        lambda exc: _failed(window, exc),
    )


def _sent(window: Shell, send: StopSend) -> None:
    if not isValid(window):  # closed while the job ran
        return
    panel = _panel(window)
    if panel is not None:
        panel.show_send(send)
    row = send.message
    if row is None:
        _say(window, f"No message to {send.contact.order_ref}: {send.outcome.reason}", 10000)
    elif not send.outcome.created:
        _say(window, f"That message is already in the outbox ({row.status}).", 6000)
    else:
        _say(window, f"{send.situation.replace('_', ' ').capitalize()} message queued.", 6000)


def _bulk_sent(window: Shell, vehicle_id: str, threshold: int, sends: list[StopSend]) -> None:
    if not isValid(window):  # closed while the job ran
        return
    queued = sum(1 for s in sends if s.outcome.created)
    repeats = sum(1 for s in sends if s.message is not None and not s.outcome.created)
    blocked = [s for s in sends if s.message is None]
    text = (
        f"{vehicle_id}: {len(sends)} customers with an ETA moved by more than {threshold} min; "
        f"{queued} messages queued, {repeats} already sent, {len(blocked)} not reachable."
    )
    panel = _panel(window)
    if panel is not None:
        panel.show_bulk(text, sends)
    _say(window, text, 10000)


def _undone(window: Shell, message_id: int, ok: bool) -> None:
    if not isValid(window):  # closed while the job ran
        return
    panel = _panel(window)
    if panel is not None:
        panel.undone(message_id, ok)
    _say(window, "Message cancelled." if ok else "Too late to undo: the message has left.", 6000)


def _failed(window: Shell, exc: Exception) -> None:
    if not isValid(window):  # closed while the job ran
        return
    if isinstance(exc, DispatcherError):
        text = str(exc)
    else:
        log.error("customer message failed", exc_info=exc)
        text = f"unexpected error: {exc}"
    panel = _panel(window)
    if panel is not None:
        panel.show_error(text)
    _say(window, f"Message not sent: {text}", 10000)


def _panel(window: Shell) -> SendFeedback | None:
    return window.rooms.find(SendFeedback)  # the Messages panel; none without messaging


def _say(window: Shell, text: str, ms: int = 6000) -> None:
    window.statusBar().showMessage(text, ms)
