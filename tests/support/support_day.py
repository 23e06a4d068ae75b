"""A hand-made support day: three orders on van V1, one unassigned, messages, exceptions and
board ETAs at known instants (fleet time, tests/fleet_zone.py), stored through the real
writers (alert service, ETA recorder) where there is one.

| time  | what                                                                   |
|-------|------------------------------------------------------------------------|
| 08:00 | msg 3 to O-1001 created ("out for delivery"), sent 08:01              |
| 09:00 | board ETAs: O-1002 14:10, O-1003 15:00 (2 rows)                         |
| 09:00 | msg 1 to O-1002 created ("between 14:00 and 15:00"), sent 09:01, delivered 09:02 |
| 09:05 | exception A (at risk, O-1002) raised; board ETA O-1002 14:10:30 (not stored: < 1 min) |
| 09:10 | A acknowledged by alice                                                 |
| 09:11 | board ETA O-1002 14:25 (stored)                                         |
| 09:12 | exception B (V1 offline) raised                                         |
| 09:20 | O-1001 delivered (driver report with POD-1)                             |
| 09:30 | A resolved by alice, note "customer called, fine with 14:25"          |
| 09:30 | msg 2 to O-1003 created ("new ETA 2:30 PM"), failed                    |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from fleet_zone import DAY, local

from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import FakeClock
from dispatcher.events import EventBus
from dispatcher.model.alerts import AlertKind, Condition, ResolutionCode, Role, Severity
from dispatcher.model.alerts import User as AlertUser
from dispatcher.persistence import users_repo
from dispatcher.persistence.alert_repo import SqlAlertStore
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import (
    Customer,
    Depot,
    OutboxRow,
    Route,
    Stop,
    Vehicle,
    VehicleEventRow,
)
from dispatcher.planning.stop_eta import StopEta, StopEtasChanged
from dispatcher.support.eta_log import EtaRecorder

ALICE = AlertUser("alice", Role.DISPATCHER, "Alice")


@dataclass(frozen=True)
class Day:
    stops: dict[str, int]
    alert_a: int
    alert_b: int
    messages: dict[str, int]


def _stop(
    ref: str, customer: Customer | None, route: Route | None, seq: int | None, **kw: object
) -> Stop:
    return Stop(
        order_ref=ref,
        address=f"Invalidenstraße {ref[-2:]}, Berlin",
        customer=customer,
        service_date=DAY,
        lat=52.52,
        lon=13.40,
        route=route,
        sequence=seq,
        **kw,
    )


PHONES = {"O-1001": "+4917612345678", "O-1002": "+491769876543", "O-1003": "+49305550100"}


def _message(key: str, ref: str, body: str, created: datetime, **kw: object) -> OutboxRow:
    return OutboxRow(
        idempotency_key=key,
        stop_ref=ref,
        situation="eta_update",
        template_id="eta",
        channel="sms",
        address=PHONES[ref],
        body=body,
        not_before=created,
        next_attempt_at=created,
        created_at=created,
        **kw,
    )


def build_day(db: Database) -> Day:
    with db.session() as s:
        for name in ("admin", "alice", "bob", "vic"):  # the first login is the admin
            users_repo.login(s, name)
        s.flush()
        users_repo.set_role(s, "admin", "vic", "viewer")
    with db.session() as s:
        s.add(Depot(id="D1", name="Depot", lat=52.5, lon=13.4))
        s.add(
            Vehicle(id="V1", name="Van 1", depot_id="D1", shift_start=time(8), shift_end=time(17))
        )
        ada = Customer(ref="C-ADA", name="Ada Okafor", phone="+49 176 1234 5678")
        bert = Customer(ref="C-BERT", name="Bert Müller", phone="0176-9876543")
        cleo = Customer(ref="C-CLEO", name="Cleo Ng", phone="030 555 0100")
        route = Route(vehicle_id="V1", service_date=DAY)
        s.add_all([ada, bert, cleo, route])
        delivered = local(9, 20)
        stops = [
            _stop(
                "O-1001",
                ada,
                route,
                1,
                status="delivered",
                actual_arrival=local(9, 15),
                completed_at=delivered,
                pod_ref="POD-1",
                attempts=1,
            ),
            _stop("O-1002", bert, route, 2, pinned=True),
            _stop("O-1003", cleo, route, 3, keep_on_vehicle=True),
            _stop("O-2001", ada, None, None),
        ]
        s.add_all(stops)
        s.add(
            VehicleEventRow(
                event_id="e1",
                vehicle_id="V1",
                kind="delivered",
                ts=delivered,
                stop_ref="O-1001",
                pod_ref="POD-1",
            )
        )
        msgs = {
            "m3": _message(
                "k3",
                "O-1001",
                "Your order is out for delivery today.",
                local(8),
                status="sent",
                sent_at=local(8, 1),
            ),
            "m1": _message(
                "k1",
                "O-1002",
                "Your parcel arrives between 14:00 and 15:00.",
                local(9),
                status="delivered",
                sent_at=local(9, 1),
                delivered_at=local(9, 2),
            ),
            "m2": _message(
                "k2", "O-1003", "Running late, new ETA 2:30 PM.", local(9, 30), status="failed"
            ),
        }
        s.add_all(msgs.values())
        s.flush()
        ids = {st.order_ref: st.id for st in stops}
        message_ids = {k: m.id for k, m in msgs.items()}

    clock = FakeClock(local(9))
    recorder = EtaRecorder(db, EventBus(), clock)

    def board(**etas: datetime) -> None:
        recorder.on_etas(
            StopEtasChanged({ids[k.replace("_", "-")]: StopEta(v) for k, v in etas.items()})
        )
        recorder.flush()

    board(O_1002=local(14, 10), O_1003=local(15))

    def alerts(at: datetime) -> AlertService:
        clock.advance((at - clock.now()).total_seconds())
        return AlertService(SqlAlertStore(session), clock)

    with db.session() as session:
        late = Condition(
            AlertKind.AT_RISK,
            f"stop:{ids['O-1002']}",
            Severity.HIGH,
            "O-1002 at risk",
            stop_id=str(ids["O-1002"]),
            vehicle_id="V1",
        )
        alerts(local(9, 5)).reconcile([late], [AlertKind.AT_RISK])
    board(O_1002=local(14, 10, 30), O_1003=local(15))
    with db.session() as session:
        [a] = SqlAlertStore(session).list_alerts()
        assert a.id is not None
        alert_a = a.id
        alerts(local(9, 10)).acknowledge(alert_a, ALICE, a.version)
    clock.advance(60)
    board(O_1002=local(14, 25), O_1003=local(15))
    with db.session() as session:
        offline = Condition(
            AlertKind.VEHICLE_OFFLINE, "vehicle:V1", Severity.MEDIUM, "V1 offline", vehicle_id="V1"
        )
        alerts(local(9, 12)).reconcile([offline], [AlertKind.VEHICLE_OFFLINE])
    with db.session() as session:
        store = SqlAlertStore(session)
        a = store.get(alert_a)
        alert_b = next(x.id for x in store.list_alerts() if x.id != alert_a)
        assert alert_b is not None
        alerts(local(9, 30)).resolve(
            alert_a,
            ALICE,
            a.version,
            ResolutionCode.CUSTOMER_CONTACTED,
            note="customer called, fine with 14:25",
        )
    recorder.stop()
    return Day(ids, alert_a, alert_b, message_ids)
