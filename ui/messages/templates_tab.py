"""Messages dock > Templates: supervisors edit, preview and save the customer templates.

The preview renders with sample facts as the editor types (debounced), shows the SMS segment
count, and a template that does not render says which variable or construct is wrong. Saving
checks the whole template (sandbox rules, the situation's variables), numbers it one version
up and keeps it over the shipped defaults (see ``dispatcher.messaging.template_store``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from dispatcher.errors import DispatcherError, PermissionDenied
from dispatcher.messaging.compose import Branding, template_context
from dispatcher.messaging.situations import ChannelKind, allowed_variables
from dispatcher.messaging.sms_segments import count_segments
from dispatcher.messaging.template_store import sample_customer, sample_facts, save_override
from dispatcher.messaging.templates import TemplateError, TemplateSpec, render, validate_spec

if TYPE_CHECKING:
    from dispatcher.messaging.service import MessagingService


class TemplatesTab(QWidget):
    """List of templates on the left; editor, preview and checks on the right."""

    def __init__(
        self,
        service: MessagingService,
        actor: Callable[[], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        #: Who saves (the core checks that their role may edit templates).
        self._actor = actor
        self._spec: TemplateSpec | None = None
        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._pick)
        self.subject = QLineEdit()
        self.body = QPlainTextEdit()
        self.body.setObjectName("templateBody")
        self.variables = QLabel()
        self.variables.setWordWrap(True)
        self.preview = QLabel()
        self.preview.setObjectName("templatePreview")
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.segments = QLabel()
        self.error = QLabel()
        self.error.setObjectName("templateError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d9534f")
        self.save = QPushButton("Save as new version")
        self.save.clicked.connect(self.save_current)
        self.revert = QPushButton("Revert")
        self.revert.clicked.connect(lambda: self._load(self._spec))
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.update_preview)
        self.subject.textChanged.connect(self._debounce.start)
        self.body.textChanged.connect(self._debounce.start)
        self._layout()
        self.reload()

    def _layout(self) -> None:
        editor = QWidget()
        form = QFormLayout(editor)
        form.addRow("Subject", self.subject)
        form.addRow("Text", self.body)
        form.addRow("Variables", self.variables)
        form.addRow("Preview", self.preview)
        form.addRow("", self.segments)
        form.addRow("", self.error)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert)
        buttons.addWidget(self.save)
        form.addRow(buttons)
        split = QSplitter()
        split.addWidget(self.list)
        split.addWidget(editor)
        split.setSizes([220, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)

    def reload(self) -> None:
        """Refill the list from the library, keeping the current template selected."""
        current = self._spec.template_id if self._spec else None
        self.list.clear()
        for spec in self._service.templates.all():
            item = QListWidgetItem(f"{spec.template_id}  v{spec.version}")
            item.setData(Qt.ItemDataRole.UserRole, spec.template_id)
            self.list.addItem(item)
            if spec.template_id == current or (current is None and self.list.count() == 1):
                self.list.setCurrentItem(item)

    def select(self, template_id: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == template_id:
                self.list.setCurrentItem(item)

    def _pick(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        wanted = item.data(Qt.ItemDataRole.UserRole)
        spec = next((s for s in self._service.templates.all() if s.template_id == wanted), None)
        self._load(spec)

    def _load(self, spec: TemplateSpec | None) -> None:
        self._spec = spec
        if spec is None:
            return
        self.subject.setEnabled(spec.channel is ChannelKind.EMAIL)
        self.subject.setText(spec.subject)
        self.body.setPlainText(spec.body)
        names = ", ".join(sorted(allowed_variables(spec.situation)))
        self.variables.setText(f"<small>{names}</small>")
        self.update_preview()

    def edited(self) -> TemplateSpec | None:
        """The template as currently typed (same version; saving numbers it)."""
        if self._spec is None:
            return None
        return replace(self._spec, subject=self.subject.text(), body=self.body.toPlainText())

    def update_preview(self) -> None:
        """Check and render the edited text with sample facts; say what is wrong if it fails."""
        spec = self.edited()
        if spec is None:
            return
        settings = self._service.settings
        context = template_context(
            sample_facts(self._service.clock.now()),
            sample_customer(),
            Branding(settings.company_name, settings.company_phone),
            settings.timezone,
        )
        try:
            validate_spec(spec)
            rendered = render(spec, context)
        except TemplateError as exc:
            self._show_error(exc)
            return
        subject = f"<b>{_escape(rendered.subject)}</b><br>" if rendered.subject else ""
        self.preview.setText(subject + _escape(rendered.body).replace("\n", "<br>"))
        if spec.channel is ChannelKind.SMS:
            self.segments.setText(count_segments(rendered.body).describe())
        else:
            self.segments.setText(f"{len(rendered.body)} characters")
        self.error.clear()
        self.error.setStyleSheet("color: #d9534f")
        self.save.setEnabled(spec != self._spec)

    def _show_error(self, exc: TemplateError) -> None:
        where = f"variable '{exc.variable}': " if exc.variable else ""
        self.error.setStyleSheet("color: #d9534f")
        self.error.setText(f"Does not render — {where}{exc}")
        self.preview.clear()
        self.segments.clear()
        self.save.setEnabled(False)

    def save_current(self) -> bool:
        """Validate, number one up, install and persist the edit; ``False`` if refused."""
        spec = self.edited()
        if spec is None:
            return False
        try:
            saved = self._service.put_template(spec, self._actor())
        except PermissionDenied as exc:
            self.error.setText(str(exc))
            return False
        except TemplateError as exc:
            self._show_error(exc)
            return False
        try:
            save_override(saved)
        except (OSError, DispatcherError) as exc:
            self.error.setText(f"Saved for this session only: {exc}")
        self._spec = saved
        self.reload()
        self.error.setText(f"Saved {saved.template_id} as version {saved.version}.")
        self.error.setStyleSheet("color: #3fae5a")
        return True


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
