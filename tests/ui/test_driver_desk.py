"""The desk's side of the driver app, driven through the real dialog (issue 20)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver_support import action, image, route_refs, stop_place
from fleet_zone import DAY, demo_day
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from sqlalchemy import select

from dispatcher.app import build_core
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.messaging.service import MessagingService
from dispatcher.persistence import device_repo, fleet_repo
from dispatcher.persistence.orm import OutboxRow
from dispatcher_ui.driver.desk_dialog import DriverDeskDialog
from dispatcher_ui.workers import drain

WAIT = {"timeout": 10_000}


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Iterator[Core]:
    settings = Settings(database_url=db_url)
    settings.sections["driver"] = {"pod_dir": str(tmp_path / "pod"), "pod_max_distance_m": 100}

    def seed(core: Core) -> None:
        with core.db.session() as session:
            if not fleet_repo.count_stops(session):
                fleet_repo.save_scenario(session, demo_day(DAY))

    core = build_core(settings, prepare=seed)
    yield core
    drain()
    core.close()


def test_pair_see_pod_and_talk_with_the_driver(qtbot, core: Core) -> None:
    dialog = DriverDeskDialog(core)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.vehicle_box.count() > 0, **WAIT)
    dialog.vehicle_box.setCurrentIndex(dialog.vehicle_box.findData("V01"))

    qtbot.mouseClick(dialog.pair_button, _left())
    qtbot.waitUntil(lambda: dialog.pairing is not None and dialog.phone_list.count() == 1, **WAIT)
    assert dialog.qr_label.pixmap() is not None and not dialog.qr_label.pixmap().isNull()
    assert dialog.pairing is not None and "/driver/#pair=" in dialog.pairing.url
    service = dialog.service
    phone = service.authenticate(dialog.pairing.token)

    refs = route_refs(core.db, "V01")
    lat, lon = stop_place(core.db, refs[0])
    near = action("delivered", refs[0], lat=lat, lon=lon, recipient="Ann <i>Lee</i>")
    far = action("delivered", refs[1], lat=lat + 0.01, lon=lon, recipient="Bo")
    for body in (near, far):
        service.submit_action(phone, body, photos=[image(size=(640, 480))], signature=image("PNG"))

    dialog.tabs.setCurrentIndex(1)
    for ref, said in ((refs[1], "farther than 100 m"), (refs[0], "Ann <i>Lee</i>")):
        dialog.order_edit.clear()
        qtbot.keyClicks(dialog.order_edit, ref)
        qtbot.keyClick(dialog.order_edit, _enter())
        qtbot.waitUntil(
            lambda r=ref: f"Order {r}: 1 proof" in dialog.pod_panel.summary.text(), **WAIT
        )
        qtbot.waitUntil(lambda s=said: s in _texts(dialog), **WAIT)

    with core.db.session() as session:  # V01 also carries a native MQTT tracker
        device_repo.bind(session, "native:V01", "V01", actor="erika")
    dialog.tabs.setCurrentIndex(2)
    qtbot.keyClicks(dialog.about_edit, refs[2])
    qtbot.keyClicks(dialog.message_edit, "Please call the customer first")
    qtbot.keyClick(dialog.message_edit, _enter())
    qtbot.waitUntil(lambda: len(service.messages_for(phone)) == 1, **WAIT)
    assert service.messages_for(phone)[0].stop_ref == refs[2]
    assert core.find_service(MessagingService) is not None
    qtbot.waitUntil(lambda: bool(_queued(core)), **WAIT)  # once more, for the tracker's cmd
    qtbot.waitUntil(lambda: dialog.busy == 0, **WAIT)
    assert _queued(core) == [("driver", "V01", "Please call the customer first")]
    service.reply(phone, "reply-0001", "Called, she is home", refs[2])
    qtbot.waitUntil(lambda: dialog.message_list.count() == 2, timeout=15_000)
    assert "Called, she is home" in dialog.message_list.item(1).text()
    dialog.tabs.setCurrentIndex(1)  # the stop's detail: its POD and the talk about it
    dialog.order_edit.clear()
    qtbot.keyClicks(dialog.order_edit, refs[2])
    qtbot.keyClick(dialog.order_edit, _enter())
    qtbot.waitUntil(lambda: "Driver (driver:" in _texts(dialog), **WAIT)
    assert "Messages about this order" in _texts(dialog)
    assert "Please call the customer first" in _texts(dialog)

    dialog.tabs.setCurrentIndex(0)
    dialog.phone_list.setCurrentRow(0)
    qtbot.mouseClick(dialog.revoke_button, _left())
    qtbot.waitUntil(lambda: "UNPAIRED" in dialog.phone_list.item(0).text(), **WAIT)
    dialog.close()
    qtbot.waitUntil(lambda: dialog.busy == 0, **WAIT)


def _queued(core: Core) -> list[tuple[str, str, str]]:
    with core.db.session() as session:
        return [(r.channel, r.address, r.body) for r in session.scalars(select(OutboxRow))]


def _texts(dialog: DriverDeskDialog) -> str:
    return "\n".join(label.text() for label in dialog.pod_panel.findChildren(QLabel))


def _left() -> Qt.MouseButton:
    return Qt.MouseButton.LeftButton


def _enter() -> Qt.Key:
    return Qt.Key.Key_Return


def test_a_route_boards_stop_opens_its_pod_and_driver_talk(qtbot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QMenu
    from test_route_board_live import close_window, drain, open_core, open_window, panel_of

    core = open_core(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    core.settings.sections["driver"] = {"pod_dir": str(tmp_path / "pod")}
    window = None
    try:
        window = open_window(qtbot, core, tmp_path)
        panel = panel_of(window)
        board = panel.boards["V01"]
        board.table.selectRow(0)
        panel.active_board = board
        ref = route_refs(core.db, "V01")[0]
        menu = QMenu()
        panel._fill_menu(menu, board)
        entry = next(a for a in menu.actions() if a.text().startswith("Driver: proof"))
        entry.trigger()
        qtbot.waitUntil(lambda: window.findChild(DriverDeskDialog) is not None, **WAIT)
        dialog = window.findChild(DriverDeskDialog)
        assert dialog is not None
        qtbot.waitUntil(lambda: dialog.vehicle_id == "V01", **WAIT)
        qtbot.waitUntil(lambda: f"Order {ref}: no proof" in dialog.pod_panel.summary.text(), **WAIT)
        assert dialog.about_edit.text() == ref
        qtbot.waitUntil(lambda: dialog.busy == 0, **WAIT)
        dialog.close()
    finally:
        if window is not None:
            close_window(qtbot, window)
        core.close()
        drain(qtbot)
