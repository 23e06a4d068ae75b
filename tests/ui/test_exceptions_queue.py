"""The Exceptions dock: the Qt model is sound, keys act on the queue, filters filter, and the
core's refusals reach the dispatcher as a sentence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fleet_zone import demo_day, utc
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QTableWidget
from routes_wait import wait_for_routes

from dispatcher.alerts.workflow import AlertService
from dispatcher.app import build_core
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.model.alerts import Alert, AlertKind, AlertStatus, Condition, Severity, User
from dispatcher.persistence.alert_repo import alert_store
from dispatcher_ui.exceptions.model import AlertsFilter, AlertsModel, Column, Role
from dispatcher_ui.exceptions.panel import ExceptionsPanel
from dispatcher_ui.main_window import (
    MainWindow,  # before the QApplication: the map registers a scheme
)
from dispatcher_ui.selection import SelectionModel

T0 = utc(10, 0)


def alert(i: int, kind: AlertKind, severity: Severity, **kw: Any) -> Alert:
    return Alert(
        kind=kind,
        subject=f"stop:{i}",
        severity=severity,
        title=f"{kind.value} {i}",
        first_seen=T0,
        opened_at=T0 - timedelta(minutes=i),
        last_seen=T0,
        stop_id=str(i),
        vehicle_id="V01",
        sla_deadline=T0 + timedelta(minutes=10 * i),
        id=i,
        version=1,
        **kw,
    )


SAMPLE = [
    alert(1, AlertKind.LATE, Severity.CRITICAL),
    alert(2, AlertKind.AT_RISK, Severity.MEDIUM, assignee="alice", status=AlertStatus.ASSIGNED),
    alert(3, AlertKind.VEHICLE_OFFLINE, Severity.HIGH, status=AlertStatus.ESCALATED),
]


def test_the_model_and_its_filter_pass_the_model_tester(qtmodeltester: Any) -> None:
    model = AlertsModel(lambda: T0, {"V01": "Van 01"})
    model.set_alerts(SAMPLE)
    qtmodeltester.check(model)
    proxy = AlertsFilter()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    assert model.index(0, Column.VEHICLE).data() == "Van 01"
    assert model.index(0, Column.SLA).data() == "10m"
    assert model.index(1, Column.AGE).data() == "2m"
    assert model.index(2, 0).data(Role.ALERT_ID) == 3


def test_filters_mine_unassigned_escalated_kind_and_severity(qapp: Any) -> None:
    model = AlertsModel(lambda: T0)
    model.set_alerts(SAMPLE)
    proxy = AlertsFilter()
    proxy.setSourceModel(model)
    proxy.user_id = "alice"

    def ids() -> list[int]:
        return [proxy.index(r, 0).data(Role.ALERT_ID) for r in range(proxy.rowCount())]

    assert ids() == [1, 2, 3], "unsorted: the core's priority order"
    proxy.set_filters(mine=True)
    assert ids() == [2]
    proxy.set_filters(mine=False, unassigned=True)
    assert ids() == [1, 3]
    proxy.set_filters(unassigned=False, escalated=True)
    assert ids() == [3]
    proxy.set_filters(escalated=False, kind=AlertKind.AT_RISK)
    assert ids() == [2]
    proxy.set_filters(kind=None, min_severity=Severity.HIGH)
    assert ids() == [1, 3]
    with pytest.raises(AttributeError):
        proxy.set_filters(colour="red")


# -- the panel over a real database ------------------------------------------------------


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = build_core(
        Settings(database_url=f"sqlite:///{tmp_path / 'q.sqlite3'}"), clock=FakeClock(T0)
    )
    yield c
    c.close()


def raise_alerts(core: Core, *conds: Condition) -> None:
    with alert_store(core.db) as store:
        AlertService(store, core.clock).reconcile(list(conds), list(AlertKind))


def late(i: int, severity: Severity = Severity.HIGH, minutes: int = 30) -> Condition:
    return Condition(
        AlertKind.LATE,
        f"stop:{i}",
        severity,
        f"Stop {i} late",
        details={"customer": f"Customer {i}"},
        sla_deadline=T0 + timedelta(minutes=minutes),
        vehicle_id="V01",
        stop_id=str(i),
    )


@pytest.fixture
def panel(qtbot: Any, core: Core) -> ExceptionsPanel:
    from dispatcher.alerts.desk import AlertDesk

    window = SimpleNamespace(core=core, selection=SelectionModel(), docks={})
    desk = AlertDesk(core.db, core.clock, core.bus)
    desk.login("admin")  # the first login on an empty database is the admin; alice comes next
    alice = desk.login("alice")
    widget = ExceptionsPanel(window, desk, alice)  # type: ignore[arg-type]  # stand-in window
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def reload(qtbot: Any, panel: ExceptionsPanel) -> None:
    panel.reload(background=False)


def saved(qtbot: Any, panel: ExceptionsPanel) -> None:
    """Wait until the panel's saves ended and the queue was read again (all off the GUI thread)."""
    qtbot.waitUntil(lambda: not panel.model.pending and not panel._loading and not panel._dirty)


