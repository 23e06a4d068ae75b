"""Where is my order, the flight recorder and the shift handover on the hand-made support day
(tests/support/support_day.py), each figure checked against the table in its docstring, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fleet_zone import DAY, local
from support_day import build_day

from dispatcher.errors import ConflictError, PermissionDenied, ValidationError
from dispatcher.model.users import Role, User
from dispatcher.persistence import support_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import EtaLogRow
from dispatcher.planning.stop_eta import StopEta
from dispatcher.support import handover
from dispatcher.support.card import order_card
from dispatcher.support.eta_log import changes
from dispatcher.support.recorder import load_recording
from dispatcher.support.search import find_orders, mask_phone, phone_digits, read_query

ALICE = User("alice", Role.DISPATCHER)
VIC = User("vic", Role.VIEWER)


def refs(rows: list[support_repo.OrderRow]) -> list[str]:
    return sorted(r.order_ref for r in rows)


def test_phone_numbers_are_compared_by_their_digits() -> None:
    assert phone_digits("+49 176 1234 5678", "DE") == "17612345678"
    assert phone_digits("0176 1234 5678", "DE") == "17612345678"
    assert phone_digits("0049-176-12345678", "DE") == "17612345678"
    assert read_query("  0176 12 ", "DE").digits == "17612"
    assert read_query("0176", "DE").digits == "176"
    assert read_query("O-1001", "DE").digits == "", "a reference is not a phone number"
    assert read_query("123", "DE").digits == "", "three digits are a house number"
    assert mask_phone("+49 176 1234 5678") == "•••• 678"


def test_search_by_reference_name_phone_and_fragments(database: Database) -> None:
    build_day(database)
    assert refs(find_orders(database, ALICE, "o-100", "DE")) == ["O-1001", "O-1002", "O-1003"]
    assert refs(find_orders(database, ALICE, "OKAF", "DE")) == ["O-1001", "O-2001"]
    assert refs(find_orders(database, ALICE, "müll", "DE")) == ["O-1002"]
    assert refs(find_orders(database, ALICE, "c-cleo", "DE")) == ["O-1003"]
    # the same number typed three ways, and a fragment of it
    for typed in ("+49 176 12345678", "0176/1234-5678", "5678"):
        assert refs(find_orders(database, ALICE, typed, "DE")) == ["O-1001", "O-2001"], typed
    assert refs(find_orders(database, ALICE, "987 654", "DE")) == ["O-1002"]
    assert refs(find_orders(database, ALICE, "0176", "DE")) == ["O-1001", "O-1002", "O-2001"]
    assert refs(find_orders(database, ALICE, "030", "DE")) == [], "3 digits: no phone search"
    assert find_orders(database, ALICE, "%", "DE") == [], "a wildcard is a character"
    assert find_orders(database, ALICE, "_", "DE") == []
    assert find_orders(database, ALICE, "   ", "DE") == []
    [hit] = find_orders(database, ALICE, "O-1002", "DE")
    assert (hit.customer_name, hit.customer_phone, hit.vehicle_id) == (
        "Bert Müller",
        "0176-9876543",
        "V1",
    )


def test_a_viewer_sees_masked_numbers_and_cannot_search_by_them(database: Database) -> None:
    build_day(database)
    assert find_orders(database, VIC, "5678", "DE") == []
    [hit] = find_orders(database, VIC, "O-1002", "DE")
    assert hit.customer_phone == "•••• 543"
    day = build_day_ids(database)
    card = order_card(database, VIC, day["O-1002"])
    assert card is not None
    assert card.facts.row.customer_phone == "•••• 543"
    assert [i.text for i in card.items if i.kind == "message out"] == [
        "sms to •••• 543: eta_update — delivered"
    ]


def build_day_ids(database: Database) -> dict[str, int]:
    with database.session() as s:
        return {
            r.order_ref: r.stop_id
            for r in support_repo.search_orders(s, "o-", None, include_phone=False, limit=10)
        }


def test_the_order_card(database: Database) -> None:
    day = build_day(database)
    card = order_card(database, ALICE, day.stops["O-1001"])
    assert card is not None and not card.problems
    f = card.facts
    assert (f.row.status, f.sequence, f.route_stops, f.open_before) == ("delivered", 1, 3, 0)
    assert [p.text for p in card.pod] == ["proof of delivery POD-1 (delivered)"]
    assert [(i.kind, i.ts) for i in card.items] == [
        ("message out", local(8, 1)),
        ("driver", local(9, 20)),
        ("pod", local(9, 20)),
    ]
    card = order_card(database, ALICE, day.stops["O-1003"])
    assert card is not None
    # O-1001 is delivered, O-1002 still open: one open stop before O-1003
    assert (card.facts.sequence, card.facts.open_before) == (3, 1)
    assert card.facts.last_eta == (local(9), local(15), False)
    card = order_card(database, ALICE, day.stops["O-1002"])
    assert card is not None
    assert card.facts.last_eta == (local(9, 11), local(14, 25), False)
    [exc] = [i for i in card.items if i.kind == "exception"]
    assert exc.text == f"#{day.alert_a} O-1002 at risk — resolved (customer_contacted)"
    assert exc.detail == "customer called, fine with 14:25"
    assert [i.ts for i in card.items if i.kind == "message out"] == [local(9, 2)]
    assert order_card(database, ALICE, 999_999) is None


def test_the_driver_apps_pod_and_messages_are_on_the_card(database: Database) -> None:
    """A POD taken in the driver app (2 photos, a signature, 12 m away) and a desk ↔ driver
    exchange about O-1002 appear on its card, in time order, beside what was there."""
    from dispatcher.persistence import driver_repo
    from dispatcher.persistence.orm import PodRecord

    day = build_day(database)
    files = [{"role": "photo", "sha256": "a" * 64}, {"role": "photo", "sha256": "b" * 64}]
    files.append({"role": "signature", "sha256": "c" * 64})
    with database.session() as session:
        session.add(
            PodRecord(
                event_id="ev-pod-1",
                stop_ref="O-1002",
                vehicle_id="V1",
                recipient="Neighbour at no. 5",
                taken_at=local(14, 30),
                distance_m=12.4,
                files=files,
            )
        )
        for key, direction, author, body, at in (
            ("m1", "desk", "alice", "Customer says: ring twice", local(14, 5)),
            ("m2", "driver", "V1", "OK", local(14, 6)),
        ):
            driver_repo.add_message(
                session,
                client_key=key,
                vehicle_id="V1",
                stop_ref="O-1002",
                direction=direction,
                author=author,
                body=body,
                at=at,
            )
    card = order_card(database, ALICE, day.stops["O-1002"])
    assert card is not None and not card.problems
    talk = [(i.ts, i.text, i.detail) for i in card.items if i.kind == "driver message"]
    assert talk == [
        (local(14, 5), "desk to driver (alice)", "Customer says: ring twice"),
        (local(14, 6), "driver to desk (V1)", "OK"),
    ]
    assert [(p.ts, p.text) for p in card.pod] == [
        (
            local(14, 30),
            "proof of delivery: 2 photo(s), signature, received by Neighbour at no. 5, "
            "taken 12 m from the stop",
        )
    ]
    assert card.items[-1].kind == "pod"


def test_a_failing_source_is_named_and_the_rest_shown(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatcher.support import card as card_module

    day = build_day(database)

    def broken(*_: object) -> list[card_module.CardItem]:
        raise RuntimeError("store offline")

    monkeypatch.setitem(card_module._SOURCES, "inbound", broken)
    card = order_card(database, ALICE, day.stops["O-1001"])
    assert card is not None
    assert card.problems == ["inbound: could not be read (store offline)"]
    assert len(card.items) == 3


def test_eta_changes_are_stored_compactly() -> None:
    t = datetime(2026, 1, 1, 9, tzinfo=UTC)
    last: dict[int, tuple[datetime | None, bool, bool]] = {}
    assert len(changes(last, {1: StopEta(t)}, t, 60)) == 1
    assert changes(last, {1: StopEta(t + timedelta(seconds=59))}, t, 60) == []
    assert len(changes(last, {1: StopEta(t + timedelta(seconds=60))}, t, 60)) == 1
    assert len(changes(last, {1: StopEta(t + timedelta(seconds=60), late_s=5)}, t, 60)) == 1
    assert len(changes(last, {1: StopEta(t, actual=True)}, t, 60)) == 1
    assert changes(last, {1: StopEta(t, actual=True)}, t, 60) == []


def test_the_flight_recorder_rebuilds_the_desk_at_each_instant(database: Database) -> None:
    day = build_day(database)
    with database.session() as s:
        assert s.query(EtaLogRow).count() == 3, "09:05's 30 s move is not stored"
    rec = load_recording(database, local(8, 30), local(10))
    a, b = day.alert_a, day.alert_b

    at = rec.state_at(local(9, 12))
    assert [(r.alert_id, r.status, r.since) for r in at.exceptions] == [
        (a, "acknowledged", local(9, 10)),  # high before medium
        (b, "new", local(9, 12)),
    ]
    assert {e.order_ref: e.eta for e in at.etas} == {"O-1002": local(14, 25), "O-1003": local(15)}
    assert [(m.order_ref, m.status) for m in at.messages] == [
        ("O-1002", "delivered"),
        ("O-1001", "sent"),
    ]

    newest = rec.state_at(local(9, 12), max_messages=1).messages
    assert [(m.order_ref, m.status) for m in newest] == [("O-1002", "delivered")]

    at = rec.state_at(local(9, 8))
    assert [(r.alert_id, r.status) for r in at.exceptions] == [(a, "new")]
    assert {e.order_ref: e.eta for e in at.etas}["O-1002"] == local(14, 10)
    at = rec.state_at(local(9, 0, 30))
    assert [(m.order_ref, m.status) for m in at.messages] == [
        ("O-1002", "queued"),
        ("O-1001", "sent"),
    ]
    at = rec.state_at(local(9, 31))
    assert [(r.alert_id, r.status) for r in at.exceptions] == [(b, "new")]
    assert at.messages[0].status == "failed (time not recorded)"
    assert rec.state_at(local(8, 59)).exceptions == []
    assert rec.state_at(local(8, 59)).etas == []
    # stepping from change to change
    assert rec.next_moment(local(9, 12)) == local(9, 30)
    assert rec.previous_moment(local(9, 12)) == local(9, 11)
    assert rec.etas_recorded


def test_a_recording_starting_later_still_knows_what_was_open(database: Database) -> None:
    day = build_day(database)
    rec = load_recording(database, local(9, 11), local(9, 20))
    at = rec.state_at(local(9, 11))
    assert [r.alert_id for r in at.exceptions] == [day.alert_a]
    assert {e.order_ref: e.eta for e in at.etas}["O-1003"] == local(15)


def test_recorder_refuses_bad_periods(database: Database) -> None:
    with pytest.raises(ValidationError, match="ends before"):
        load_recording(database, local(10), local(9))
    with pytest.raises(ValidationError, match="24 hours"):
        load_recording(database, local(0), local(0) + timedelta(hours=25))
    rec = load_recording(database, local(9), local(10))
    assert not rec.etas_recorded and rec.moments == []


def test_times_in_message_bodies() -> None:
    assert handover.promised_times("between 14:00 and 15:00") == ["14:00", "15:00"]
    assert handover.promised_times("new ETA 2:30 PM") == ["14:30"]
    assert handover.promised_times("by 2pm, or 9.15 a.m. tomorrow") == ["14:00", "09:15"]
    assert handover.promised_times("12am and 12 pm") == ["00:00", "12:00"]
    assert handover.promised_times("order 1430, 2.50 EUR, 24/11, 25:00, 3 parcels") == []
    assert handover.promised_times("") == []


def test_the_handover_report_and_its_acknowledgement(database: Database) -> None:
    day = build_day(database)
    author = User("alice", Role.DISPATCHER)
    report = handover.build_report(
        database, author, local(10), local(8), DAY, shift_note="  V1 driver sick at noon "
    )
    assert [e["id"] for e in report.exceptions] == [day.alert_b]
    [promise] = report.promises  # the failed message promised nothing; 08:00 named no time
    assert (promise.order_ref, promise.times, promise.order_status) == (
        "O-1002",
        ["14:00", "15:00"],
        "pending",
    )
    assert promise.sent_at == local(9, 1).astimezone(UTC).isoformat()
    assert report.open_promises == [promise]
    assert [(lk["order"], lk["pinned"], lk["keep_on_vehicle"]) for lk in report.locks] == [
        ("O-1002", True, False),
        ("O-1003", False, True),
    ]
    assert [n["note"] for n in report.notes] == ["customer called, fine with 14:25"]
    assert report.shift_note == "V1 driver sick at noon"

    handover.publish(database, report)
    [state] = handover.handovers(database)
    assert state.report == report and state.acknowledged_by is None
    with pytest.raises(PermissionDenied, match="next shift"):
        handover.acknowledge(database, "alice", report.id, local(10, 5))
    with pytest.raises(PermissionDenied, match="viewer"):
        handover.acknowledge(database, "vic", report.id, local(10, 5))
    with pytest.raises(PermissionDenied, match="not a user"):
        handover.acknowledge(database, "mallory", report.id, local(10, 5))
    with pytest.raises(ValidationError, match="no handover"):
        handover.acknowledge(database, "bob", "nope", local(10, 5))
    handover.acknowledge(database, "bob", report.id, local(10, 5))
    with pytest.raises(ConflictError, match="acknowledged by bob"):
        handover.acknowledge(database, "admin", report.id, local(10, 6))
    [state] = handover.handovers(database)
    assert (state.acknowledged_by, state.acknowledged_at) == ("bob", local(10, 5))
    with database.session() as s:
        entries = support_repo.handover_entries(s, report.id)
    assert [(e.actor, e.action) for e in entries] == [
        ("alice", "handover.create"),
        ("bob", "handover.ack"),
    ]


def test_a_handover_refuses_bad_input(database: Database) -> None:
    with pytest.raises(ValidationError, match="begun before"):
        handover.build_report(database, ALICE, local(8), local(9), DAY)
    with pytest.raises(ValidationError, match="longer than"):
        handover.build_report(database, ALICE, local(9), local(8), DAY, "x" * 5000)


def test_a_console_core_records_the_boards_etas(tmp_path: Path) -> None:
    from dispatcher.app import build_core
    from dispatcher.clock import FakeClock
    from dispatcher.config import Settings
    from dispatcher.planning.stop_eta import StopEtasChanged
    from dispatcher.support.eta_log import EtaRecorder

    core = build_core(
        Settings(database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}"), clock=FakeClock(local(9))
    )
    try:
        recorder = core.service(EtaRecorder)
        core.bus.publish(StopEtasChanged({7: StopEta(local(11)), 8: StopEta(local(12))}))
        core.bus.publish(StopEtasChanged({7: StopEta(local(11, 0, 20)), 8: StopEta(local(12))}))
        # the desk hands unchanged ETAs on as the same objects: those are not compared again,
        # and a new object for stop 8 (a touched route) still gives its row
        kept = StopEta(local(11, 0, 20))
        core.bus.publish(StopEtasChanged({7: kept, 8: StopEta(local(12, 5))}))
        core.bus.publish(StopEtasChanged({7: kept, 8: StopEta(local(12, 5))}))
        core.tick()  # hands the batch to the writer thread
        recorder.flush()
        with core.db.session() as s:
            rows = support_repo.eta_rows(s, local(8), local(10))
        assert [(r[0], r[2]) for r in rows] == [(7, local(11)), (8, local(12)), (8, local(12, 5))]
    finally:
        core.close()


def test_more_message_sources_plug_into_the_recorder(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatcher.support import recorder

    build_day(database)

    def replies(_session: object, start: datetime, end: datetime) -> list[recorder.RecordedMessage]:
        at = local(9, 6)
        return [
            recorder.RecordedMessage(
                1, "O-1002", "sms", "reply", "OK, 14:25 is fine", at, at, None, None, False, "in"
            )
        ]

    def broken(*_: object) -> list[recorder.RecordedMessage]:
        raise RuntimeError("store offline")

    monkeypatch.setitem(recorder._MESSAGE_SOURCES, "replies", replies)
    monkeypatch.setitem(recorder._MESSAGE_SOURCES, "mail", broken)
    rec = load_recording(database, local(8, 30), local(10))
    assert rec.problems == ["mail: could not be read (store offline)"]
    assert local(9, 6) in rec.moments
    at = rec.state_at(local(9, 6))
    assert (at.messages[0].direction, at.messages[0].status) == ("in", "received")
    assert len(rec.state_at(local(9, 5)).messages) == 2
