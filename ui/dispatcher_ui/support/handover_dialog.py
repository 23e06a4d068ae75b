"""Shift handover (Support > Shift handover…): write one, read them, take over a shift.

The outgoing dispatcher sets when their shift began, adds a note and presses "Hand over":
the report (open exceptions, promises made to customers, locks, notes; dispatcher/support/
handover.py) is gathered and stored in the audit log in a worker. The incoming dispatcher
selects it and presses "Take over": the core refuses the author, a viewer or an inactive
user, and a handover someone already took. Both steps are in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import shiboken6
from PySide6.QtCore import Qt, QTime
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from dispatcher import display
from dispatcher.model.users import User
from dispatcher.support import handover
from dispatcher.support.handover import HandoverReport, HandoverState
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher.core import Core


class HandoverDialog(QDialog):
    def __init__(self, core: Core, user: User, day: date, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Shift handover — {user.id}")
        self.setObjectName("HandoverDialog")
        self.resize(900, 620)
        self.core, self.user, self.day = core, user, day
        self.zone = ZoneInfo(core.fleet.timezone)
        now = core.clock.now().astimezone(self.zone)
        began = now - timedelta(hours=8)
        self.since_edit = QTimeEdit(QTime(began.hour, 0))
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("What the next shift should know")
        self.note_edit.setMaximumHeight(80)
        self.hand_over_button = QPushButton("&Hand over")
        self.hand_over_button.clicked.connect(self.hand_over)
        self.take_over_button = QPushButton("&Take over the selected shift")
        self.take_over_button.clicked.connect(self.take_over)
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._show)
        self.report_view = QTextBrowser()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.states: list[HandoverState] = []
        top = QHBoxLayout()
        top.addWidget(QLabel("My shift began at"))
        top.addWidget(self.since_edit)
        top.addStretch(1)
        top.addWidget(self.hand_over_button)
        body = QHBoxLayout()
        body.addWidget(self.list, 1)
        body.addWidget(self.report_view, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.note_edit)
        layout.addLayout(body, 1)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.take_over_button)
        layout.addLayout(row)
        self.busy = False
        self.refresh()

    def _run(self, fn: Callable[[], object], done_text: str) -> None:
        self.busy = True

        def ok(_result: object) -> None:
            if shiboken6.isValid(self):
                self.busy = False
                self.status.setText(done_text)
                self.refresh()

        def failed(exc: Exception) -> None:
            if shiboken6.isValid(self):
                self.busy = False
                self.status.setText(str(exc))

        run_in_background(fn, ok, failed)

    def hand_over(self) -> None:
        core, user, day, note = self.core, self.user, self.day, self.note_edit.toPlainText()
        now = core.clock.now()
        t = self.since_edit.time()
        since = datetime.combine(
            now.astimezone(self.zone).date(), time(t.hour(), t.minute()), self.zone
        )
        if since > now:
            since -= timedelta(days=1)  # a night shift began yesterday

        def work() -> None:
            report = handover.build_report(core.db, user, now, since, day, note)
            handover.publish(core.db, report)

        self._run(work, "Handover stored: the next shift takes it over here.")

    def take_over(self) -> None:
        row = self.list.currentRow()
        if row < 0 or row >= len(self.states):
            self.status.setText("Select the handover you take over.")
            return
        core, user, hid = self.core, self.user, self.states[row].report.id
        self._run(
            lambda: handover.acknowledge(core.db, user.id, hid, core.clock.now()),
            f"You ({user.id}) took over the shift of {self.states[row].report.author}.",
        )

    def refresh(self) -> None:
        self.busy = True
        db = self.core.db

        def read(states: list[HandoverState]) -> None:
            if not shiboken6.isValid(self):
                return
            self.busy = False
            self.states = states
            self.list.clear()
            d = display.current()
            for s in states:
                taken = f"taken by {s.acknowledged_by}" if s.acknowledged_by else "NOT TAKEN OVER"
                item = QListWidgetItem(
                    f"{d.stamp(datetime.fromisoformat(s.report.created_at).astimezone(self.zone))}"
                    f" · {s.report.author} · {taken}"
                )
                item.setData(Qt.ItemDataRole.UserRole, s.report.id)
                self.list.addItem(item)
            if states:
                self.list.setCurrentRow(0)

        def failed(exc: Exception) -> None:
            if shiboken6.isValid(self):
                self.busy = False
                self.status.setText(f"Could not read the handovers: {exc}")

        run_in_background(lambda: handover.handovers(db), read, failed)

    def _show(self, row: int) -> None:
        if 0 <= row < len(self.states):
            self.report_view.setHtml(report_html(self.states[row], self.zone))


def report_html(state: HandoverState, zone: ZoneInfo) -> str:
    """The handover as HTML; every stored text escaped."""
    r: HandoverReport = state.report
    d = display.current()

    def at(iso: str) -> str:
        return escape(d.stamp(datetime.fromisoformat(iso).astimezone(zone), year=False))

    def table(rows: list[list[str]], empty: str) -> str:
        if not rows:
            return f"<p><i>{empty}</i></p>"
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table cellspacing='4'>{body}</table>"

    taken = (
        f"taken over by <b>{escape(state.acknowledged_by)}</b>"
        f" at {escape(d.instant(state.acknowledged_at))}"
        if state.acknowledged_by and state.acknowledged_at
        else "<b>not taken over yet</b>"
    )
    parts = [
        f"<h3>Handover by {escape(r.author)} — {at(r.created_at)}</h3>",
        f"<p>Shift from {at(r.since)}; {taken}.</p>",
    ]
    if r.shift_note:
        parts.append(f"<p><b>Note:</b> {escape(r.shift_note)}</p>")
    parts.append(f"<h4>Open exceptions ({len(r.exceptions)})</h4>")
    parts.append(
        table(
            [
                [
                    f"#{e['id']}",
                    escape(str(e["status"])),
                    escape(str(e["title"] or e["kind"])),
                    escape(str(e.get("assignee") or "")),
                ]
                for e in r.exceptions
            ],
            "none",
        )
    )
    parts.append(f"<h4>Promises to customers ({len(r.open_promises)} still open)</h4>")
    parts.append(
        table(
            [
                [
                    escape(p.order_ref),
                    escape(", ".join(p.times)),
                    escape(p.order_status or "?"),
                    at(p.sent_at),
                    escape(p.body),
                ]
                for p in r.promises
            ],
            "no message named a time",
        )
    )
    parts.append(f"<h4>Locks ({len(r.locks)})</h4>")
    parts.append(
        table(
            [
                [
                    escape(str(lk["order"])),
                    escape(str(lk["vehicle"] or "unassigned")),
                    ", ".join(
                        n
                        for n, on in (
                            ("pinned", lk["pinned"]),
                            ("kept on vehicle", lk["keep_on_vehicle"]),
                        )
                        if on
                    )
                    + (f" group {escape(str(lk['lock_group']))}" if lk["lock_group"] else ""),
                ]
                for lk in r.locks
            ],
            "no locked stops",
        )
    )
    parts.append(f"<h4>Notes on exceptions ({len(r.notes)})</h4>")
    parts.append(
        table(
            [
                [
                    at(str(n["ts"])),
                    f"#{escape(str(n['alert_id']))}",
                    escape(str(n["actor"])),
                    escape(str(n["note"])),
                ]
                for n in r.notes
            ],
            "none",
        )
    )
    return "".join(parts)


def _lock_text(lock: dict[str, object]) -> str:
    kinds = [
        n for n, key in (("pinned", "pinned"), ("kept on vehicle", "keep_on_vehicle")) if lock[key]
    ]
    if lock["lock_group"]:
        kinds.append(f"group {escape(str(lock['lock_group']))}")
    return ", ".join(kinds)
