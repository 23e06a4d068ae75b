"""Where is my order: the support agent's screen (Support > Where is my order…, Ctrl+Shift+W).

Type an order reference, a customer's name or phone number; results follow as you type (a
short pause, then one search in a worker: the GUI thread never reads the database, and an
answer overtaken by newer typing is dropped). Down or Enter moves into the results, Up from
the first result back to the query, Escape closes. The selected order's card (status, ETA,
route position, timeline of messages, driver reports, exceptions and proof of delivery) is
read in a worker too (dispatcher/support/card.py).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from dispatcher import display
from dispatcher.model.users import User
from dispatcher.support.card import OrderCard, order_card
from dispatcher.support.search import OrderRow, find_orders
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher.core import Core

#: Milliseconds of quiet typing before a search starts.
DEBOUNCE_MS = 200


class OrderSearchDialog(QDialog):
    """Search field, result list and the selected order's card; not modal (a call goes on)."""

    def __init__(self, core: Core, user: User, region: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Where is my order")
        self.setObjectName("OrderSearchDialog")
        self.resize(980, 560)
        self.core, self.user, self.region = core, user, region
        self._asked = self._card_asked = 0
        self._go_in_when_found = False
        self.query = QLineEdit()
        self.query.setPlaceholderText("Order reference, customer name or phone number")
        self.query.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)
        self.status = QLabel("Type to search.")
        split = QSplitter()
        split.addWidget(self.results)
        split.addWidget(self.card)
        split.setSizes([360, 620])
        layout = QVBoxLayout(self)
        layout.addWidget(self.query)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.search_now)
        self.query.textChanged.connect(lambda _t: self._timer.start())
        self.query.returnPressed.connect(self._into_results)
        self.query.installEventFilter(self)
        self.results.installEventFilter(self)
        self.results.currentRowChanged.connect(self._show_card)
        #: The last search's rows and the card shown (tests read them).
        self.rows: list[OrderRow] = []
        self.shown: OrderCard | None = None

    # -- keyboard ------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            if watched is self.query and key == Qt.Key.Key_Down:
                self._into_results()
                return True
            if watched is self.results and key == Qt.Key.Key_Up and self.results.currentRow() <= 0:
                self.query.setFocus()
                return True
        return super().eventFilter(watched, event)

    def _into_results(self) -> None:
        if self._timer.isActive():  # Enter before the pause ended: search now, go in after
            self._timer.stop()
            self._go_in_when_found = True
            self.search_now()
            return
        if self.results.count():
            self.results.setFocus()
            if self.results.currentRow() < 0:
                self.results.setCurrentRow(0)

    # -- search --------------------------------------------------------------------------
    def search_now(self) -> None:
        self._timer.stop()
        self._asked += 1
        asked, text = self._asked, self.query.text()
        db, user, region = self.core.db, self.user, self.region
        if not text.strip():
            self._found(asked, [])
            return
        self.status.setText("Searching…")
        run_in_background(
            lambda: find_orders(db, user, text, region),
            lambda rows: self._found(asked, rows),
            lambda exc: self._failed(asked, exc),
        )

    def _found(self, asked: int, rows: list[OrderRow]) -> None:
        if not shiboken6.isValid(self) or asked != self._asked:
            return  # closed, or newer typing overtook this search
        self.rows = rows
        self.results.clear()
        for r in rows:
            vehicle = r.vehicle_id or "unassigned"
            item = QListWidgetItem(
                f"{r.order_ref} · {r.customer_name or '—'} · {r.status} · "
                f"{display.current().date(r.service_date)} · {vehicle}"
            )
            item.setData(Qt.ItemDataRole.UserRole, r.stop_id)
            self.results.addItem(item)
        if not self.query.text().strip():
            self.status.setText("Type to search.")
        else:
            self.status.setText(f"{len(rows)} order(s) found" if rows else "No order found.")
        if not rows:
            self.card.clear()
            self.shown = None
        elif self._go_in_when_found:
            self._into_results()
        self._go_in_when_found = False

    def _failed(self, asked: int, exc: Exception) -> None:
        if shiboken6.isValid(self) and asked == self._asked:
            self.status.setText(f"Search failed: {exc}")

    # -- the card ------------------------------------------------------------------------
    def _show_card(self, row: int) -> None:
        if row < 0 or row >= len(self.rows):
            return
        self._card_asked += 1
        asked, stop_id = self._card_asked, self.rows[row].stop_id
        db, user = self.core.db, self.user
        run_in_background(
            lambda: order_card(db, user, stop_id),
            lambda card: self._card_read(asked, card),
            lambda exc: self._card_read(asked, None, str(exc)),
        )

    def _card_read(self, asked: int, card: OrderCard | None, error: str = "") -> None:
        if not shiboken6.isValid(self) or asked != self._card_asked:
            return
        self.shown = card
        if card is None:
            self.card.setHtml(f"<p>{escape(error or 'This order no longer exists.')}</p>")
            return
        self.card.setHtml(card_html(card))


def card_html(card: OrderCard) -> str:
    """The card as HTML; every stored text is escaped (a customer name is not markup)."""
    d = display.current()
    f = card.facts
    r = f.row

    def when(value: object) -> str:
        return escape(d.instant(value)) if isinstance(value, datetime) else "—"

    if f.sequence is not None:
        position = (
            f"{escape(r.vehicle_id or '')}, stop {f.sequence} of {f.route_stops}"
            f" ({f.open_before} open stop(s) before it)"
        )
    else:
        position = "not on a route"
    if f.actual_arrival is not None:
        eta = f"arrived {when(f.actual_arrival)}"
    elif f.last_eta is not None:
        recorded, value, _actual = f.last_eta
        eta = f"{when(value)} (as the boards said at {when(recorded)})"
    elif f.planned_arrival is not None:
        eta = f"{when(f.planned_arrival)} (planned)"
    else:
        eta = "—"
    window = (
        f"{when(f.window_start)}–{when(f.window_end)}"
        if f.window_start is not None and f.window_end is not None
        else "any time"
    )
    rows = [
        (
            "Status",
            escape(r.status) + (f" — {escape(f.failure_reason)}" if f.failure_reason else ""),
        ),
        ("Customer", f"{escape(r.customer_name)} · {escape(r.customer_phone)}"),
        ("Address", escape(r.address)),
        ("Day / window", f"{escape(d.date(r.service_date))} · {window}"),
        ("ETA", eta),
        ("Route position", position),
        ("Attempts", str(f.attempts)),
        ("Proof of delivery", escape(f.pod_ref) or "—"),
    ]
    head = "".join(f"<tr><th align='left'>{k}</th><td>{v}</td></tr>" for k, v in rows)
    items = "".join(
        f"<tr><td>{escape(d.stamp(local(i.ts), year=False))}</td>"
        f"<td><b>{escape(i.kind)}</b></td><td>{escape(i.text)}"
        + (f"<br><i>{escape(i.detail)}</i>" if i.detail else "")
        + "</td></tr>"
        for i in card.items
    )
    problems = "".join(f"<p style='color:#b00'>{escape(p)}</p>" for p in card.problems)
    return (
        f"<h3>{escape(r.order_ref)}</h3><table cellspacing='4'>{head}</table>"
        f"<h4>Timeline</h4>{problems}<table cellspacing='4'>"
        f"{items or '<tr><td>nothing recorded yet</td></tr>'}</table>"
    )


def local(ts: datetime) -> datetime:
    """``ts`` in the fleet's zone (display's), for a date and time shown together."""
    zone = display.current().zone
    return ts.astimezone(ZoneInfo(zone)) if zone else ts