def focus_row(qtbot: Any, panel: ExceptionsPanel, row: int) -> None:
    panel.view.setFocus()
    panel.view.selectRow(row)
    panel.activateWindow()
    qtbot.waitUntil(panel.view.hasFocus)


def test_rows_come_in_priority_order_and_the_title_counts(
    qtbot: Any, panel: ExceptionsPanel, core: Core
) -> None:
    raise_alerts(core, late(1, minutes=90), late(2, Severity.CRITICAL, minutes=60), late(3))
    counts: list[tuple[int, int, int]] = []
    panel.counts_changed.connect(lambda *c: counts.append(c))
    reload(qtbot, panel)
    assert [panel.proxy.index(r, 0).data(Role.ALERT).stop_id for r in range(3)] == ["2", "3", "1"]
    assert counts == [(3, 1, 0)]
    assert panel.model.index(0, Column.STOP).data() == "Customer 2 · #2"


def test_keyboard_acknowledge_writes_the_database(
    qtbot: Any, panel: ExceptionsPanel, core: Core
) -> None:
    raise_alerts(core, late(1))
    reload(qtbot, panel)
    focus_row(qtbot, panel, 0)
    qtbot.keyClick(panel.view, Qt.Key.Key_A)
    saved(qtbot, panel)
    with alert_store(core.db) as store:
        [stored] = store.list_alerts()
    assert stored.status is AlertStatus.ACKNOWLEDGED and stored.acknowledged_by == "alice"
    assert panel.model.index(0, Column.STATUS).data() == "acknowledged"
    assert panel.last_error == ""


def test_assign_to_me_then_filter_mine(qtbot: Any, panel: ExceptionsPanel, core: Core) -> None:
    raise_alerts(core, late(1), late(2))
    reload(qtbot, panel)
    focus_row(qtbot, panel, 0)
    qtbot.keyClick(panel.view, Qt.Key.Key_T)
    saved(qtbot, panel)
    panel.mine_box.setChecked(True)
    assert panel.proxy.rowCount() == 1
    assert panel.proxy.index(0, Column.ASSIGNEE).data() == "alice"


def test_a_colleague_acting_first_gives_a_clear_conflict_message(
    qtbot: Any, panel: ExceptionsPanel, core: Core
) -> None:
    raise_alerts(core, late(1))
    reload(qtbot, panel)
    bob = User("bob", panel.user.role, "Bob")
    with alert_store(core.db) as store:
        AlertService(store, core.clock).assign(1, bob, bob, 1)
    focus_row(qtbot, panel, 0)
    qtbot.keyClick(panel.view, Qt.Key.Key_A)
    saved(qtbot, panel)  # what alice sees is stale
    assert "changed by bob" in panel.last_error and "Reload" in panel.last_error
    assert panel.message.isVisible()


def test_a_new_critical_alert_rings_once(qtbot: Any, panel: ExceptionsPanel, core: Core) -> None:
    raise_alerts(core, late(1))
    reload(qtbot, panel)
    with qtbot.waitSignal(panel.new_critical) as blocker:
        raise_alerts(core, late(1), late(2, Severity.CRITICAL))
        reload(qtbot, panel)
    assert blocker.args == [[2]]
    rung: list[object] = []
    panel.new_critical.connect(rung.append)
    reload(qtbot, panel)
    assert rung == []


def test_selecting_a_row_selects_its_vehicle_and_stop_everywhere(
    qtbot: Any, panel: ExceptionsPanel, core: Core
) -> None:
    raise_alerts(core, late(5))
    reload(qtbot, panel)
    focus_row(qtbot, panel, 0)
    current = panel.window_.selection.current
    assert (current.alert_id, current.vehicle_id, current.stop_id) == (1, "V01", 5)
    qtbot.waitUntil(lambda: "History" in panel.detail.toPlainText())
    assert "raise" in panel.detail.toPlainText()


def test_background_reload_follows_an_alerts_changed_event(
    qtbot: Any, panel: ExceptionsPanel, core: Core
) -> None:
    from dispatcher.alerts.events import AlertsChanged

    reload(qtbot, panel)
    raise_alerts(core, late(1))
    core.bus.publish(AlertsChanged())
    panel.on_tick()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)


