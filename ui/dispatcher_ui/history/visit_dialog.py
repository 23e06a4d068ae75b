"""Proof of visit: "which vehicles were within R metres of this point (or in this zone)
between T1 and T2", answered from position history by :mod:`dispatcher.history.visits`.

The point can be typed, or taken from the selected stop; a zone is typed as corners
("lat, lon; lat, lon; ..."). The query runs off the GUI thread; the table lists each vehicle
with its first and last fix inside, the time spent and the closest approach.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dispatcher import display
from dispatcher.core import Core
from dispatcher.errors import DispatcherError, ValidationError
from dispatcher.history.visits import Circle, Polygon, Visit, Zone, proof_of_visit
from dispatcher_ui.history.replay_bar import from_qdatetime, to_qdatetime
from dispatcher_ui.workers import run_in_background

HEADERS = ("Vehicle", "First inside", "Last inside", "Time inside", "Fixes", "Closest")


def parse_corners(text: str) -> Polygon:
    """``"52.5, 13.4; 52.6, 13.4; 52.6, 13.5"`` -> a Polygon; a clear error otherwise."""
    corners = []
    for part in (p for p in text.replace("\n", ";").split(";") if p.strip()):
        try:
            lat_s, lon_s = part.split(",")
            corners.append((float(lat_s), float(lon_s)))
        except ValueError:
            raise ValidationError(
                f"'{part.strip()}' is not a corner; write corners as 'lat, lon; lat, lon; …'"
            ) from None
    return Polygon(tuple(corners))


class ProofOfVisitDialog(QDialog):
    """Ask the question, show the answer; non-modal so the map stays usable."""

    def __init__(
        self,
        core: Core,
        tz: ZoneInfo,
        parent: QWidget | None = None,
        *,
        point_of_selection: Callable[[], tuple[float, float] | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Proof of visit")
        self.setObjectName("proofOfVisitDialog")
        self._core = core
        self._tz = tz
        self._point_of_selection = point_of_selection
        self.visits: list[Visit] = []
        self._build()
        now = core.clock.now()
        self.start_edit.setDateTime(to_qdatetime(now - timedelta(hours=2), tz))
        self.end_edit.setDateTime(to_qdatetime(now, tz))

    def _build(self) -> None:
        self.circle_radio = QRadioButton("Near a point")
        self.circle_radio.setChecked(True)
        self.zone_radio = QRadioButton("Inside a zone")
        self.lat = self._coord(-90, 90)
        self.lon = self._coord(-180, 180)
        self.radius = QDoubleSpinBox(minimum=1, maximum=100_000, value=100, suffix=" m")
        self.from_stop = QPushButton("Use selected stop")
        self.from_stop.clicked.connect(self.use_selected_stop)
        self.corners = QLineEdit(placeholderText="52.51, 13.38; 52.52, 13.40; 52.50, 13.41")
        self.start_edit = QDateTimeEdit(calendarPopup=True, displayFormat="yyyy-MM-dd HH:mm")
        self.end_edit = QDateTimeEdit(calendarPopup=True, displayFormat="yyyy-MM-dd HH:mm")
        point_row = QHBoxLayout()
        for widget in (self.lat, self.lon, self.from_stop):
            point_row.addWidget(widget)
        form = QFormLayout()
        form.addRow(self.circle_radio)
        form.addRow("Point (lat, lon)", point_row)
        form.addRow("Radius", self.radius)
        form.addRow(self.zone_radio)
        form.addRow("Zone corners", self.corners)
        form.addRow("From", self.start_edit)
        form.addRow("To", self.end_edit)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.search_button = buttons.addButton("Search", QDialogButtonBox.ButtonRole.ActionRole)
        self.search_button.clicked.connect(self.search)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(640, 560)

    @staticmethod
    def _coord(low: float, high: float) -> QDoubleSpinBox:
        box = QDoubleSpinBox(minimum=low, maximum=high, decimals=6)
        box.setSingleStep(0.001)
        return box

    def use_selected_stop(self) -> None:
        point = self._point_of_selection() if self._point_of_selection else None
        if point is None:
            self.message.setText("Select a stop first (in the route board or on the map).")
            return
        self.lat.setValue(point[0])
        self.lon.setValue(point[1])
        self.circle_radio.setChecked(True)

    def zone(self) -> Zone:
        if self.zone_radio.isChecked():
            return parse_corners(self.corners.text())
        return Circle(self.lat.value(), self.lon.value(), self.radius.value())

    def search(self) -> None:
        """Validate the question and run it off the GUI thread."""
        try:
            zone = self.zone()
        except ValidationError as exc:
            self.message.setText(str(exc))
            return
        start = from_qdatetime(self.start_edit.dateTime(), self._tz)
        end = from_qdatetime(self.end_edit.dateTime(), self._tz)
        self.search_button.setEnabled(False)
        self.message.setText("Searching…")
        core = self._core

        def work() -> tuple[list[Visit], dict[str, str]]:
            return proof_of_visit(core.db, zone, start, end), core.vehicle_names()

        run_in_background(work, lambda found: self.show_visits(*found), self._failed)

    def _failed(self, exc: Exception) -> None:
        self.search_button.setEnabled(True)
        text = str(exc) if isinstance(exc, DispatcherError) else f"unexpected error: {exc}"
        self.message.setText(f"Could not search: {text}")

    def show_visits(self, visits: list[Visit], names: dict[str, str] | None = None) -> None:
        """The visits found, vehicles by name (both read off the GUI thread by :meth:`search`)."""
        self.search_button.setEnabled(True)
        self.visits = visits
        names = names or {}
        self.table.setRowCount(len(visits))
        for row, v in enumerate(visits):
            cells = (
                names.get(v.vehicle_id, v.vehicle_id),
                self._hms(v.first_seen),
                self._hms(v.last_seen),
                str(timedelta(seconds=round(v.dwell_s))),
                str(v.fixes),
                display.current().short_distance(v.closest_m),
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col >= 3:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.message.setText(
            "No vehicle was there."
            if not visits
            else "1 vehicle was there."
            if len(visits) == 1
            else f"{len(visits)} vehicles were there."
        )

    def _hms(self, value: datetime) -> str:
        return display.current().stamp(value.astimezone(self._tz), seconds=True)
