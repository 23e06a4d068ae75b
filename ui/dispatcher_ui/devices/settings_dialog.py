"""Fleet > Device settings…: every device setting with its value, its default and its source.

Thin over :mod:`dispatcher.telemetry.settings_edit`: the configuration file is read, and an
admin's edit is checked by the configuration loader and written back (tomlkit, comments
kept), off the GUI thread. The rows are the core's list of settings — topics and the native
prefix, each format's default profile, the filters, the devices list's bounds — so a setting
added to ``[telemetry]`` shows here without a change to this file. Other roles see the same
view read-only. Saved values take effect at the next start: the view says so, and shows the
value still running beside a saved one until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dispatcher.config import default_config_path
from dispatcher.errors import DispatcherError, ValidationError
from dispatcher.model.users import Permission, User, allowed
from dispatcher.telemetry.settings_edit import (
    RESTART_NOTE,
    Kind,
    SettingRow,
    SettingsView,
    format_value,
    parse_value,
    read_view,
    save_changes,
)
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher.core import Core
    from dispatcher_ui.shell import Shell

MENU = "F&leet"
ACTION_TEXT = "Device &settings…"
COLUMNS = ("Setting", "Value", "Default", "From", "Meaning")
KEY_ROLE = Qt.ItemDataRole.UserRole + 1
Editor = QLineEdit | QComboBox


class DeviceSettingsDialog(QDialog):
    """The device settings of ``view``; editable when ``user`` may change settings."""

    def __init__(
        self, core: Core, user: User, view: SettingsView, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Device settings")
        self.setObjectName("DeviceSettingsDialog")
        self.resize(1280, 900)
        self._core = core
        self.user = user
        self.view = view
        self.editable = allowed(user, Permission.EDIT_SETTINGS) and not view.problem
        self.editors: dict[str, Editor] = {}
        #: Settings the admin set back to their default (removed from the file on Save).
        self.reset_keys: set[str] = set()
        self.header = QLabel()
        self.header.setObjectName("settings_header")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree = QTreeWidget()
        self.tree.setObjectName("settings_tree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.status = QLabel()
        self.status.setObjectName("settings_status")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        self.reset_button = QPushButton("Reset to default")
        self.reset_button.setToolTip("Set the selected setting back to its default")
        self.reset_button.clicked.connect(self.reset_selected)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("settings_save")
        self.save_button.clicked.connect(self.save)
        for button in (self.reset_button, self.save_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
            button.setVisible(self.editable)
        self.reset_button.setAutoDefault(False)
        self.save_button.setDefault(self.editable)
        if self.editable:  # what can be typed in looks like a field; read-only values do not
            self.tree.setStyleSheet(
                "QTreeWidget QLineEdit { border: 1px solid #5a6170; border-radius: 3px;"
                " padding: 1px 4px; }"
            )
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.show_view(view)

    # -- showing ----------------------------------------------------------------------------
    def show_view(self, view: SettingsView) -> None:
        """Fill the tree from ``view`` (after loading, and again after a save)."""
        self.view = view
        self.editors.clear()
        self.reset_keys.clear()
        self.tree.clear()
        self.header.setText(self._header_text(view))
        if view.problem:
            self.status.setStyleSheet("color: #d9534f")
            self.status.setText(f"{view.problem} Fix the file by hand; the values shown run now.")
        groups: dict[str, QTreeWidgetItem] = {}
        for row in view.rows:
            group = groups.get(row.spec.group)
            if group is None:
                group = groups[row.spec.group] = self._group(row.spec.group)
            self._add_row(group, row)
        self.tree.expandAll()
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.tree.setColumnWidth(1, 240)

    def _header_text(self, view: SettingsView) -> str:
        where = f"{view.path}" + ("" if view.exists else " (not there yet: all defaults)")
        if self.editable:
            return f"Device settings from {where}. Edit a value, then Save. {RESTART_NOTE}"
        who = f"{self.user.id} ({self.user.role.value})"
        return f"Device settings from {where}. {who} may look; an admin changes them."

    def _group(self, title: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(self.tree, [title])
        font = QFont(item.font(0))
        font.setBold(True)
        item.setFont(0, font)
        item.setFirstColumnSpanned(True)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        return item

    def _add_row(self, group: QTreeWidgetItem, row: SettingRow) -> None:
        spec = row.spec
        item = QTreeWidgetItem(
            group,
            [
                spec.label,
                "",
                format_value(spec, row.default),
                self._source(row),
                spec.meaning,
            ],
        )
        item.setData(0, KEY_ROLE, spec.key)
        item.setToolTip(0, spec.key)
        where = str(self.view.path) if row.in_file else "not in the file: the default"
        if row.pending:
            running = format_value(spec, row.running)
            where += f"; saved, but this console runs {running} until it restarts"
        item.setToolTip(3, where)
        item.setToolTip(4, spec.meaning)
        editor = self._editor(row)
        self.editors[spec.key] = editor
        self.tree.setItemWidget(item, 1, editor)

    def _source(self, row: SettingRow) -> str:
        text = self.view.path.name if row.in_file else "default"
        return f"{text} · after restart" if row.pending else text

    def _editor(self, row: SettingRow) -> Editor:
        spec = row.spec
        text = format_value(spec, row.value)
        editor: Editor
        if spec.kind is Kind.CHOICE:
            editor = QComboBox()
            editor.addItems(list(spec.choices))
            editor.setCurrentText(text)
            editor.setEnabled(self.editable)
            editor.currentTextChanged.connect(lambda _, k=spec.key: self._edited(k))
        else:
            editor = QLineEdit(text)
            editor.setReadOnly(not self.editable)
            if spec.kind is Kind.NUMBER_OR_OFF:
                editor.setPlaceholderText("a number, or off")
            editor.textEdited.connect(lambda _, k=spec.key: self._edited(k))
        editor.setObjectName(f"setting:{spec.key}")
        editor.setToolTip(spec.meaning)
        return editor

    # -- editing ----------------------------------------------------------------------------
    def _edited(self, key: str) -> None:
        self.reset_keys.discard(key)
        self.status.setStyleSheet("")
        self.status.setText("Not saved yet.")

    def selected_key(self) -> str | None:
        item = self.tree.currentItem()
        key = None if item is None else item.data(0, KEY_ROLE)
        return None if key is None else str(key)

    def reset_selected(self) -> None:
        """Show the selected setting's default; Save then removes it from the file."""
        key = self.selected_key()
        if key is None:
            self.status.setText("Select a setting to reset.")
            return
        row = self.view.row(key)
        set_text(self.editors[key], format_value(row.spec, row.default))
        self.reset_keys.add(key)
        self.status.setStyleSheet("")
        self.status.setText(f"{row.spec.label} back to its default: Save to apply.")

    def changes(self) -> dict[str, Any]:
        """Setting key → new file value (``None``: remove, back to the default).

        Raises ValidationError listing every value that cannot be read; nothing is saved then.
        """
        out: dict[str, Any] = {}
        problems: list[str] = []
        for key, editor in self.editors.items():
            row = self.view.row(key)
            if key in self.reset_keys:
                if row.in_file:
                    out[key] = None
                continue
            text = editor_text(editor)
            if text == format_value(row.spec, row.value):
                continue
            try:
                out[key] = parse_value(row.spec, text)
            except ValidationError as exc:
                problems.append(str(exc))
        if problems:
            raise ValidationError("; ".join(problems))
        return out

    def save(self) -> None:
        """Check, then write off the GUI thread; the dialog keeps what was typed if refused."""
        try:
            changes = self.changes()
        except ValidationError as exc:
            self._refused(exc)
            return
        if not changes:
            self.status.setStyleSheet("")
            self.status.setText("Nothing changed.")
            return
        core, actor, path = self._core, self.user.id, self.view.path
        self.save_button.setEnabled(False)
        self.status.setStyleSheet("")
        self.status.setText("Saving…")
        run_in_background(
            lambda: save_changes(core.db, actor, path, changes, core.settings),
            lambda view: self._saved(view, len(changes)),
            self._refused,
        )

    def _saved(self, view: SettingsView, count: int) -> None:
        self.save_button.setEnabled(True)
        self.show_view(view)
        self.status.setStyleSheet("")
        noun = "setting" if count == 1 else "settings"
        self.status.setText(f"Saved {count} {noun} to {view.path}. {RESTART_NOTE}")

    def _refused(self, exc: Exception) -> None:
        self.save_button.setEnabled(True)
        self.status.setStyleSheet("color: #d9534f")
        text = str(exc) if isinstance(exc, DispatcherError) else f"unexpected error: {exc}"
        self.status.setText(f"Not saved — {text}")


def editor_text(editor: Editor) -> str:
    return editor.currentText() if isinstance(editor, QComboBox) else editor.text()


def set_text(editor: Editor, text: str) -> None:
    if isinstance(editor, QComboBox):
        editor.setCurrentText(text)
    else:
        editor.setText(text)


def open_device_settings(window: Shell) -> None:
    """Read the file and who is at the desk off the GUI thread, then show the view."""
    core = window.core
    path = core.settings.source or default_config_path()

    def load() -> tuple[User, SettingsView]:
        return core.user, read_view(path, core.settings)

    def show(result: tuple[User, SettingsView]) -> None:
        user, view = result
        dialog = DeviceSettingsDialog(core, user, view, window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.device_settings_dialog = dialog
        dialog.show()

    def failed(exc: Exception) -> None:
        window.statusBar().showMessage(f"Device settings: {exc}", 10000)

    run_in_background(load, show, failed)


def add_device_settings_action(window: Shell) -> None:
    """Fleet > Device settings…"""
    window._action(
        window.menu(MENU),
        ACTION_TEXT,
        lambda: open_device_settings(window),
        help="Device settings: topics, format profiles, filters",
    )
