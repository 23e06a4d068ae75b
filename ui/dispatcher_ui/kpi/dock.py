"""The KPIs dock and the Timeline dock: live key figures and the route timeline (pyqtgraph).

``build(window)`` returns the KPI dock's body; ``install(window)`` adds the Timeline dock
(tabified with the KPIs), its View menu entry and shortcut, and the tick hook that refreshes
both from one background load every few seconds (see :mod:`dispatcher_ui.kpi.feed`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from dispatcher.kpi.snapshot import KpiSnapshot
from dispatcher.planning.model import to_plan_seconds
from dispatcher_ui.kpi import period_view
from dispatcher_ui.kpi import timeline as timeline_view
from dispatcher_ui.kpi.feed import KpiFeed
from dispatcher_ui.kpi.panel import KpiPanel
from dispatcher_ui.kpi.timeline import TimelineView
from dispatcher_ui.routes.panel import RoutesPanel

if TYPE_CHECKING:
    from datetime import date

    from dispatcher_ui.shell import Shell

TIMELINE_SHORTCUT = "Ctrl+Shift+T"


def build(window: Shell) -> QWidget:
    return KpiPanel()


def install(window: Shell) -> None:
    """Add the Timeline dock, wire both views to one feed and to the window's tick."""
    panel = window.docks["kpis"].widget()
    assert isinstance(panel, KpiPanel)
    timeline = TimelineView(window.selection)
    dock = window._add_dock(
        "timeline", "Timeline", timeline, Qt.DockWidgetArea.BottomDockWidgetArea
    )
    window.tabifyDockWidget(window.docks["kpis"], dock)
    dock.visibilityChanged.connect(timeline.set_in_front)  # drawn only when in front
    window.docks["exceptions"].raise_()
    _add_view_actions(window)
    period_view.add_action(window)

    feed = KpiFeed(
        window,
        wanted=lambda: panel.isVisible() or timeline.isVisible(),
        scope=lambda: panel.scope,
    )
    feed.views[timeline_view.SOURCE] = lambda s: (
        timeline_view.timeline_arrays(s.timeline) if s.timeline is not None else None
    )
    feed.loaded.connect(panel.show_snapshot)
    feed.loaded.connect(timeline.show_snapshot)
    feed.failed.connect(panel.show_error)

    def push_actuals(snapshot: KpiSnapshot) -> None:
        """Each route board's line of actual distance, cost and CO₂e."""
        routes = window.rooms.find(RoutesPanel)
        if routes is None or not snapshot.routes:
            return
        routes.set_actuals({r.day.vehicle_id: r.line() for r in snapshot.routes})

    feed.loaded.connect(push_actuals)
    # The routes' cost and CO2e come after the other figures (their own job): the dock's
    # line and the boards' take them; the timeline does not show them.
    feed.routes_loaded.connect(panel.show_snapshot)
    feed.routes_loaded.connect(push_actuals)
    panel.feed = feed

    day_pending = [False]

    def on_day(_day: date) -> None:
        if window.routes_loading:  # the boards' read of the new day first (KpiFeed.tick)
            day_pending[0] = True
        else:
            feed.refresh()

    def on_routes() -> None:
        if day_pending[0] and not window.routes_loading:
            day_pending[0] = False
            if not feed.refresh():  # a load already running: the next one is due at once
                feed.soon()

    window.routes_reloaded.connect(on_routes)

    window.day_hooks.append(on_day)

    def on_tick() -> None:
        if timeline.isVisible() and timeline.timeline is not None:
            now = window.core.clock.now()
            timeline.set_now(to_plan_seconds(now, timeline.timeline.origin))
        feed.tick()

    def on_visibility(visible: bool) -> None:
        # A slot must return None: PySide6 6.12 drops a reference too many on a returned bool.
        if visible:
            feed.tick()

    window.tick_hooks.append(on_tick)
    for shown in (window.docks["kpis"], dock):
        shown.visibilityChanged.connect(on_visibility)


def _add_view_actions(window: Shell) -> None:
    """Put the Timeline toggle next to the other docks' and a "show" action with a shortcut."""
    view = window.menu("&View")
    first_separator = next((a for a in view.actions() if a.isSeparator()), None)
    window.add_dock_toggle(view, "timeline", first_separator)
    show = window.shortcuts.create(
        window,
        "Show &timeline",
        lambda: show_timeline(window),
        TIMELINE_SHORTCUT,
        help="Show the route timeline",
    )
    if first_separator is None:
        view.addAction(show)
    else:
        view.insertAction(first_separator, show)


def show_timeline(window: Shell) -> None:
    dock = window.docks["timeline"]
    dock.show()
    dock.raise_()
