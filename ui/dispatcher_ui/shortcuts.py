"""One registry of the window's actions and keyboard shortcuts (Spyder-style: context, name,
key).

Why one place: two rooms once bound Ctrl+Shift+M each; Qt then calls the shortcut ambiguous,
fires neither and only says so in a log line, and Help listed the key twice. Every action of
the window is added here: a key sequence already bound in an overlapping context raises
:class:`DuplicateShortcut` while the window is built (so a test and the start-up fail, not the
dispatcher's key press), Help > Keyboard shortcuts is generated from the entries, and the
walkthrough suite (tests/ui/walkthrough/) enumerates them to drive each one.

Contexts: :data:`WINDOW` shortcuts work anywhere in the window, so they clash with a key of any
context; a widget context (the exception queue's single letters, the replay bar's Space) only
clashes with the same context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

#: Shortcuts that work wherever the focus is in the main window.
WINDOW = "window"

KeySpec = str | QKeySequence.StandardKey | None


class DuplicateShortcut(RuntimeError):
    """Two entries bind one key sequence in overlapping contexts, or share a name.

    A programming error, raised while the window is built: never a message to the user.
    """


@dataclass(frozen=True)
class Entry:
    """One registered action or key: ``context``/``name`` identify it, ``keys`` trigger it."""

    context: str
    name: str
    help: str
    keys: tuple[str, ...]
    action: QAction | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return f"{self.context}/{self.name}"


def key_texts(spec: KeySpec) -> tuple[str, ...]:
    """The portable texts of every sequence ``spec`` stands for (a standard key may be two)."""
    if spec is None:
        return ()
    if isinstance(spec, QKeySequence.StandardKey):
        sequences = QKeySequence.keyBindings(spec)
    else:
        sequences = [QKeySequence(spec)]
    texts = (s.toString(QKeySequence.SequenceFormat.PortableText) for s in sequences)
    return tuple(t for t in texts if t)


def plain(text: str) -> str:
    """A menu text without its mnemonic and ellipsis: "Move stops to &vehicle…" -> ..."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


class ShortcutRegistry:
    """The window's actions and keys; see the module docstring."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(
        self,
        action: QAction,
        context: str = WINDOW,
        name: str | None = None,
        *,
        keys: KeySpec = None,
        help: str | None = None,
    ) -> QAction:
        """Register ``action`` (setting its shortcut to ``keys`` if given); returns it."""
        if keys is not None:
            if isinstance(keys, QKeySequence.StandardKey):
                action.setShortcuts(keys)
            else:
                action.setShortcut(QKeySequence(keys))
        texts = tuple(
            s.toString(QKeySequence.SequenceFormat.PortableText) for s in action.shortcuts()
        )
        label = plain(action.text())
        self._add(Entry(context, name or label, help or label, texts, action))
        action.setObjectName(f"action:{context}/{name or label}")
        return action

    def add_key(self, context: str, name: str, keys: str, help: str) -> None:
        """Register a key that is not a QAction (a QShortcut of a widget, e.g. Space)."""
        self._add(Entry(context, name, help, key_texts(keys)))

    def create(
        self,
        parent: QObject,
        text: str,
        slot: Callable[..., object],
        keys: KeySpec = None,
        *,
        context: str = WINDOW,
        name: str | None = None,
        help: str | None = None,
    ) -> QAction:
        """A new registered QAction owned by ``parent`` that calls ``slot`` when triggered."""
        action = QAction(text, parent)
        action.triggered.connect(slot)
        return self.add(action, context, name, keys=keys, help=help)

    def _add(self, entry: Entry) -> None:
        for other in self.entries:
            if other.id == entry.id:
                raise DuplicateShortcut(f"two actions are registered as {entry.id!r}")
            if not _overlap(other.context, entry.context):
                continue
            for key in set(other.keys) & set(entry.keys):
                raise DuplicateShortcut(
                    f"{key} is bound twice: {other.id!r} ({other.help}) and "
                    f"{entry.id!r} ({entry.help})"
                )
        self.entries.append(entry)

    def find(self, context: str, name: str) -> Entry:
        for entry in self.entries:
            if (entry.context, entry.name) == (context, name):
                return entry
        raise KeyError(f"{context}/{name}")

    def help_rows(self) -> list[tuple[str, str]]:
        """(keys, what) for every entry with a key, window-wide first, in the order added."""
        keyed = [e for e in self.entries if e.keys]
        keyed.sort(key=lambda e: e.context != WINDOW)
        rows = []
        for entry in keyed:
            where = "" if entry.context == WINDOW else f" (in the {entry.context})"
            rows.append((" or ".join(entry.keys), f"{entry.help}{where}"))
        return rows

    def help_html(self) -> str:
        rows = "".join(
            f"<tr><td><b>{escape(keys)}</b></td><td>{escape(what)}</td></tr>"
            for keys, what in self.help_rows()
        )
        return f"<table>{rows}</table>"


def _overlap(a: str, b: str) -> bool:
    """Whether a key in context ``a`` and one in ``b`` can both be live at one key press."""
    return a == b or WINDOW in (a, b)
