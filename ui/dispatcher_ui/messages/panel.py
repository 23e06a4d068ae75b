"""The Messages dock's body: the last send with its Undo, the outbox table, the templates.

The outbox reloads off the GUI thread when the messaging service announces a change
(:class:`~dispatcher.messaging.service.OutboxChanged`, on the core bus) and every few seconds
for what other workstations sent. "Selected stop only" turns the table into the stop's message
history and follows the app's one selection. "Sent by" names the trigger and its reason for
what the automation sent ("Automatic · running late (ETA moved by 25 min)"); "Automatic only"
shows just those. Column layout and filters are remembered in the window's QSettings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from dispatcher.clock import system_monotonic
from dispatcher.maps.jsbridge import escape_html
from dispatcher.messaging.service import MessagingService, OutboxChanged, StopSend
from dispatcher.model.messaging import OutboxMessage, OutboxStatus
from dispatcher_ui.messages.feedback import SendFeedback
from dispatcher_ui.messages.outbox_model import AUTO_PREFIX, Column, OutboxFilter, OutboxModel
from dispatcher_ui.messages.templates_tab import TemplatesTab
from dispatcher_ui.selection import Selection
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

#: Wall seconds between reloads when nothing was announced (other workstations' sends).
RELOAD_EVERY_S = 5.0
HISTORY_LIMIT = 500
#: Where the outbox table's columns and filters are remembered (the window's QSettings).
STATE_KEYS = {
    "header": "messages/outboxHeader",
    "status": "messages/statusFilter",
    "auto_only": "messages/autoOnly",
}


class SendBanner(QFrame):
    """The last one-click send: what, to whom, the text, and Undo while it can still be undone."""

    def __init__(self, window: Shell, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._window = window
        self._message_id: int | None = None
        self._deadline = 0.0
        self.setObjectName("sendBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.title.setObjectName("sendBannerTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)  # callers escape what they put in
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # a message body is never markup
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.undo = QPushButton("Undo")
        self.undo.setObjectName("undoButton")
        self.undo.clicked.connect(self._undo)
        self.undo.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.undo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.text)
        self._timer = QTimer(self, interval=250)
        self._timer.timeout.connect(self._count_down)
        self.hide()

    @property
    def message_id(self) -> int | None:
        return self._message_id

    def show_send(self, send: StopSend, undo_seconds: float) -> None:
        preview = send.outcome.preview
        row = send.message
        what = send.situation.replace("_", " ").capitalize()
        # The title is rich text: names, addresses and reasons are data, shown as text.
        who = escape_html(send.contact.customer.name or send.contact.order_ref)
        if row is None:
            self._message_id = None
            reason = escape_html(send.outcome.reason)
            self.title.setText(f"<b>{what}</b> to {who} — not sent: {reason}")
        else:
            channel = escape_html(row.channel.upper())
            address = escape_html(row.address)
            self.title.setText(f"<b>{what}</b> · {channel} to {who} ({address})")
        body = preview.rendered.body if preview else ""
        extra = f"  [{preview.segments.describe()}]" if preview and preview.segments else ""
        self.text.setText(body + extra)
        self.show()
        if row is not None and row.id is not None and send.outcome.created:
            self._message_id = row.id
            self._deadline = system_monotonic() + undo_seconds
            self.undo.setEnabled(True)
            self._timer.start()
            self._count_down()
        else:
            self._timer.stop()
            self.undo.setEnabled(False)
            self.undo.setText("Undo")
            if row is not None:
                self.title.setText(f"{self.title.text()} — already in the outbox ({row.status})")

    def show_text(self, title: str, text: str = "") -> None:
        self._message_id = None
        self._timer.stop()
        self.undo.setEnabled(False)
        self.undo.setText("Undo")
        self.title.setText(title)
        self.text.setText(text)
        self.show()

    def undone(self, message_id: int, ok: bool) -> None:
        if message_id != self._message_id:
            return
        self._timer.stop()
        self.undo.setEnabled(False)
        self.undo.setText("Cancelled" if ok else "Already sent")

    def _count_down(self) -> None:
        left = self._deadline - system_monotonic()
        if left <= 0:
            self._timer.stop()
            self.undo.setEnabled(False)
            self.undo.setText("Sending…")
            return
        self.undo.setText(f"Undo ({left:.0f} s)")

    def _undo(self) -> None:
        if self._message_id is None:
            return
        from dispatcher_ui.messages.actions import undo_message

        self._timer.stop()
        self.undo.setEnabled(False)
        undo_message(self._window, self._message_id)

    def mark_status(self, rows: list[OutboxMessage]) -> None:
        """Show the fate of the banner's message once the relay has taken it."""
        if self._message_id is None:
            return
        row = next((r for r in rows if r.id == self._message_id), None)
        if row is None or row.status in (OutboxStatus.QUEUED, OutboxStatus.SENDING):
            return
        if row.status is OutboxStatus.CANCELLED:
            self.undo.setText("Cancelled")
        else:
            self._timer.stop()
            self.undo.setEnabled(False)
            self.undo.setText(str(row.status).capitalize())