def test_the_dock_in_the_main_window_counts_in_its_title_and_runs_the_rules(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    from dispatcher.persistence import fleet_repo

    with core.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(T0.date(), n_orders=20, n_vehicles=2))
    raise_alerts(core, late(1, Severity.CRITICAL), late(2))
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    window.exceptions_panel.reload(background=False)
    title = window.docks["exceptions"].windowTitle()
    assert title == "Exceptions (2 open · 1 critical · 0 mine)"
    assert [s.name for s in core.services].count("alert rules") == 1
    assert any(key == "A" for key, _ in window.shortcut_help)
    menu = window.menu("E&xceptions")
    assert "Supervisor view…" in [a.text().replace("&", "") for a in menu.actions()]


def fill_and_ok(qtbot: Any, combo_text: str | None = None, note: str = "") -> Any:
    """Answer a real note / resolution dialog: choose ``combo_text``, type ``note``, OK."""
    from PySide6.QtWidgets import QComboBox, QDialogButtonBox, QLineEdit

    def fill(dialog: Any) -> None:
        if combo_text is not None:
            combo = dialog.findChild(QComboBox)
            combo.setCurrentIndex(combo.findText(combo_text))
        line = dialog.findChild(QLineEdit)
        qtbot.keyClicks(line, note)
        buttons = dialog.findChild(QDialogButtonBox)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    return fill


def test_resolve_asks_how_in_the_real_dialog_and_writes_it(
    qtbot: Any, panel: ExceptionsPanel, core: Core, answer_modal: Any
) -> None:
    raise_alerts(core, late(1))
    reload(qtbot, panel)
    focus_row(qtbot, panel, 0)
    seen = answer_modal(fill_and_ok(qtbot, "Customer contacted", "called her"))
    qtbot.keyClick(panel.view, Qt.Key.Key_R)
    saved(qtbot, panel)
    assert seen and seen[0].title == "Resolve exception #1"
    with alert_store(core.db) as store:
        [stored] = store.list_alerts()
        [*_, last] = store.list_audit(stored.id)
    assert panel.last_error == ""
    assert stored.status is AlertStatus.RESOLVED and stored.resolved_by == "alice"
    assert stored.resolution_code == "customer_contacted"
    assert last.after["note"] == "called her"
    assert panel.model.rowCount() == 0, "the queue shows open exceptions"


def test_resolve_as_other_without_a_note_is_refused_in_words(
    qtbot: Any, panel: ExceptionsPanel, core: Core, answer_modal: Any
) -> None:
    raise_alerts(core, late(1))
    reload(qtbot, panel)
    focus_row(qtbot, panel, 0)
    answer_modal(fill_and_ok(qtbot, "Other"))
    qtbot.keyClick(panel.view, Qt.Key.Key_R)
    saved(qtbot, panel)
    assert panel.last_error == "resolution 'other' needs a note saying what was done"
    assert panel.model.rowCount() == 1


def test_escalate_asks_why_in_the_real_dialog(
    qtbot: Any, panel: ExceptionsPanel, core: Core, answer_modal: Any
) -> None:
    raise_alerts(core, late(1))
    reload(qtbot, panel)
    focus_row(qtbot, panel, 0)
    seen = answer_modal(fill_and_ok(qtbot, note="angry customer"))
    qtbot.keyClick(panel.view, Qt.Key.Key_E)
    saved(qtbot, panel)
    assert seen and seen[0].title == "Escalate"
    with alert_store(core.db) as store:
        [stored] = store.list_alerts()
    assert stored.status is AlertStatus.ESCALATED and panel.last_error == ""
    assert panel.model.index(0, Column.STATUS).data() == "escalated"


def test_a_dispatcher_cannot_dismiss_and_is_told_why(
    qtbot: Any, panel: ExceptionsPanel, core: Core, answer_modal: Any
) -> None:
    raise_alerts(core, late(1))
    reload(qtbot, panel)
    focus_row(qtbot, panel, 0)
    answer_modal(fill_and_ok(qtbot, note="noise"))
    qtbot.keyClick(panel.view, Qt.Key.Key_D)
    saved(qtbot, panel)
    assert panel.last_error == "only a supervisor can dismiss exception #1"


