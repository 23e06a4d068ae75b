"""POD retention deletes old photos and signatures, keeps the record that they existed, keeps a
file a newer POD still shows, and goes on past a file that is missing or cannot be deleted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from driver_support import action, image, route_refs, seeded, service, stop_place
from sqlalchemy import func, select, update

import main
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.driver.retention import PodRetentionService, purge
from dispatcher.driver.service import DriverService
from dispatcher.driver.settings import DriverSettings, pod_retention
from dispatcher.errors import ConfigError
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry, PodRecord


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    db = seeded(db_url)
    yield db
    db.dispose()


def deliver(svc: DriverService, db: Database, ref: str, photo: bytes, age_days: float) -> str:
    """A delivery with a photo and a signature, taken ``age_days`` ago; its event id."""
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    lat, lon = stop_place(db, ref)
    body = action("delivered", ref, lat=lat, lon=lon, recipient="Ann")
    svc.submit_action(
        who,
        body,
        photos=[photo],
        signature=image("PNG", color="#" + sha256(ref.encode()).hexdigest()[:6]),
    )
    with db.session() as session:
        pod = session.scalars(select(PodRecord).where(PodRecord.stop_ref == ref)).one()
        taken = datetime.now(UTC) - timedelta(days=age_days)
        session.execute(update(PodRecord).where(PodRecord.id == pod.id).values(taken_at=taken))
        return pod.event_id


def files_of(svc: DriverService, ref: str) -> list[Path]:
    return [
        svc.store.root / str(f["sha256"])[:2] / f"{f['sha256']}.{f['format']}"
        for f in svc.pods(ref)[0].files
    ]


def test_old_pods_lose_their_files_and_keep_their_record(db: Database, tmp_path: Path) -> None:
    svc = service(db, tmp_path)
    old, new, shared_old = route_refs(db, "V01")[:3]
    deliver(svc, db, old, image(color="#111111"), age_days=100)
    deliver(svc, db, new, image(color="#222222"), age_days=10)
    # the same photo bytes as the new POD's, sent for an old one: one file of two PODs
    deliver(svc, db, shared_old, image(color="#222222"), age_days=120)
    old_files, new_files = files_of(svc, old), files_of(svc, new)
    assert all(p.exists() for p in old_files + new_files)

    dry = purge(db, svc.store, 90, datetime.now(UTC), dry_run=True)
    assert (dry.records, dry.files, dry.shared) == (2, 3, 1)  # 2 old PODs, 3 own files
    assert dry.bytes == sum(p.stat().st_size for p in old_files + files_of(svc, shared_old)[1:])
    assert all(p.exists() for p in old_files + new_files) and "would remove 3" in dry.summary()

    report = purge(db, svc.store, 90, datetime.now(UTC))
    assert (report.records, report.files, report.shared, report.failed) == (2, 3, 1, 0)
    assert not any(p.exists() for p in old_files)
    assert all(p.exists() for p in new_files)  # the shared photo stays with the new POD
    purged = svc.pods(old)[0]
    assert purged.purged_at is not None and [f["role"] for f in purged.files] == [
        "photo",
        "signature",
    ]
    assert svc.pods(new)[0].purged_at is None
    with db.session() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "pod.purge")).one()
        assert audit.after is not None and audit.after["records"] == 2
    again = purge(db, svc.store, 90, datetime.now(UTC))
    assert again.records == 0 and again.files == 0  # a purged POD is not purged twice


def test_a_missing_or_undeletable_file_is_counted_and_the_rest_goes_on(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = service(db, tmp_path)
    gone, stuck, fine = route_refs(db, "V01")[:3]
    for n, ref in enumerate((gone, stuck, fine)):
        deliver(svc, db, ref, image(color=f"#3{n}3{n}3{n}"), age_days=200)
    files_of(svc, gone)[0].unlink()  # someone cleaned the share by hand
    blocked = files_of(svc, stuck)[0]
    blocked.unlink()
    blocked.mkdir()  # a name that cannot be unlinked, even by root (a read-only mount)

    report = purge(db, svc.store, 90, datetime.now(UTC), batch=1)
    assert (report.records, report.missing, report.failed) == (2, 1, 1)
    assert report.files == 4 and not any(p.exists() for p in files_of(svc, fine))
    assert svc.pods(gone)[0].purged_at is not None
    assert svc.pods(stuck)[0].purged_at is None  # tried again next time
    assert "cannot delete" in caplog.text and report.problems

    blocked.rmdir()
    retry = purge(db, svc.store, 90, datetime.now(UTC))
    # its photo was the blocked name, its signature went the first time
    assert (retry.records, retry.missing, retry.failed) == (1, 2, 0)
    assert svc.pods(stuck)[0].purged_at is not None


def test_the_recorder_service_purges_in_its_own_thread_and_zero_keeps_forever(
    db: Database, tmp_path: Path
) -> None:
    svc = service(db, tmp_path)
    ref = route_refs(db, "V01")[0]
    deliver(svc, db, ref, image(), age_days=30)
    clock = FakeClock(datetime.now(UTC))
    settings = Settings(sections={"driver": {"pod_retention_days": 0}})
    assert pod_retention(settings, db, clock) is None
    keeper = PodRetentionService(db, clock, svc.store, 0)
    keeper.tick()
    keeper.wait()
    assert keeper.last is None and svc.pods(ref)[0].purged_at is None

    recorder = PodRetentionService(db, clock, svc.store, 7, interval_s=3600)
    recorder.tick()
    recorder.wait()
    assert recorder.last is not None and recorder.last.records == 1
    assert svc.pods(ref)[0].purged_at is not None
    recorder.stop()


@pytest.mark.parametrize("bad", [-1, "90", 1.5, True])
def test_a_bad_retention_setting_is_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="pod_retention_days"):
        DriverSettings.from_sections({"driver": {"pod_retention_days": bad}})
    assert DriverSettings.from_sections({}).pod_retention_days == 90


def test_pod_purge_command_reports_what_it_removed(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = seeded(sqlite_url)
    root = tmp_path / "pods"
    svc = DriverService(db, DriverSettings(pod_dir=str(root)).store())
    ref = route_refs(db, "V01")[0]
    deliver(svc, db, ref, image(), age_days=40)
    db.dispose()
    config = tmp_path / "config.toml"
    config.write_text(f'[driver]\npod_dir = "{root}"\npod_retention_days = 30\n')
    argv = ["pod", "purge", "--config", str(config), "--db", sqlite_url]
    assert main.main([*argv, "--dry-run"]) == 0
    assert "would remove 2 file(s)" in capsys.readouterr().out
    assert main.main(argv) == 0
    assert "removed 2 file(s)" in capsys.readouterr().out
    assert not any(p.is_file() for p in root.rglob("*"))
    db = Database(sqlite_url)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PodRecord)) == 1
    db.dispose()


def test_the_console_says_when_retention_deleted_a_pods_pictures(
    sqlite_url: str, tmp_path: Path, qtbot: Any
) -> None:
    from PySide6.QtWidgets import QLabel

    from dispatcher_ui.driver.pod_view import PodPanel, load_pods

    db = seeded(sqlite_url)
    svc = service(db, tmp_path)
    ref = route_refs(db, "V01")[0]
    deliver(svc, db, ref, image(), age_days=100)
    purge(db, svc.store, 90, datetime.now(UTC))
    loaded = load_pods(svc, ref)
    assert [data for _, data in loaded[0].files] == [None, None]
    panel = PodPanel(UTC, 150.0)
    qtbot.addWidget(panel)
    panel.show_pods(ref, loaded)
    texts = [label.text() for label in panel.findChildren(QLabel)]
    assert any(t.startswith("photo: deleted ") and "retention" in t for t in texts)
    db.dispose()


def test_a_recording_core_runs_pod_retention_and_a_bad_table_does_not_stop_a_console(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from dispatcher.app import build_core

    cases: list[tuple[dict[str, dict[str, Any]], bool]] = [
        ({}, True),
        ({"driver": {"pod_retention_days": 0}}, False),
        ({"console": {"recorder": "external"}}, False),  # the recorder purges, not the desk
        ({"driver": {"pod_retention_days": "soon"}}, False),
    ]
    for sections, runs in cases:
        core = build_core(Settings(database_url=sqlite_url, sections=sections))
        try:
            assert (core.find_service(PodRetentionService) is not None) is runs, sections
        finally:
            core.close()
    assert "POD retention not started: [driver] pod_retention_days" in caplog.text
