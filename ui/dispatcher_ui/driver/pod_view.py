"""The console's proof-of-delivery view of one stop: who signed, when, where, the pictures.

Filled from :meth:`DriverService.pods` and the file store off the GUI thread
(:func:`load_pods`); the widget only turns bytes into pixmaps. A POD taken farther from the
stop than the fleet allows is said in red (it is also an exception in the queue).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from dispatcher.driver.service import DriverService
from dispatcher.model.driver import MessageView, PodView

THUMB = 180


@dataclass(frozen=True, slots=True)
class LoadedPod:
    pod: PodView
    #: (role, bytes or None when the file is missing from the store)
    files: tuple[tuple[str, bytes | None], ...]


def load_pods(service: DriverService, stop_ref: str) -> list[LoadedPod]:
    """The stop's PODs with their files' bytes (run off the GUI thread)."""
    loaded = []
    for pod in service.pods(stop_ref):
        files: list[tuple[str, bytes | None]] = []
        for f in pod.files:
            if pod.purged_at is not None:  # retention deleted them: nothing to read
                files.append((str(f["role"]), None))
                continue
            try:
                files.append(
                    (str(f["role"]), service.store.open(str(f["sha256"]), str(f["format"])))
                )
            except (OSError, ValueError):
                files.append((str(f["role"]), None))
        loaded.append(LoadedPod(pod, tuple(files)))
    return loaded


class PodPanel(QWidget):
    """The PODs of one stop, newest last."""

    def __init__(self, zone: tzinfo, max_distance_m: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._zone = zone
        self._max = max_distance_m
        self._layout = QVBoxLayout(self)
        self.summary = QLabel("Choose an order to see its proof of delivery.")
        self.summary.setWordWrap(True)
        self._layout.addWidget(self.summary)
        self._cards: list[QWidget] = []
        self._layout.addStretch(1)

    def show_pods(
        self, stop_ref: str, pods: list[LoadedPod], talk: Sequence[MessageView] = ()
    ) -> None:
        """Show ``pods`` and the desk ↔ driver messages about the stop (its history)."""
        for card in self._cards:
            card.deleteLater()
        self._cards = []
        if not pods:
            self.summary.setText(f"Order {stop_ref}: no proof of delivery yet.")
        else:
            self.summary.setText(f"Order {stop_ref}: {len(pods)} proof(s) of delivery")
        cards = [self._card(loaded) for loaded in pods]
        if talk:
            cards.append(self._talk(talk))
        for card in cards:
            self._cards.append(card)
            self._layout.insertWidget(self._layout.count() - 1, card)

    def _talk(self, talk: Sequence[MessageView]) -> QWidget:
        box = QFrame()
        box.setFrameShape(QFrame.Shape.StyledPanel)
        col = QVBoxLayout(box)
        col.addWidget(QLabel("Messages about this order"))
        for m in talk:
            who = "Desk" if m.direction == "desk" else "Driver"
            when = m.created_at.astimezone(self._zone).strftime("%H:%M")
            line = QLabel()
            line.setTextFormat(Qt.TextFormat.PlainText)
            line.setWordWrap(True)
            line.setText(f"{when} {who} ({m.author}): {m.body}")
            col.addWidget(line)
        return box

    def _card(self, loaded: LoadedPod) -> QWidget:
        pod = loaded.pod
        card = QFrame()
        card.setFrameShape(QFrame.Shape.StyledPanel)
        col = QVBoxLayout(card)
        when = pod.taken_at.astimezone(self._zone).strftime("%d %b %Y %H:%M")
        who = pod.recipient or "no name given"
        head = QLabel()
        head.setTextFormat(Qt.TextFormat.PlainText)  # the name comes from a phone: never markup
        head.setText(f"Received by {who} · {when} · vehicle {pod.vehicle_id}")
        col.addWidget(head)
        where = QLabel()
        where.setTextFormat(Qt.TextFormat.PlainText)
        if pod.distance_m is None:
            where.setText("No position from the phone")
        else:
            place = f"{pod.lat:.5f}, {pod.lon:.5f}"
            far = pod.distance_m > self._max
            where.setText(
                f"Taken at {place}, {pod.distance_m:.0f} m from the stop"
                + (f" — farther than {self._max:.0f} m: check it" if far else "")
            )
            if far:
                where.setStyleSheet("color: #b71c1c; font-weight: bold;")
        col.addWidget(where)
        row = QHBoxLayout()
        for role, data in loaded.files:
            label = QLabel()
            label.setToolTip(role)
            pixmap = QPixmap()
            if data is not None and pixmap.loadFromData(data):
                label.setPixmap(
                    pixmap.scaled(
                        THUMB,
                        THUMB,
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )
                label.setStyleSheet("border: 1px solid #90a4ae; background: white;")
            elif pod.purged_at is not None:
                gone = pod.purged_at.astimezone(self._zone).date().isoformat()
                label.setText(f"{role}: deleted {gone} (pod_retention_days)")
            else:
                label.setText(f"{role}: file missing from the store")
            box = QVBoxLayout()
            box.addWidget(label)
            box.addWidget(QLabel(role.capitalize()))
            row.addLayout(box)
        row.addStretch(1)
        col.addLayout(row)
        return card
