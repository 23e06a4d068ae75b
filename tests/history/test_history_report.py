"""The day report on a hand-made day: planned against actual, lateness against the window,
attempts, and only the messages that actually went out; plus the HTML map and the CLI."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fleet_zone import DAY, TZ_NAME, local

from dispatcher.errors import DispatcherError
from dispatcher.model.core import PositionReport
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Customer, OutboxRow, Route, Stop, Vehicle
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.reports.day import COLUMNS, build_day_report, write_csv


def stop(ref: str, seq: int | None, **kw: object) -> Stop:
    base: dict[str, object] = {
        "order_ref": ref,
        "service_date": DAY,
        "sequence": seq,
        "address": f"{ref} Street 1",
        "lat": 52.5 + (seq or 0) / 100,
        "lon": 13.4,
    }
    return Stop(**(base | kw))


def message(ref: str, situation: str, status: str, sent: datetime | None) -> OutboxRow:
    return OutboxRow(
        idempotency_key=f"{situation}:{ref}:{status}",
        stop_ref=ref,
        situation=situation,
        template_id=situation,
        channel="sms",
        address="+4917000000",
        body="hello",
        status=status,
        not_before=local(8, 0),
        next_attempt_at=local(8, 0),
        sent_at=sent,
    )


@pytest.fixture
def day_db(database: Database) -> Database:
    """One van, six stops that cover the cases, four outbox rows."""
    with database.session() as s:
        s.add(Vehicle(id="van1", name="Van 1"))
        s.add(Customer(ref="c1", name="Ada Müller"))
        s.flush()
        route = Route(vehicle_id="van1", service_date=DAY)
        s.add(route)
        s.flush()
        cust = s.query(Customer).one().id
        s.add_all(
            [
                stop(  # on time: inside 09:00-10:00, 5 min after plan
                    "o1",
                    1,
                    route_id=route.id,
                    customer_id=cust,
                    window_start=local(9, 0),
                    window_end=local(10, 0),
                    planned_arrival=local(9, 30),
                    actual_arrival=local(9, 35),
                    completed_at=local(9, 40),
                    status="done",
                    attempts=1,
                ),
                stop(  # late: 12 min after the window closed, failed on the second attempt
                    "o2",
                    2,
                    route_id=route.id,
                    window_start=local(10, 0),
                    window_end=local(11, 0),
                    planned_arrival=local(10, 50),
                    actual_arrival=local(11, 12),
                    status="failed",
                    attempts=2,
                    failure_reason="nobody home",
                ),
                stop(  # no window: lateness cannot be judged; 10 min early on the plan
                    "o3",
                    3,
                    route_id=route.id,
                    planned_arrival=local(12, 0),
                    actual_arrival=local(11, 50),
                    kind="pickup",
                    status="done",
                    attempts=1,
                ),
                stop("o4", 4, route_id=route.id, planned_arrival=local(13, 0)),  # not reached
                stop(  # early: arrived before the window opened, which is on time
                    "o6",
                    5,
                    route_id=route.id,
                    window_start=local(14, 0),
                    window_end=local(15, 0),
                    actual_arrival=local(13, 50),
                    status="arrived",
                ),
                stop("o5", None),  # unassigned
                stop("other-day", 1, service_date=DAY + timedelta(days=1)),
            ]
        )
        s.add_all(
            [
                message("o2", "running_late", "sent", local(10, 40)),
                message("o2", "missed_you", "delivered", local(11, 15)),
                message("o1", "arriving_soon", "queued", None),
                message("o1", "delivered", "failed", None),
            ]
        )
    return database


def test_report_rows_judge_each_stop(day_db: Database) -> None:
    report = build_day_report(day_db, DAY, TZ_NAME)
    rows = {r.stop.order_ref: r for r in report.rows}
    assert [r.stop.order_ref for r in report.rows] == ["o1", "o2", "o3", "o4", "o6", "o5"]
    assert (rows["o1"].arrival_vs_plan_min, rows["o1"].lateness_min, rows["o1"].on_time) == (
        5.0,
        0.0,
        True,
    )
    assert (rows["o2"].lateness_min, rows["o2"].on_time, rows["o2"].stop.attempts) == (
        12.0,
        False,
        2,
    )
    assert (rows["o3"].arrival_vs_plan_min, rows["o3"].lateness_min, rows["o3"].on_time) == (
        -10.0,
        None,
        None,
    )
    assert (rows["o4"].arrival_vs_plan_min, rows["o4"].lateness_min) == (None, None)
    assert (rows["o6"].lateness_min, rows["o6"].on_time) == (0.0, True)
    assert [m[0] for m in rows["o2"].messages] == ["running_late", "missed_you"]
    assert rows["o1"].messages == []  # queued and failed messages never reached anyone
    assert report.summary() == f"{DAY}: 6 stops, 4 arrived, 1 late, 2 messages sent"


def test_the_csv_has_the_documented_columns_in_local_time(day_db: Database, tmp_path: Path) -> None:
    report = build_day_report(day_db, DAY, TZ_NAME)
    path = write_csv(report, tmp_path / "out" / "day.csv")
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    o1, o2 = rows[0], rows[1]
    assert o1["customer"] == "Ada Müller" and o1["vehicle"] == "Van 1"
    assert o1["window_start"] == f"{DAY} 09:00" and o1["actual_arrival"] == f"{DAY} 09:35"
    assert (o1["on_time"], o1["lateness_min"], o1["messages_sent"]) == ("yes", "0", "0")
    assert (o2["on_time"], o2["lateness_min"], o2["attempts"]) == ("no", "12", "2")
    assert o2["failure_reason"] == "nobody home"
    assert o2["messages"] == "running_late/sms 10:40; missed_you/sms 11:15"
    assert rows[5]["vehicle_id"] == "" and rows[5]["sequence"] == ""


def test_an_unknown_time_zone_is_refused(day_db: Database) -> None:
    with pytest.raises(DispatcherError, match="unknown time zone"):
        build_day_report(day_db, DAY, "Mars/Olympus")


def test_report_day_command_writes_the_csv_and_the_map(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import main

    db = Database(sqlite_url)
    with db.session() as s:
        s.add(Vehicle(id="van1", name="Van 1"))
        s.flush()
        route = Route(vehicle_id="van1", service_date=DAY)
        s.add(route)
        s.flush()
        s.add(stop("o1", 1, route_id=route.id, actual_arrival=local(9, 0), status="done"))
    SqlTelemetrySink(db).write_positions(
        [
            PositionReport("van1", local(9, 0) + timedelta(minutes=m), 52.5 + m / 1000, 13.4)
            for m in range(30)
        ]
    )
    db.dispose()
    out = tmp_path / "export"
    code = main.main(["report", "day", "--date", str(DAY), "--out", str(out), "--db", sqlite_url])
    assert code == 0
    page = (out / f"day-map-{DAY}.html").read_text()
    assert "L.polyline" in page and "o1" in page
    assert (out / f"day-report-{DAY}.csv").read_text(encoding="utf-8-sig").count("\n") == 2
    # The route sheet: van1 drove 29 steps of 0.001° (29 × 111.195 m = 3.2247 km); a van
    # burns 0.09 l/km (0.29022 l) at 3.19747 kg CO₂e/l = 0.928 kg.
    with (out / f"day-routes-{DAY}.csv").open(encoding="utf-8-sig") as fh:
        (sheet,) = list(csv.DictReader(fh))
    assert (sheet["vehicle_id"], sheet["actual_km"], sheet["energy_unit"]) == ("van1", "3.225", "l")
    assert sheet["co2e_kg"] == "0.928" and "DESNZ" in sheet["factor_source"]
    # Not dispatched (no event): the stop is compared with the current plan, which it is in.
    with (out / f"day-plan-{DAY}.csv").open(encoding="utf-8-sig") as fh:
        (planned,) = list(csv.DictReader(fh))
    assert (planned["order_ref"], planned["in_plan_at_dispatch"]) == ("o1", "yes")
    assert planned["actual_arrival"] == f"{DAY} 09:00"
    assert "wrote" in capsys.readouterr().out


def test_report_day_with_a_bad_date_says_so(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import main

    code = main.main(
        ["report", "day", "--date", "20.11.2026", "--out", str(tmp_path), "--db", sqlite_url]
    )
    assert code == 1
    assert "is not YYYY-MM-DD" in capsys.readouterr().err
