"""The driver app's core: pairing, actions exactly once, POD, route checks, messages."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from driver_support import action, image, route_refs, seeded, service, stop_place
from fleet_zone import DAY, TZ_NAME
from sqlalchemy import func, select

from dispatcher.driver.service import DeviceRefused
from dispatcher.errors import ValidationError
from dispatcher.model.driver import ActionRefused
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import (
    AuditEntry,
    PodRecord,
    PositionRow,
    Route,
    Stop,
    VehicleEventRow,
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    db = seeded(db_url)
    yield db
    db.dispose()


def test_pair_authenticate_and_revoke(db: Database, tmp_path: Path) -> None:
    svc = service(db, tmp_path)
    pairing = svc.pair("V01", "erika", "http://desk:8080")
    assert pairing.url.startswith("http://desk:8080/driver/#pair=")
    who = svc.authenticate(pairing.token)
    assert who.vehicle_id == "V01"
    with pytest.raises(DeviceRefused, match="not valid"):
        svc.authenticate(pairing.device_id + "." + "x" * 32)
    with pytest.raises(DeviceRefused, match="not paired"):
        svc.authenticate("../../etc/passwd")
    assert svc.revoke(pairing.device_id, "erika")
    with pytest.raises(DeviceRefused, match="unpaired this phone"):
        svc.authenticate(pairing.token)


def test_a_delivery_with_pod_is_stored_once_and_a_replay_changes_nothing(
    db: Database, tmp_path: Path
) -> None:
    svc = service(db, tmp_path)
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    ref = route_refs(db, "V01")[0]
    lat, lon = stop_place(db, ref)
    body = action("delivered", ref, key="k-0000001", lat=lat, lon=lon, recipient="Ann <b>")
    photo, sig = image(), image("PNG", color="white")
    first = svc.submit_action(who, body, photos=[photo], signature=sig)
    again = svc.submit_action(who, body, photos=[photo], signature=sig)
    assert not first.duplicate and again.duplicate and again.stop_status == "done"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(VehicleEventRow)) == 1
        pod = session.scalar(select(PodRecord))
        assert pod is not None and pod.recipient == "Ann <b>" and pod.distance_m == 0.0
        assert [f["role"] for f in pod.files] == ["photo", "signature"]
        stop = session.scalar(select(Stop).where(Stop.order_ref == ref))
        assert stop is not None and stop.status == "done" and stop.pod_ref.startswith("pod:")
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "driver.delivered")
            )
            == 1
        )
    shown = svc.pods(ref)[0]
    assert svc.store.open(shown.files[0]["sha256"], "jpg") == photo


def test_bad_input_is_refused_whole_with_a_reason(db: Database, tmp_path: Path) -> None:
    svc = service(db, tmp_path)
    svc.store.max_bytes = 50_000
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    ref = route_refs(db, "V01")[0]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"photos": [b"<html>not a picture</html>"], "signature": image()}, "not a picture"),
        ({"photos": [image(size=(3000, 3000), fmt="PNG") + b"x" * 60_000]}, "at most"),
        ({"photos": [image()[:200]], "signature": image()}, "damaged"),
        ({"photos": [image()]}, "needs signature"),
    ]
    for files, said in cases:
        with pytest.raises(ActionRefused, match=said):
            svc.submit_action(who, action("delivered", ref), **files)
    other = route_refs(db, "V02")[0]
    with pytest.raises(ActionRefused, match="no longer on your route"):
        svc.submit_action(who, action("arrived", other))
    with pytest.raises(ActionRefused, match="needs a reason"):
        svc.submit_action(who, action("failed", ref))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(VehicleEventRow)) == 0
        assert session.scalar(select(func.count()).select_from(PodRecord)) == 0
    assert not (tmp_path / "pod").exists() or not any((tmp_path / "pod").rglob("*.*"))


def test_the_phones_clock_is_corrected_by_its_send_time(db: Database, tmp_path: Path) -> None:
    svc = service(db, tmp_path)
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    ref = route_refs(db, "V01")[0]
    skew = 3600.0  # the phone is an hour fast
    now = time.time()
    body = json.loads(action("arrived", ref))
    body.update(ts=now + skew - 600, sent_at=now + skew)  # done ten minutes ago
    svc.submit_action(who, json.dumps(body).encode())
    with db.session() as session:
        stored = session.scalar(select(VehicleEventRow.ts))
        assert stored is not None and abs(stored.timestamp() - (now - 600)) < 5


def test_a_pod_far_from_the_stop_raises_a_driver_issue(db: Database, tmp_path: Path) -> None:
    svc = service(db, tmp_path)
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    ref = route_refs(db, "V01")[0]
    lat, lon = stop_place(db, ref)
    body = action("delivered", ref, lat=lat + 0.01, lon=lon)
    assert svc.submit_action(who, body, photos=[image()], signature=image()).far
    with db.session() as session:
        issue = session.scalar(select(VehicleEventRow).where(VehicleEventRow.kind == "issue"))
        assert issue is not None and "m from the stop" in issue.reason


def test_a_stop_moved_by_the_desk_leaves_the_run_sheet(db: Database, tmp_path: Path) -> None:
    svc = service(db, tmp_path)
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    sheet = svc.run_sheet(who, DAY)
    moved = sheet.stops[1].order_ref
    with db.session() as session:
        other = session.scalar(select(Route).where(Route.vehicle_id == "V02"))
        stop = session.scalar(select(Stop).where(Stop.order_ref == moved))
        assert other is not None and stop is not None
        stop.route_id = other.id
    after = svc.run_sheet(who, DAY)
    assert moved not in [s.order_ref for s in after.stops] and after.version != sheet.version
    with pytest.raises(ActionRefused, match="no longer on your route"):
        svc.submit_action(who, action("arrived", moved))


def test_messages_both_ways_are_kept_once(db: Database, tmp_path: Path) -> None:
    svc = service(db, tmp_path)
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    ref = route_refs(db, "V01")[0]
    svc.send_to_driver("V01", "Ring twice <script>", "erika", stop_ref=ref)
    assert [m.body for m in svc.messages_for(who)] == ["Ring twice <script>"]
    svc.reply(who, "m-0000001", "OK", ref)
    svc.reply(who, "m-0000001", "OK", ref)
    talk = svc.conversation(stop_ref=ref)
    assert [(m.direction, m.body) for m in talk] == [
        ("desk", "Ring twice <script>"),
        ("driver", "OK"),
    ]
    with db.session() as session:
        audit = session.execute(
            select(AuditEntry.action, AuditEntry.entity, AuditEntry.after).where(
                AuditEntry.action.like("driver_message.%")
            )
        ).all()
    assert [(a, e, after["order"]) for a, e, after in audit] == [
        ("driver_message.desk", "stop", ref),
        ("driver_message.driver", "stop", ref),
    ]


def test_the_day_report_carries_the_pod(db: Database, tmp_path: Path) -> None:
    from dispatcher.reports.day import COLUMNS, build_day_report, csv_row

    svc = service(db, tmp_path)
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    ref = route_refs(db, "V01")[0]
    lat, lon = stop_place(db, ref)
    body = action("delivered", ref, lat=lat, lon=lon, recipient="Ann")
    svc.submit_action(who, body, photos=[image()], signature=image("PNG"))
    report = build_day_report(db, DAY, TZ_NAME)
    row = next(r for r in report.rows if r.stop.order_ref == ref)
    cells = dict(zip(COLUMNS, csv_row(row, ZoneInfo(TZ_NAME)), strict=True))
    assert cells["pod_recipient"] == "Ann" and cells["pod_distance_m"] == "0"
    assert cells["pod_files"].startswith("photo ") and "; signature " in cells["pod_files"]


def test_a_phone_cannot_speak_for_another_vehicle_or_reach_outside_the_store(
    db: Database, tmp_path: Path
) -> None:
    svc = service(db, tmp_path)
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    ref = route_refs(db, "V01")[0]
    lying = action("arrived", ref, vehicle_id="V02", device_id="someone-else")
    svc.submit_action(who, lying)
    with db.session() as session:
        row = session.scalar(select(VehicleEventRow))
        assert row is not None and row.vehicle_id == "V01"
        assert row.event_id.startswith(f"driverapp:{who.device_id}:")
    for name in ("../../etc/passwd", "a" * 63 + "/", "A" * 64):
        with pytest.raises(ValidationError):
            svc.store.open(name, "jpg")
    with pytest.raises(ValidationError):
        svc.store.open("a" * 64, "../jpg")


def test_the_phones_position_is_stored_like_any_fix(db: Database, tmp_path: Path) -> None:
    svc = service(db, tmp_path)
    who = svc.authenticate(svc.pair("V01", "erika", "http://x").token)
    now = time.time()
    fix = {"v": 1, "ts": now, "sent_at": now, "lat": 52.5, "lon": 13.4, "accuracy_m": 9}
    svc.submit_position(who, json.dumps(fix).encode())
    with pytest.raises(ActionRefused, match=r"null_island"):
        svc.submit_position(who, json.dumps({**fix, "lat": 0, "lon": 0}).encode())
    with db.session() as session:
        rows = session.execute(select(PositionRow.vehicle_id, PositionRow.source)).all()
        assert [tuple(r) for r in rows] == [("V01", "driverapp")]
