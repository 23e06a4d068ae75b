"""One tab of the Fleet setup dialog: a table of records and a form to add or edit one.

The tab only translates gestures: it hands the form's text to the core (the fleet setup desk
or the users desk) off the GUI thread and shows what comes back — the saved row, or each
bad field's message under its field. It decides nothing about what is valid or allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dispatcher.errors import DispatcherError
from dispatcher.model.fleet_setup import FieldErrors
from dispatcher_ui.workers import run_in_background

Record = dict[str, Any]
ERROR_STYLE = "color: #d9534f"


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    choices: tuple[str, ...] = ()
    hint: str = ""


@dataclass(frozen=True, slots=True)
class TabActions:
    """What the tab's buttons do, each called off the GUI thread."""

    load: Callable[[], list[Record]]
    save: Callable[[dict[str, str], bool], object]
    retire: Callable[[Record], object] | None = None
    retire_label: str = "Retire"


#: Forms with more fields than this are laid out in two columns.
TWO_COLUMNS_ABOVE = 12


class RecordTab(QWidget):
    """Table above, form below; New / Save / Retire buttons."""

    #: A change was stored (text for the dialog's status line).
    changed = Signal(str)
    #: Emitted when a background load or save has finished (tests wait on it).
    idle = Signal()

    def __init__(
        self, fields: Sequence[Field], actions: TabActions, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.fields = list(fields)
        self.tab_actions = actions
        self.records: list[Record] = []
        self.editing: Record | None = None
        self.busy = False
        self.table = QTableWidget(0, len(self.fields) + 1)
        self.table.setHorizontalHeaderLabels([f.label for f in self.fields] + ["In service"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._pick)
        self.inputs: dict[str, QLineEdit | QComboBox] = {}
        self.errors: dict[str, QLabel] = {}
        form = self._form()
        self.message = QLabel()
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.new_button = QPushButton("New")
        self.save_button = QPushButton("Save")
        self.retire_button = QPushButton(actions.retire_label)
        self.retire_button.setVisible(actions.retire is not None)
        self.new_button.clicked.connect(self.start_new)
        self.save_button.clicked.connect(self.save)
        self.retire_button.clicked.connect(self.retire)
        buttons = QHBoxLayout()
        for b in (self.new_button, self.save_button, self.retire_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.extra_buttons = buttons
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    def _form(self) -> QHBoxLayout:
        """One input per field, with its error label under it (hidden until needed). A long
        record (a vehicle's shift, costs, limits and break) gets two columns, so the table
        above keeps room for more than one row."""
        row = QHBoxLayout()
        half = (len(self.fields) + 1) // 2 if len(self.fields) > TWO_COLUMNS_ABOVE else None
        form = QFormLayout()
        row.addLayout(form, 1)
        for i, f in enumerate(self.fields):
            if half is not None and i == half:
                form = QFormLayout()
                row.addLayout(form, 1)
            widget: QLineEdit | QComboBox
            if f.choices:
                widget = QComboBox()
                widget.addItems(list(f.choices))
            else:
                widget = QLineEdit()
                widget.setPlaceholderText(f.hint)
            widget.setObjectName(f"field_{f.key}")
            error = QLabel()
            error.setObjectName(f"error_{f.key}")
            error.setStyleSheet(ERROR_STYLE)
            error.hide()
            box = QVBoxLayout()
            box.setSpacing(0)
            box.addWidget(widget)
            box.addWidget(error)
            form.addRow(f.label, box)
            self.inputs[f.key], self.errors[f.key] = widget, error
        return row

    # -- showing -----------------------------------------------------------------------

    def reload(self) -> None:
        self._run(self.tab_actions.load, self._show_records, writing=False)

    def _show_records(self, records: list[Record]) -> None:
        self.records = records
        self.table.setRowCount(len(records))
        for row, record in enumerate(records):
            for col, f in enumerate(self.fields):
                self.table.setItem(row, col, QTableWidgetItem(_text(record.get(f.key))))
            active = "yes" if record.get("active", True) else "retired"
            self.table.setItem(row, len(self.fields), QTableWidgetItem(active))

    def row_of(self, key: str, value: str) -> int:
        """The table row whose ``key`` column shows ``value`` (-1 if none)."""
        return next((i for i, r in enumerate(self.records) if _text(r.get(key)) == value), -1)

    def _pick(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        self.editing = self.records[rows[0].row()]
        for f in self.fields:
            self._set(f.key, _text(self.editing.get(f.key)))
        self._clear_errors()

    def start_new(self) -> None:
        self.table.clearSelection()
        self.editing = None
        for f in self.fields:
            self._set(f.key, "")
        self._clear_errors()

    def _set(self, key: str, value: str) -> None:
        widget = self.inputs[key]
        if isinstance(widget, QComboBox):
            widget.setCurrentText(value)
        else:
            widget.setText(value)

    def values(self) -> dict[str, str]:
        return {
            key: w.currentText() if isinstance(w, QComboBox) else w.text()
            for key, w in self.inputs.items()
        }

    # -- doing -------------------------------------------------------------------------

    def save(self) -> None:
        values, new = self.values(), self.editing is None
        self._clear_errors()
        self._run(lambda: self.tab_actions.save(values, new), lambda _r: self._stored("Saved"))

    def retire(self) -> None:
        record, retire = self.editing, self.tab_actions.retire
        if record is None or retire is None:
            self.message.setText("Select a row first.")
            return
        self._run(lambda: retire(record), lambda _r: self._stored(self.tab_actions.retire_label))

    def _stored(self, what: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(f"{what}.")
        self.changed.emit(what)
        self.reload()

    def _run(
        self, work: Callable[[], Any], done: Callable[[Any], None], *, writing: bool = True
    ) -> None:
        """Run ``work`` off the GUI thread; Save is disabled while a write is under way."""
        self.busy = True
        if writing:
            self.save_button.setEnabled(False)

        def finish(result: Any) -> None:
            if not alive(self.table):  # the dialog was closed while the work ran
                return
            self.busy = False
            if writing:
                self.save_button.setEnabled(True)
            done(result)
            self.idle.emit()

        run_in_background(work, finish, self._failed)

    def _failed(self, exc: Exception) -> None:
        if not alive(self.table):
            return
        self.busy = False
        self.save_button.setEnabled(True)
        if isinstance(exc, FieldErrors):
            for key, text in exc.fields.items():
                label = self.errors.get(key)
                if label is not None:
                    label.setText(text)
                    label.show()
            self.message.setText("Nothing was saved: correct the fields marked in red.")
        elif isinstance(exc, DispatcherError):
            self.message.setText(str(exc))
        else:
            self.message.setText(f"Unexpected error: {exc}")
        self.message.setStyleSheet(ERROR_STYLE)
        self.idle.emit()

    def _clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.hide()
        self.message.clear()


def alive(widget: QWidget) -> bool:
    """False once Qt has deleted ``widget`` (a late callback must not touch it)."""
    return bool(shiboken6.isValid(widget))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
