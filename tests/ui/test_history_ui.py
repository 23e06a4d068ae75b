"""The replay bar plays and scrubs stored history and hands frames to the map; proof of visit
answers in its dialog; File > Export day report writes the CSV and the map."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fleet_zone import DAY, TZ, demo_day, utc
from PySide6.QtCore import QSettings
from routes_wait import wait_for_routes

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.history.replay import ReplayFrame, load_replay
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher_ui.history import dock as history_dock
from dispatcher_ui.history.replay_bar import ReplayBar
from dispatcher_ui.history.visit_dialog import ProofOfVisitDialog, parse_corners
from dispatcher_ui.main_window import (
    MainWindow,  # imported before the QApplication: the map needs it
)

T0 = utc(10, 0)


@pytest.fixture
def core(sqlite_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=sqlite_url), clock=FakeClock(T0 + timedelta(hours=1)))
    sink = SqlTelemetrySink(c.db)
    sink.write_positions(
        [
            PositionReport(vid, T0 + timedelta(minutes=m), 52.5 + i / 100 + m / 1000, 13.4)
            for m in range(60)
            for i, vid in enumerate(("V01", "V02"))
        ]
    )
    sink.write_events(
        [EventReport("V01", T0 + timedelta(minutes=30), DeliveryEventKind.ARRIVED, "e1")]
    )
    yield c
    c.close()


def test_replay_bar_plays_scrubs_and_leaves(qtbot, core: Core) -> None:
    bar = ReplayBar(core, TZ)
    qtbot.addWidget(bar)
    frames: list[ReplayFrame] = []
    bar.frame_ready.connect(frames.append)
    assert not bar.play_button.isEnabled()  # nothing loaded yet
    with qtbot.waitSignal(bar.frame_ready, timeout=10000):
        bar.load()  # the last hour before the core's clock: 09:00-10:00 UTC
    assert frames[-1].at == T0
    assert {p.vehicle_id for p in frames[-1].positions} == {"V01", "V02"}
    assert bar.events.count() == 1 and "arrived" in bar.events.item(0).text()
    bar.speed_box.setCurrentIndex(bar.speed_box.findData(60.0))
    bar.toggle_play()
    assert bar.play_button.text().endswith("Pause")
    bar.step(10)  # ten wall seconds at 60x = ten minutes
    assert frames[-1].at == T0 + timedelta(minutes=10)
    assert bar.time_label.text() == "10:10:00"
    bar.events.itemClicked.emit(bar.events.item(0))  # clicking an event jumps to it
    assert frames[-1].at == T0 + timedelta(minutes=30)
    bar.slider.setValue(1000)  # a click or a drag on the slider
    assert frames[-1].at == T0 + timedelta(hours=1)
    with qtbot.waitSignal(bar.left):
        bar.leave_button.click()
    assert bar.play_button.text().endswith("Play")


def test_a_bad_range_is_reported_not_raised(qtbot, core: Core) -> None:
    bar = ReplayBar(core, TZ)
    qtbot.addWidget(bar)
    bar.set_range(T0, T0 - timedelta(hours=1))
    with qtbot.waitSignal(bar.status, check_params_cb=lambda t: "Could not" in t, timeout=10000):
        bar.load()
    assert bar.load_button.isEnabled()


def test_proof_of_visit_dialog_lists_the_vehicles(qtbot, core: Core) -> None:
    dialog = ProofOfVisitDialog(core, TZ, point_of_selection=lambda: (52.5, 13.4))
    qtbot.addWidget(dialog)
    dialog.use_selected_stop()
    dialog.radius.setValue(50)
    dialog.search()
    qtbot.waitUntil(dialog.search_button.isEnabled, timeout=10000)
    assert [v.vehicle_id for v in dialog.visits] == ["V01"]
    vehicle = dialog.table.item(0, 0)
    assert dialog.table.rowCount() == 1 and vehicle is not None and vehicle.text() == "V01"
    assert dialog.message.text() == "1 vehicle was there."


def test_proof_of_visit_dialog_explains_a_bad_zone(qtbot, core: Core) -> None:
    dialog = ProofOfVisitDialog(core, TZ)
    qtbot.addWidget(dialog)
    dialog.zone_radio.setChecked(True)
    dialog.corners.setText("52.5 13.4; 52.6, 13.4")
    dialog.search()
    assert "is not a corner" in dialog.message.text()
    assert len(parse_corners("52.5, 13.4; 52.6, 13.4; 52.6, 13.5").points) == 3


class FakeMapController:
    """What the history room expects of the map: show_replay(frame) and end_replay()."""

    def __init__(self) -> None:
        self.frames: list[ReplayFrame] = []
        self.ended = 0

    def show_replay(self, frame: ReplayFrame) -> None:
        self.frames.append(frame)

    def end_replay(self) -> None:
        self.ended += 1


def test_the_window_routes_replay_to_the_map_and_exports_the_day(
    qtbot, core: Core, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with core.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(n_orders=20))
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    titles = [a.text() for a in window.menuBar().actions()]
    assert "Histor&y" in titles
    file_actions = [a.text() for a in window.menu("&File").actions()]
    assert "Export &day report…" in file_actions
    fake = FakeMapController()
    # The map room draws nothing offscreen: its two replay methods record what they get.
    monkeypatch.setattr(window.map_controller, "show_replay", fake.show_replay)
    monkeypatch.setattr(window.map_controller, "end_replay", fake.end_replay)
    bar = history_dock.replay_around(window, T0 + timedelta(minutes=30))
    qtbot.waitUntil(lambda: bool(fake.frames), timeout=10000)
    assert fake.frames[0].at == T0
    assert not window.docks["history"].isHidden()
    bar.leave()
    assert fake.ended == 1 and window.docks["history"].isHidden()

    history_dock.export_to(window, tmp_path / "report", DAY)
    qtbot.waitUntil(lambda: hasattr(window, "last_day_report"), timeout=20000)
    csv_path, map_path = window.last_day_report
    assert csv_path.exists() and map_path.exists()
    assert "20 stops" not in csv_path.read_text(encoding="utf-8-sig")  # rows, not a summary
    assert csv_path.read_text(encoding="utf-8-sig").count("\n") == 21


def test_replay_of_the_fixture_matches_the_store(core: Core) -> None:
    window = load_replay(core.db, T0, T0 + timedelta(hours=1))
    assert len(window.positions) == 120
