"""File > Import orders: run the import off the GUI thread, then show what happened.

The new orders land on the Unassigned board: once the boards are read again, that board is
scrolled into view with the new orders selected, and the report opens. Orders that name their
vehicle go onto its route without the question a move asks: the report says which of them
break a rule there (:meth:`~dispatcher.planning.desk.RouteDesk.placement_problems`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from dispatcher.importing.service import ImportReport, import_orders
from dispatcher.planning.dayplan import UNASSIGNED
from dispatcher_ui.routes.panel import RoutesPanel
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell


def start_import(window: Shell, path: Path) -> None:
    window.statusBar().showMessage(f"Importing {path.name}…")
    fleet = window.core.fleet
    day = window.service_day or fleet.today(window.core.clock.now())
    db = window.core.db
    panel = window.room(RoutesPanel)
    known = set(panel.controller.route(UNASSIGNED))  # to tell the new ones
    before = set(panel.controller.day.stops) if panel.controller.day is not None else set()

    def work() -> ImportReport:
        geocoder = window.core.geocoder()
        actor = window.core.user.id  # the core refuses a role that may not import
        return import_orders(
            db, path, default_date=day, timezone=fleet.timezone, actor=actor, geocoder=geocoder
        )

    def done(report: ImportReport) -> None:
        window.statusBar().showMessage(f"{path.name}: {report.summary()}", 15000)
        # The boards are read again off the GUI thread; the report shows once they are.
        window.reload_routes(then=lambda: show(report))

    def show(report: ImportReport) -> None:
        panel.reveal_unassigned(known)  # new orders land there: show them
        box = QMessageBox(window)
        box.setWindowTitle("Import orders")
        box.setIcon(QMessageBox.Icon.Warning if report.errors else QMessageBox.Icon.Information)
        box.setText(f"{path.name}: {report.summary()}.")
        broken = _placed_problems(panel, before) if _showing(panel, day) else []
        notes, details = [], [str(e) for e in report.errors]
        if report.errors:
            notes.append(
                "The rejected rows were not imported; fix them and import "
                "the file again (known orders are skipped)."
            )
        if broken:
            notes.append(
                f"{len(broken)} imported order(s) break a rule on the vehicle they name "
                "(details); move them with Ctrl+Shift+M or Ctrl+U."
            )
            details += broken
            panel.controller.message.emit(f"Imported onto routes but breaking: {broken[0]}")
        if report.errors or broken:
            box.setIcon(QMessageBox.Icon.Warning)
            box.setInformativeText("\n".join(notes))
            box.setDetailedText("\n".join(details))
        box.open()
        window.last_import_report = report

    def failed(exc: Exception) -> None:
        window.statusBar().showMessage(f"Import failed: {exc}", 15000)
        QMessageBox.critical(window, "Import orders", f"The import failed:\n{exc}")

    run_in_background(work, done, failed)


def _showing(panel: RoutesPanel, day: date) -> bool:
    """Whether the boards show the imported day (another day picked meanwhile: no check)."""
    shown = panel.controller.day
    return shown is not None and shown.day == day


def _placed_problems(panel: RoutesPanel, before: set[str]) -> list[str]:
    """One line per new stop on a route that breaks a rule there ("ORD-1 on V02: …")."""
    day = panel.controller.day
    if day is None:
        return []
    out = []
    for sid in day.stops.keys() - before:
        vid = day.plan.vehicle_of(sid)
        problems = [] if vid is None else panel.controller.placement_problems(sid)
        if problems:
            out.append(f"{day.stops[sid].order_ref} on {vid}: {'; '.join(problems)}")
    return sorted(out)
