"""Messages dock > Templates: supervisors edit, preview and save the customer templates.

The preview renders with sample facts as the editor types (debounced), shows the SMS segment
count, and a template that does not render says which variable or construct is wrong — or
which limit it went over (size, time, loops: ``dispatcher.messaging.sandbox``). Saving checks
the whole template the same way (a trial rendering within the channel's limits), numbers it
one version up and keeps it over the shipped defaults (see
``dispatcher.messaging.template_store``). Both run in a worker (``dispatcher_ui.workers``): a
hostile template costs the worker its time budget, never the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
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
from shiboken6 import isValid

from dispatcher.errors import PermissionDenied
from dispatcher.maps.jsbridge import escape_html
from dispatcher.messaging.compose import Branding
from dispatcher.messaging.situations import ChannelKind, allowed_variables
from dispatcher.messaging.sms_segments import count_segments
from dispatcher.messaging.template_store import sample_context, trial_render
from dispatcher.messaging.templates import PlainValue, Rendered, TemplateError, TemplateSpec
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher.messaging.service import MessagingService


class TemplatesTab(QWidget):
    """List of templates on the left; editor, preview and checks on the right."""

    #: A preview (or the reason there is none) is on screen; carries the body it is for.
    previewed = Signal(str)
    #: A save finished: True when the edit was installed.
    save_finished = Signal(bool)

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
        self._preview_generation = 0
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
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # errors quote the template's text
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

    def _sample(self) -> dict[str, PlainValue]:
        settings = self._service.settings
        branding = Branding(settings.company_name, settings.company_phone)
        return sample_context(self._service.clock.now(), branding, settings.timezone)

    def update_preview(self) -> None:
        """Render the edited text with sample facts in a worker; the newest edit wins."""
        spec = self.edited()
        if spec is None:
            return
        self._preview_generation += 1
        generation = self._preview_generation
        context = self._sample()
        run_in_background(
            lambda: trial_render(spec, context),
            lambda rendered: self._show_preview(generation, spec, rendered),
            lambda exc: self._preview_failed(generation, spec, exc),
        )

    def _show_preview(self, generation: int, spec: TemplateSpec, rendered: Rendered) -> None:
        if not isValid(self) or generation != self._preview_generation:
            return  # closed, or typed over meanwhile
        subject = f"<b>{escape_html(rendered.subject)}</b><br>" if rendered.subject else ""
        self.preview.setText(subject + escape_html(rendered.body).replace("\n", "<br>"))
        if spec.channel is ChannelKind.SMS:
            self.segments.setText(count_segments(rendered.body).describe())
        else:
            self.segments.setText(f"{len(rendered.body)} characters")
        self.error.clear()
        self.error.setStyleSheet("color: #d9534f")
        self.save.setEnabled(spec != self._spec)
        self.previewed.emit(spec.body)

    def _preview_failed(self, generation: int, spec: TemplateSpec, exc: Exception) -> None:
        if not isValid(self) or generation != self._preview_generation:
            return
        self._show_error(exc)
        self.previewed.emit(spec.body)

    def _show_error(self, exc: Exception) -> None:
        if isinstance(exc, TemplateError) and exc.over_limit:
            text = f"Too big to send — {exc}"
        elif isinstance(exc, TemplateError):
            where = f"variable '{exc.variable}': " if exc.variable else ""
            text = f"Does not render — {where}{exc}"
        else:
            text = f"Does not render — {exc}"
        self.error.setStyleSheet("color: #d9534f")
        self.error.setText(text)
        self.preview.clear()
        self.segments.clear()
        self.save.setEnabled(False)

    def save_current(self) -> None:
        """Check within limits, number one up, install and persist the edit, in a worker.

        ``save_finished`` says how it went; a refused edit shows why and is not installed.
        """
        spec = self.edited()
        if spec is None:
            return
        context = self._sample()
        actor = self._actor()
        self.save.setEnabled(False)
        run_in_background(
            lambda: self._service.put_template(spec, actor, context), self._saved, self._save_failed
        )

    def _saved(self, result: tuple[TemplateSpec, str | None]) -> None:
        saved, problem = result
        if not isValid(self):
            return
        self._spec = saved
        self.reload()
        if problem:
            self.error.setText(f"Saved for this session only: {problem}")
        else:
            self.error.setText(f"Saved {saved.template_id} as version {saved.version}.")
            self.error.setStyleSheet("color: #3fae5a")
        self.save_finished.emit(True)

    def _save_failed(self, exc: Exception) -> None:
        if not isValid(self):
            return
        if isinstance(exc, PermissionDenied):
            self.error.setStyleSheet("color: #d9534f")
            self.error.setText(str(exc))
            self.save.setEnabled(True)
        else:
            self._show_error(exc)
        self.save_finished.emit(False)