def test_a_supervisor_dismisses_through_the_real_dialog(
    qtbot: Any, core: Core, answer_modal: Any
) -> None:
    from dispatcher.alerts.desk import AlertDesk
    from dispatcher.model.alerts import Role as UserRole

    raise_alerts(core, late(1))
    desk = AlertDesk(core.db, core.clock, core.bus)
    boss = User("boss", UserRole.SUPERVISOR, "Boss")
    desk.login("boss")
    window = SimpleNamespace(core=core, selection=SelectionModel(), docks={})
    widget = ExceptionsPanel(window, desk, boss)  # type: ignore[arg-type]  # stand-in window
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    reload(qtbot, widget)
    focus_row(qtbot, widget, 0)
    answer_modal(fill_and_ok(qtbot, note="duplicate"))
    qtbot.keyClick(widget.view, Qt.Key.Key_D)
    saved(qtbot, widget)
    with alert_store(core.db) as store:
        [stored] = store.list_alerts()
    assert widget.last_error == ""
    assert stored.status is AlertStatus.DISMISSED


def test_message_customer_hands_the_stop_to_the_messaging_room(
    qtbot: Any, panel: ExceptionsPanel, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatcher_ui.messages import actions

    calls: list[tuple[int, str | None]] = []
    monkeypatch.setattr(actions, "message_customer", lambda w, s, sit=None: calls.append((s, sit)))
    raise_alerts(core, late(7))
    reload(qtbot, panel)
    focus_row(qtbot, panel, 0)
    qtbot.keyClick(panel.view, Qt.Key.Key_C)
    assert calls == [(7, "running_late")]


def test_supervisor_view_lists_escalations_and_exports_csv(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    from dispatcher.alerts.desk import AlertDesk
    from dispatcher_ui.exceptions.supervisor import SupervisorDialog

    raise_alerts(core, late(1), late(2))
    desk = AlertDesk(core.db, core.clock, core.bus)
    alice = desk.login("alice")
    desk.run(lambda s: s.escalate(1, alice, 1, "angry customer"))
    desk.run(lambda s: s.assign(2, alice, alice, 1))
    dialog = SupervisorDialog(desk)
    qtbot.addWidget(dialog)
    titles = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    assert titles[:2] == ["Escalations", "Resolved today"]
    escalations = dialog.tabs.widget(0)
    assert isinstance(escalations, QTableWidget) and escalations.rowCount() == 1
    who = escalations.item(0, 3)
    assert who is not None and who.text() == "alice"
    out = dialog.export_csv(tmp_path / "figures.csv")
    assert out is not None
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "section,key,metric,count,mean_min,median_min,max_min"
    assert "by_user,alice,time_to_acknowledge,2,0.0,0.0,0.0" in lines


def test_many_new_critical_alerts_are_named_on_one_line() -> None:
    from dispatcher_ui.exceptions.dock import critical_list

    assert critical_list([3, 4]) == "#3, #4"
    assert critical_list(list(range(1, 301))) == "#1, #2, #3, #4, #5, #6, #7, #8 and 292 more"


def test_the_clock_columns_repaint_and_a_reload_diffs_without_a_reset(
    qtbot: Any, panel: ExceptionsPanel, core: Core
) -> None:
    """Per tick the queue repaints Age and SLA where they are seen; a reload changes only the
    rows that changed (issue 17): no dataChanged over every row, no reset, so no row is
    filtered again."""
    raise_alerts(core, late(1), late(2), late(3))
    reload(qtbot, panel)
    proxied: list[str] = []  # what the filter proxy passes on to the view
    panel.proxy.dataChanged.connect(lambda *_: proxied.append("changed"))
    panel.proxy.layoutChanged.connect(lambda *_: proxied.append("layout"))
    panel.proxy.modelReset.connect(lambda: proxied.append("reset"))
    changed: list[tuple[int, int]] = []
    resets: list[int] = []
    panel.model.dataChanged.connect(lambda a, b, *_: changed.append((a.row(), b.row())))
    panel.model.modelReset.connect(lambda: resets.append(1))
    panel._last_repaint = 0.0
    panel.on_tick()
    assert changed == [] and proxied == []
    core.clock.advance(120)  # type: ignore[attr-defined]  # the fixture's FakeClock
    assert panel.proxy.index(0, Column.AGE).data() == "2m"  # read when painted
    reload(qtbot, panel)  # the same three alerts: nothing to tell the view
    assert changed == [] and resets == [] and proxied == []
    row = panel.model.row_of(panel.model.alerts()[1].id or 0)
    focus_row(qtbot, panel, 1)
    qtbot.keyClick(panel.view, Qt.Key.Key_A)  # acknowledge the second row
    saved(qtbot, panel)
    assert resets == [] and row is not None and (row, row) in changed