class MessagesPanel(SendFeedback):
    """Banner + tabs (Outbox, Templates)."""

    def __init__(self, window: Shell, service: MessagingService) -> None:
        super().__init__()
        self._window = window
        self._service = service
        self._loading = False
        self._dirty = True
        self._seen_version = -1
        self._last_load = 0.0
        self.banner = SendBanner(window)
        self.model = OutboxModel(service.settings.timezone, self)
        self.proxy = OutboxFilter(self)
        self.proxy.setSourceModel(self.model)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._outbox_tab(), "Outbox")
        self.templates = TemplatesTab(service, lambda: window.core.user.id)
        self.tabs.addTab(self.templates, "Templates")
        from dispatcher_ui.messages.conversation import ConversationTab

        self.conversation = ConversationTab(window, service)
        self.tabs.addTab(self.conversation, "Conversation")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs)
        unsubscribe = window.core.bus.subscribe(OutboxChanged, self._changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        window.selection.changed.connect(self._selection_changed)

    # -- construction ----------------------------------------------------------------------

    def _outbox_tab(self) -> QWidget:
        tab = QWidget()
        self.status_filter = QComboBox()
        self.status_filter.addItem("All statuses", "")
        for status in OutboxStatus:
            self.status_filter.addItem(str(status).capitalize(), str(status))
        self.status_filter.currentIndexChanged.connect(
            lambda: self.proxy.set_status(self.status_filter.currentData())
        )
        self.text_filter = QLineEdit(placeholderText="Filter (customer, stop, address, text)…")
        self.text_filter.setClearButtonEnabled(True)
        self.text_filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.stop_only = QCheckBox("Selected stop only")
        self.stop_only.toggled.connect(lambda _: self._apply_stop_filter())
        self.auto_only = QCheckBox("Automatic only")
        self.auto_only.setObjectName("outboxAutoOnly")
        self.auto_only.setToolTip(
            "Only what the automatic notifications sent; the Sent by column says which "
            "trigger and why (docs/messaging.md)"
        )
        self.auto_only.toggled.connect(self._auto_only_toggled)
        self.message_button = QPushButton("Message customer")
        self.message_button.setToolTip("Message the selected stop's customer (Ctrl+M)")
        self.message_button.clicked.connect(self._message_selected)
        self.bulk_button = QPushButton("Notify route…")
        self.bulk_button.setToolTip("Message every customer on the route whose ETA moved")
        self.bulk_button.clicked.connect(self._notify_route)
        bar = QHBoxLayout()
        for widget in (self.status_filter, self.text_filter, self.stop_only, self.auto_only):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.message_button)
        bar.addWidget(self.bulk_button)
        self.view = QTableView()
        self.view.setObjectName("outboxView")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(False)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(22)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        widths = {
            Column.CUSTOMER: 150,
            Column.STOP: 150,
            Column.TEMPLATE: 110,
            Column.TEXT: 420,
            Column.SENT_BY: 290,
        }
        for column in Column:
            self.view.setColumnWidth(column, widths.get(column, 80))
        # Why a message went out reads best next to its status (a remembered layout wins).
        header.moveSection(
            header.visualIndex(Column.SENT_BY), header.visualIndex(Column.STATUS) + 1
        )
        self._restore_state()
        header.sectionResized.connect(lambda *_: self._save_state())
        header.sectionMoved.connect(lambda *_: self._save_state())
        self.status_filter.currentIndexChanged.connect(lambda *_: self._save_state())
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        return tab

    # -- remembered state (QSettings, like the window's layout) ------------------------------

    def _auto_only_toggled(self, on: bool) -> None:
        self.proxy.set_auto_only(on)
        self._save_state()

    def _restore_state(self) -> None:
        settings = self._window.qsettings
        state = settings.value(STATE_KEYS["header"])
        if isinstance(state, QByteArray):
            self.view.horizontalHeader().restoreState(state)
        status = settings.value(STATE_KEYS["status"], "")
        index = self.status_filter.findData(str(status or ""))
        self.status_filter.setCurrentIndex(max(index, 0))
        auto = settings.value(STATE_KEYS["auto_only"], False)
        self.auto_only.setChecked(auto in (True, "true", "1", 1))

    def _save_state(self) -> None:
        settings = self._window.qsettings
        settings.setValue(STATE_KEYS["header"], self.view.horizontalHeader().saveState())
        settings.setValue(STATE_KEYS["status"], self.status_filter.currentData() or "")
        settings.setValue(STATE_KEYS["auto_only"], self.auto_only.isChecked())

    # -- showing sends ---------------------------------------------------------------------

    def show_send(self, send: StopSend) -> None:
        self.banner.show_send(send, self._service.settings.undo_seconds)
        self.reveal()
        self.reload()

    def show_bulk(self, text: str, sends: list[StopSend]) -> None:
        lines = [
            f"{s.contact.order_ref}: {s.message.status if s.message else s.outcome.reason}"
            for s in sends[:12]
        ]
        self.banner.show_text(text, "\n".join(lines))
        self.reveal()
        self.reload()

    def show_error(self, text: str) -> None:
        self.banner.show_text("<b>Message not sent</b>", text)
        self.reveal()

    def undone(self, message_id: int, ok: bool) -> None:
        self.banner.undone(message_id, ok)
        self.reload()

    def reveal(self) -> None:
        """Bring the Messages dock to the front (it shares a tab group with others)."""
        dock = self._window.docks.get("messages")
        if dock is not None:
            dock.show()
            dock.raise_()
        self.tabs.setCurrentIndex(0)

    # -- loading ---------------------------------------------------------------------------

    def _changed(self, _event: OutboxChanged) -> None:
        self._dirty = True

    def tick(self) -> None:
        """Per UI tick: reload when something changed, or now and then for other consoles."""
        version = self._service.version
        due = system_monotonic() - self._last_load >= RELOAD_EVERY_S
        if version != self._seen_version or self._dirty or due:
            self._seen_version = version
            self.reload()
        self.conversation.tick()

    def reload(self) -> None:
        if self._loading:
            self._dirty = True
            return
        self._loading = True
        self._dirty = False
        self._last_load = system_monotonic()
        service = self._service
        run_in_background(lambda: _load(service), self._loaded, self._load_failed)

    def _loaded(
        self, result: tuple[list[OutboxMessage], dict[int, str], dict[int, tuple[str, str]]]
    ) -> None:
        if not isValid(self.model):  # the window closed while the rows were loading
            return
        self._loading = False
        rows, names, reasons = result
        self.model.set_rows(rows, names, reasons)
        self.banner.mark_status(rows)

    def _load_failed(self, exc: Exception) -> None:
        if not isValid(self._window):
            return
        self._loading = False
        self._window.statusBar().showMessage(f"Could not load the outbox: {exc}", 8000)

    # -- selection -------------------------------------------------------------------------

    def _selection_changed(self, _selection: Selection) -> None:
        self.conversation.show_stop(self._window.selection.current.stop_id)
        if self.stop_only.isChecked():
            self._apply_stop_filter()

    def show_stop_history(self, stop_id: int | None = None) -> None:
        """The message history of a stop (default: the selected one) in the outbox table."""
        if stop_id is not None:
            self._window.selection.select_stop(stop_id, source="messages")
        self.stop_only.setChecked(True)
        self._apply_stop_filter()
        self.reveal()

    def _apply_stop_filter(self) -> None:
        stop_id = self._window.selection.current.stop_id
        if not self.stop_only.isChecked() or stop_id is None:
            self.proxy.set_stop_ref(None)
            return
        service = self._service

        def found(ref: Any) -> None:
            if not isValid(self.proxy):
                return
            if self.stop_only.isChecked() and self._window.selection.current.stop_id == stop_id:
                self.proxy.set_stop_ref(ref or f"#{stop_id}")

        run_in_background(lambda: service.order_ref_of(stop_id), found, self._load_failed)

    def _message_selected(self) -> None:
        from dispatcher_ui.messages.actions import message_customer

        stop_id = self._window.selection.current.stop_id
        if stop_id is None:
            self._window.statusBar().showMessage("Select a stop first.", 5000)
            return
        message_customer(self._window, stop_id)

    def _notify_route(self) -> None:
        from dispatcher_ui.messages.actions import notify_route_eta_moved

        notify_route_eta_moved(self._window)


def _load(
    service: MessagingService,
) -> tuple[list[OutboxMessage], dict[int, str], dict[int, tuple[str, str]]]:
    rows = service.history(limit=HISTORY_LIMIT)
    ids = {r.customer_id for r in rows if r.customer_id is not None}
    automatic = [r.id for r in rows if r.id is not None and r.created_by.startswith(AUTO_PREFIX)]
    reasons = service.auto_reasons(automatic) if automatic else {}
    return rows, service.customer_names(ids), reasons
