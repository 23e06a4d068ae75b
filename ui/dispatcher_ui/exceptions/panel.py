"""The Exceptions dock body: filters, the queue, the detail pane and the actions.

Thin by design: every decision (who may do what, which transition is possible, the priority
order) is the core's (:class:`~dispatcher.alerts.desk.AlertDesk`); this widget shows the queue,
turns keys and menu entries into desk commands and the core's refusals into a sentence.
Reloads and saves run off the GUI thread (:func:`dispatcher_ui.workers.run_in_background`); a reload
is asked for by :class:`~dispatcher.alerts.events.AlertsChanged` and coalesced to one in flight.
A save is optimistic: the row shows the new state marked "saving…" at once, and goes back
(with the core's reason under the queue) if the save is refused or the database is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QSplitter,
    QTableView,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from dispatcher.alerts.desk import AlertDesk
from dispatcher.alerts.events import AlertsChanged
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import system_monotonic
from dispatcher.errors import DispatcherError
from dispatcher.model.alerts import Alert, AlertKind, AlertStatus, Severity, User
from dispatcher.model.alerts import Role as UserRole
from dispatcher_ui.exceptions.detail import detail_html
from dispatcher_ui.exceptions.model import KIND_LABELS, AlertsFilter, AlertsModel, Column, Role
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

log = logging.getLogger(__name__)

SOURCE = "exceptions"
#: The queue's message line until its first read lands.
LOADING = "Loading the exceptions…"
#: (action key, label, shortcut) of the queue's keyboard actions.
ACTIONS = (
    ("acknowledge", "&Acknowledge", "A"),
    ("take", "Assign to &me", "T"),
    ("escalate", "&Escalate to supervisor", "E"),
    ("resolve", "&Resolve…", "R"),
    ("dismiss", "&Dismiss (supervisor)", "D"),
    ("message", "Message &customer…", "C"),
    ("map", "Show on &map", "M"),
    ("route", "Open &route", "O"),
    ("apply_request", "A&pply customer request", "P"),
    ("decline_request", "Dec&line customer request…", "L"),
)


class ExceptionsPanel(QWidget):
    """Queue + filters + detail pane for one user at one workstation."""

    #: Emitted after every reload with (open, critical, mine) for the dock title.
    counts_changed = Signal(int, int, int)
    #: Emitted with the ids of critical alerts that appeared since the last reload.
    new_critical = Signal(list)

    def __init__(self, window: Shell, desk: AlertDesk, user: User | None) -> None:
        """``user`` None: the first reload finds the user at the keyboard (``desk.login``)
        in its worker, so the dock is built without the database; actions wait for it."""
        super().__init__()
        self.window_ = window
        self.desk = desk
        self._identified = user is not None
        user = user or User("unknown", UserRole.VIEWER, "identifying you…")
        self.user = user
        self.model = AlertsModel(window.core.clock.now, parent=self)
        self.proxy = AlertsFilter(self)
        self.proxy.user_id = user.id
        self.proxy.setSourceModel(self.model)
        self.actions_by_key: dict[str, QAction] = {}
        self._loading = False
        self._dirty = True
        self._writes = 0  # saves ended so far: a read started before the last one is stale
        self._reads = 0  # reads asked for so far: one overtaken by a newer read is dropped
        self._known: set[int] | None = None  # ids seen by the last reload (None: first)
        self._detail_for: int | None = None
        self.last_error = ""
        self._build()
        unsubscribe = window.core.bus.subscribe(AlertsChanged, self._on_changed)
        window.selection.changed.connect(self._on_selection)
        self.destroyed.connect(lambda *_: unsubscribe())
        self._last_repaint = 0.0

    # -- construction --------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._filters())
        self.view = QTableView()
        self.view.setObjectName("exceptionsView")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.proxy.sort(-1)
        self.view.horizontalHeader().setSortIndicatorShown(False)
        self.view.horizontalHeader().sortIndicatorChanged.connect(
            lambda *_: self.view.horizontalHeader().setSortIndicatorShown(True)
        )
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(22)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in zip(Column, (70, 120, 95, 160, 50, 55, 95, 80), strict=False):
            self.view.setColumnWidth(col, width)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().currentRowChanged.connect(self._on_current)
        self.view.doubleClicked.connect(lambda *_: self.trigger("map"))
        self.detail = QTextBrowser()
        self.detail.setObjectName("exceptionDetail")
        self.detail.setOpenLinks(False)
        self.detail.setHtml("<p><i>Select an exception to see its vehicle, stop and history.</i>")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.view)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)
        # Until the first read lands the queue is empty because it is not read yet, not
        # because nothing is wrong: say so (the window shows before the day is read).
        self.message = QLabel(LOADING)
        self.message.setObjectName("exceptionsMessage")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        for key, label, shortcut in ACTIONS:
            action = QAction(label, self)
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _=False, k=key: self.trigger(k))
            self.view.addAction(action)
            self.actions_by_key[key] = action

    def _filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.mine_box = QCheckBox("Mine")
        self.unassigned_box = QCheckBox("Unassigned")
        self.escalated_box = QCheckBox("Escalated")
        self.kind_box = QComboBox()
        self.kind_box.addItem("All kinds", None)
        for kind in AlertKind:
            self.kind_box.addItem(KIND_LABELS[kind].capitalize(), kind)
        self.severity_box = QComboBox()
        self.severity_box.addItem("Any severity", None)
        for sev in sorted(Severity, reverse=True):
            self.severity_box.addItem(f"{sev.name.capitalize()}+", sev)
        self.mine_box.toggled.connect(lambda on: self.proxy.set_filters(mine=on))
        self.unassigned_box.toggled.connect(lambda on: self.proxy.set_filters(unassigned=on))
        self.escalated_box.toggled.connect(lambda on: self.proxy.set_filters(escalated=on))
        self.kind_box.currentIndexChanged.connect(
            lambda _: self.proxy.set_filters(kind=self.kind_box.currentData())
        )
        self.severity_box.currentIndexChanged.connect(
            lambda _: self.proxy.set_filters(min_severity=self.severity_box.currentData())
        )
        self.priority_button = QToolButton()
        self.priority_button.setText("Sort by priority")
        self.priority_button.clicked.connect(self.sort_by_priority)
        self.user_label = QLabel(f"{self.user.name} ({self.user.role.value})")
        self.user_label.setToolTip("The OS account's user in the database (docs/exceptions.md)")
        for w in (self.mine_box, self.unassigned_box, self.escalated_box):
            row.addWidget(w)
        row.addWidget(self.kind_box)
        row.addWidget(self.severity_box)
        row.addWidget(self.priority_button)
        row.addStretch(1)
        row.addWidget(self.user_label)
        return row

    # -- loading -------------------------------------------------------------------------

    def request_reload(self) -> None:
        self._dirty = True

    def on_tick(self) -> None:
        """Per UI tick: start a pending reload; repaint age and SLA about once a second."""
        if self._dirty and not self._loading:
            self.reload()
        now = system_monotonic()
        if now - self._last_repaint >= 1.0:
            self._last_repaint = now
            self.repaint_clock_columns()

    def repaint_clock_columns(self) -> None:
        """Age and SLA read the clock when painted: repaint those cells where they are seen.

        Not ``dataChanged`` over every row (:meth:`AlertsModel.refresh_clock_columns`): the
        filter proxy then tested each row again, a call into Python per row every second.
        The time passes alike for every alert, so an order by age or SLA stays as it is.
        """
        if not self.view.isVisible():
            return
        header = self.view.horizontalHeader()
        viewport = self.view.viewport()
        for column in (Column.AGE, Column.SLA):
            x = header.sectionViewportPosition(column)
            viewport.update(QRect(x, 0, header.sectionSize(column), viewport.height()))

    def reload(self, *, background: bool = True) -> None:
        """Read the queue from the database (off the GUI thread unless ``background=False``)."""
        self._dirty = False
        self._loading = True
        self._reads += 1
        user, desk, read = self.user, self.desk, self._reads
        writes = self._writes
        identify = None if self._identified else desk.login

        def work() -> tuple[list[Alert], dict[str, str], User]:
            who = user if identify is None else _identify(identify)
            return desk.queue(who), self.window_.core.vehicle_names(), who

        if not background:
            self._loaded(work())
            return
        run_in_background(
            work, lambda r: self._loaded(r, writes, read), lambda e: self._load_failed(e, read)
        )

    def _loaded(
        self,
        result: tuple[list[Alert], dict[str, str], User],
        writes: int = -1,
        read: int | None = None,
    ) -> None:
        """Show a read queue, unless a newer read was asked for since this one began: that
        one shows it. (An older read landing last took away a row selected meanwhile, and
        the selection moved to its neighbour: a key then acted on another exception.)"""
        if not isValid(self):  # closed while the reload ran
            return
        if read is not None and read != self._reads:
            return
        self._loading = False
        alerts, names, who = result
        if not self._identified:
            self._set_user(who)
        if writes >= 0 and writes != self._writes:  # read before a save ended: read again
            self.reload()
            return
        if self.message.text() == LOADING:
            self.show_message("")
        current = self.current_alert()
        self.model.vehicle_names = names
        self.model.set_alerts(alerts)
        if current is not None and current.id is not None:
            self.select_alert(current.id, announce=False)
        ids = {a.id for a in alerts if a.id is not None}
        if self._known is not None:
            fresh = [
                a.id
                for a in alerts
                if a.id not in self._known and a.severity is Severity.CRITICAL and a.is_open
            ]
            if fresh:
                self.new_critical.emit(fresh)
        self._known = ids
        critical = sum(1 for a in alerts if a.severity is Severity.CRITICAL)
        mine = sum(1 for a in alerts if a.assignee == self.user.id)
        self.counts_changed.emit(len(alerts), critical, mine)
        if self._detail_for is not None:
            self._show_detail(self._detail_for)

    def _set_user(self, user: User) -> None:
        self.user, self._identified = user, True
        self.proxy.user_id = user.id
        self.proxy.invalidate()
        self.user_label.setText(f"{user.name} ({user.role.value})")

    def _load_failed(self, exc: Exception, read: int | None = None) -> None:
        if not isValid(self) or (read is not None and read != self._reads):
            return
        self._loading = False
        self.show_message(f"Could not load the exceptions: {exc}")

    def _on_changed(self, event: AlertsChanged) -> None:
        self.request_reload()

    # -- selection -----------------------------------------------------------------------

    def current_alert(self) -> Alert | None:
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        alert = index.data(Role.ALERT)
        return alert if isinstance(alert, Alert) else None

    def select_alert(self, alert_id: int, *, announce: bool = True) -> bool:
        row = self.model.row_of(alert_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        if not announce:
            self.view.selectionModel().blockSignals(True)
        self.view.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        if not announce:
            self.view.selectionModel().blockSignals(False)
        return True

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        alert = current.data(Role.ALERT) if current.isValid() else None
        if not isinstance(alert, Alert) or alert.id is None:
            return
        self.window_.selection.select_alert(
            alert.id, vehicle_id=alert.vehicle_id, stop_id=_stop_int(alert), source=SOURCE
        )
        self._show_detail(alert.id)

    def _on_selection(self, selection: Any) -> None:
        if getattr(selection, "source", "") == SOURCE:
            return
        alert_id = getattr(selection, "alert_id", None)
        if isinstance(alert_id, int):
            self.select_alert(alert_id, announce=False)
            self._show_detail(alert_id)

    def _show_detail(self, alert_id: int) -> None:
        self._detail_for = alert_id
        row = self.model.row_of(alert_id)
        alert = self.model.alert_at(row) if row is not None else None
        if alert is None:
            return
        desk, stop_id = self.desk, _stop_int(alert)

        def work() -> tuple[Any, Any]:
            stop = desk.stop_info(stop_id) if stop_id is not None else None
            return stop, desk.history(alert_id)

        def done(result: tuple[Any, Any]) -> None:
            if isValid(self) and self._detail_for == alert_id:
                vehicle = self.model.vehicle_names.get(alert.vehicle_id or "", alert.vehicle_id)
                self.detail.setHtml(
                    detail_html(
                        alert,
                        vehicle,
                        result[0],
                        result[1],
                        self.window_.core.clock.now(),
                        self._display_tz(),
                    )
                )

        run_in_background(work, done, lambda exc: self.show_message(f"Detail: {exc}"))

    def _display_tz(self) -> Any:
        """The fleet's time zone, as the route boards show it (none: the clock's)."""
        routes = getattr(self.window_, "routes_model", None)
        return getattr(routes, "timezone", None)

    # -- actions -------------------------------------------------------------------------

    def trigger(self, key: str) -> None:
        """Run the action ``key`` (see :data:`ACTIONS`) on the current alert."""
        alert = self.current_alert()
        if alert is None or alert.id is None:
            self.show_message("Select an exception first.")
            return
        handlers: dict[str, Callable[[Alert], None]] = {
            "acknowledge": self._acknowledge,
            "take": self._take,
            "escalate": self._escalate,
            "resolve": self._resolve,
            "dismiss": self._dismiss,
            "message": self._message,
            "map": self._show_on_map,
            "route": self._open_route,
            "apply_request": self._apply_request,
            "decline_request": self._decline_request,
        }
        handlers[key](alert)

    def _command(
        self, alert: Alert, command: Callable[[AlertService], Alert], shown: Alert
    ) -> None:
        """Save a desk command in a worker; the row shows ``shown`` (the state it is saving,
        marked "saving…") meanwhile. A refusal puts the row back and says why in words."""
        alert_id = _id(alert)
        if not self._identified:
            self.show_message("Still finding who you are in the database; try again.", error=True)
            return
        if alert_id in self.model.pending:
            self.show_message(f"Exception #{alert_id} is still being saved.", error=True)
            return
        self.model.show_pending(shown)
        self.show_message(f"Saving exception #{alert_id}…")
        desk = self.desk

        def saved(result: Alert) -> None:
            if not isValid(self):
                return
            self.model.settle(alert_id, result)
            if self.message.text().startswith("Saving"):
                self.show_message("")
            desk.announce(result)  # here, on the bus's thread: the other rooms hear it
            self._after_write()

        def refused(exc: Exception) -> None:
            if not isValid(self):
                return
            self.model.settle(alert_id, alert)
            refusal = isinstance(exc, DispatcherError)  # the core's words; else the database's
            reason = str(exc) if refusal else f"not saved, {type(exc).__name__}: {exc}"[:200]
            self.show_message(reason, error=True)
            self._after_write()

        run_in_background(lambda: desk.write(command), saved, refused)

    def _after_write(self) -> None:
        """Re-read the queue; a read already in flight may predate the write, so it is dropped."""
        self._writes += 1
        if self._loading:
            self._dirty = True
        else:
            self.reload()

    def _acknowledge(self, alert: Alert) -> None:
        shown = replace(alert, status=AlertStatus.ACKNOWLEDGED, acknowledged_by=self.user.id)
        self._command(alert, lambda s: s.acknowledge(_id(alert), self.user, alert.version), shown)

    def _take(self, alert: Alert) -> None:
        shown = replace(alert, status=AlertStatus.ASSIGNED, assignee=self.user.id)
        self._command(
            alert, lambda s: s.assign(_id(alert), self.user, self.user, alert.version), shown
        )

    def _escalate(self, alert: Alert) -> None:
        from dispatcher_ui.exceptions.dialogs import ask_note

        note = ask_note(self, "Escalate", f"Escalate “{alert.title}” to a supervisor. Why?")
        if note is not None:
            self._command(
                alert,
                lambda s: s.escalate(_id(alert), self.user, alert.version, note),
                replace(alert, status=AlertStatus.ESCALATED),
            )

    def _resolve(self, alert: Alert) -> None:
        from dispatcher_ui.exceptions.dialogs import ask_resolution

        answer = ask_resolution(self, alert)
        if answer is not None:
            code, note = answer
            self._command(
                alert,
                lambda s: s.resolve(_id(alert), self.user, alert.version, code, note),
                replace(alert, status=AlertStatus.RESOLVED),
            )

    def _dismiss(self, alert: Alert) -> None:
        from dispatcher_ui.exceptions.dialogs import ask_note

        note = ask_note(self, "Dismiss", f"Dismiss “{alert.title}”? Note (optional):")
        if note is not None:
            self._command(
                alert,
                lambda s: s.dismiss(_id(alert), self.user, alert.version, note),
                replace(alert, status=AlertStatus.DISMISSED),
            )

    def _message(self, alert: Alert) -> None:
        stop_id = _stop_int(alert)
        if stop_id is None:
            self.show_message("This exception is not about a customer's stop.", error=True)
            return
        from dispatcher.messaging.situations import alert_situation

        situation = alert_situation(alert.kind)
        try:
            from dispatcher_ui.messages.actions import message_customer
        except ImportError:
            self.show_message("Customer messaging is not available in this build.", error=True)
            return
        message_customer(self.window_, stop_id, situation)

    def _driver(self, alert: Alert) -> None:
        """The talk with the alert's driver in the driver app (about its stop, if any)."""
        from dispatcher_ui.driver.desk_dialog import open_driver_desk

        dialog = open_driver_desk(self.window_, alert.stop_id, alert.vehicle_id)
        dialog.tabs.setCurrentIndex(2)

    def _apply_request(self, alert: Alert) -> None:
        """Carry out what the customer asked on the tracking page (docs/web.md)."""
        self._decide_request(alert, None)

    def _decline_request(self, alert: Alert) -> None:
        from dispatcher_ui.exceptions.dialogs import ask_note

        note = ask_note(self, "Decline", f"Decline “{alert.title}”? What will you tell them?")
        if note is not None:
            self._decide_request(alert, note or "declined")

    def _decide_request(self, alert: Alert, decline_note: str | None) -> None:
        """Apply (``decline_note`` None) or decline the request in a worker: the core changes
        the stop, closes the exception and queues the customer's confirmation."""
        request_id = _request_id(alert)
        if request_id is None:
            self.show_message("This exception is not a customer's request.", error=True)
            return
        if not self._identified:
            self.show_message("Still finding who you are in the database; try again.", error=True)
            return
        from dispatcher.web.requests import customer_requests

        requests = customer_requests(self.window_.core)
        user = self.user
        self.show_message(f"Saving exception #{_id(alert)}…")

        def work() -> object:
            if decline_note is None:
                return requests.apply(request_id, user)
            return requests.decline(request_id, user, decline_note)

        def done(_result: object) -> None:
            if not isValid(self):
                return
            verb = "Applied" if decline_note is None else "Declined"
            self.show_message(f"{verb} the customer's request; they are told by message.")
            self.desk.announce(alert)
            self._after_write()

        def failed(exc: Exception) -> None:
            if isValid(self):
                refusal = isinstance(exc, DispatcherError)
                reason = str(exc) if refusal else f"not saved, {type(exc).__name__}: {exc}"
                self.show_message(reason[:200], error=True)

        run_in_background(work, done, failed)

    def _show_on_map(self, alert: Alert) -> None:
        self._select_target(alert)
        dock = self.window_.docks.get("map")
        if dock is not None:
            dock.show()
            dock.raise_()

    def _open_route(self, alert: Alert) -> None:
        self._select_target(alert)
        dock = self.window_.docks.get("routes")
        if dock is not None:
            dock.show()
            dock.raise_()

    def _select_target(self, alert: Alert) -> None:
        stop = _stop_int(alert)
        if alert.id is not None:
            self.window_.selection.select_alert(
                alert.id, vehicle_id=alert.vehicle_id, stop_id=stop, source=SOURCE
            )

    def _context_menu(self, pos: QPoint) -> None:
        if not self.view.indexAt(pos).isValid():
            return
        menu = QMenu(self)
        for key, action in self.actions_by_key.items():
            if key == "message":
                menu.addSeparator()
            menu.addAction(action)
        alert = self.current_alert()
        if alert is not None:
            self._enable_actions(alert)
            if alert.vehicle_id:
                driver = menu.addAction("Message the driver…")
                driver.triggered.connect(partial(self._driver, alert))
        menu.exec(self.view.viewport().mapToGlobal(pos))
        for action in self.actions_by_key.values():  # keys stay live: the core decides
            action.setEnabled(True)

    def _enable_actions(self, alert: Alert) -> None:
        """Grey out what the workflow cannot do now (the core still decides on trigger)."""
        working = alert.status in (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED, AlertStatus.ASSIGNED)
        enabled = {
            "acknowledge": alert.status is AlertStatus.NEW,
            "take": working and alert.assignee != self.user.id,
            "escalate": working,
            "resolve": alert.is_open,
            "dismiss": alert.is_open and self.user.is_supervisor,
            "message": alert.stop_id is not None,
            "apply_request": _request_id(alert) is not None and alert.is_open,
            "decline_request": _request_id(alert) is not None and alert.is_open,
        }
        for key, action in self.actions_by_key.items():
            action.setEnabled(enabled.get(key, True))

    # -- feedback ------------------------------------------------------------------------

    def sort_by_priority(self) -> None:
        self.proxy.sort(-1)
        self.view.horizontalHeader().setSortIndicatorShown(False)

    def show_message(self, text: str, *, error: bool = False) -> None:
        """One line under the queue (conflicts, refusals); cleared by the next success."""
        self.last_error = text if error else ""
        self.message.setText(text)
        self.message.setStyleSheet("color: #d32f2f;" if error and text else "")
        if error and text:
            QTimer.singleShot(15000, self, lambda: self._clear_message(text))  # dies with us

    def _clear_message(self, text: str) -> None:
        if self.message.text() == text:
            self.show_message("")


def _id(alert: Alert) -> int:
    assert alert.id is not None
    return alert.id


def _request_id(alert: Alert) -> int | None:
    """The customer request behind a ``customer_request`` exception, else None."""
    if alert.kind is not AlertKind.CUSTOMER_REQUEST:
        return None
    value = (alert.details or {}).get("request_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _stop_int(alert: Alert) -> int | None:
    """The stop's database id (alerts carry it as text)."""
    if alert.stop_id and alert.stop_id.isdigit():
        return int(alert.stop_id)
    return None


def _identify(login: Callable[[], User]) -> User:
    """The user at the keyboard (worker thread); a database that cannot say: a viewer."""
    try:
        return login()
    except DispatcherError as exc:  # a read-only or unreachable database: look, don't touch
        log.error("cannot identify the user: %s", exc)
        return User("unknown", UserRole.VIEWER, "unknown")
