"""The support desk at a large depot's size: search, order card and flight recorder timings.

Stores ``--orders`` orders (default 20,000) for as many customers over ``--days`` days (default
5) on SQLite and/or PostgreSQL, with one outbox message per order, an alert with three audit
steps per 20 orders and ``--etas`` ETA log rows per order on the last day (default 4), then
times (best of 5, first run in brackets, milliseconds):

* ``find_orders`` for an order reference, a name fragment, a full phone number and a 4-digit
  phone fragment (the last one is the worst case: the digit pattern matches many numbers and
  the core keeps the true ones);
* ``order_card`` of one order;
* ``load_recording`` of the last day 06:00-20:00 UTC, and ``state_at`` at noon.

PostgreSQL databases are created on the server of ``DISPATCHER_TEST_PG_URL`` and dropped
afterwards. Run: ``.venv/bin/python bench/support.py [--orders 20000 --backends sqlite,postgres]``
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dispatcher.model.users import Role, User
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import (
    AlertRow,
    AuditEntry,
    Customer,
    EtaLogRow,
    OutboxRow,
    Stop,
)
from dispatcher.support.card import order_card
from dispatcher.support.recorder import load_recording
from dispatcher.support.search import find_orders

FIRST = date(2026, 11, 16)


@contextmanager
def database(backend: str) -> Iterator[Database]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{tmp}/bench.sqlite3")
            yield db
            db.dispose()
        return
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(os.environ["DISPATCHER_TEST_PG_URL"])
    name = f"bench_{uuid.uuid4().hex[:10]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(admin.set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(db: Database, orders: int, days: int, etas: int) -> None:
    rng = random.Random(7)
    last = FIRST + timedelta(days=days - 1)
    noon = datetime.combine(last, datetime.min.time(), UTC) + timedelta(hours=12)
    with db.session() as s:
        customers = [
            Customer(
                ref=f"C{i:06d}",
                name=f"{rng.choice(['Ada', 'Bert', 'Cleo', 'Dana'])} Person{i}",
                phone=f"+49 176 {rng.randrange(10**7, 10**8)}",
            )
            for i in range(orders)
        ]
        s.add_all(customers)
        s.flush()
        stops = [
            Stop(
                order_ref=f"ORD-{i:07d}",
                customer_id=customers[i].id,
                service_date=FIRST + timedelta(days=i % days),
                lat=52.5,
                lon=13.4,
            )
            for i in range(orders)
        ]
        s.add_all(stops)
        s.flush()
        for i, st in enumerate(stops):
            at = noon - timedelta(minutes=rng.randrange(0, 600))
            s.add(
                OutboxRow(
                    idempotency_key=f"k{i}",
                    stop_ref=st.order_ref,
                    situation="eta_update",
                    template_id="eta",
                    channel="sms",
                    address="+4917600000000",
                    body="Your parcel arrives between 14:00 and 15:00.",
                    not_before=at,
                    next_attempt_at=at,
                    created_at=at,
                    status="sent",
                    sent_at=at,
                )
            )
            if st.service_date == last:
                for k in range(etas):
                    s.add(EtaLogRow(stop_id=st.id, ts=at + timedelta(minutes=10 * k), eta=noon))
            if i % 20 == 0:
                alert = AlertRow(kind="at_risk", subject=f"stop:{st.id}", stop_id=str(st.id))
                alert.status = "resolved"
                s.add(alert)
                s.flush()
                for k, status in enumerate(("new", "acknowledged", "resolved")):
                    s.add(
                        AuditEntry(
                            ts=at + timedelta(minutes=5 * k),
                            actor="system",
                            action=status,
                            entity="alert",
                            entity_id=str(alert.id),
                            after={"kind": "at_risk", "status": status, "severity": 2},
                        )
                    )


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times), times[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--etas", type=int, default=4)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        run(backend, args)


def run(backend: str, args: argparse.Namespace) -> None:
    user = User("bench", Role.DISPATCHER)
    last = FIRST + timedelta(days=args.days - 1)
    start = datetime.combine(last, datetime.min.time(), UTC) + timedelta(hours=6)
    with database(backend) as db:
        t0 = time.perf_counter()
        fill(db, args.orders, args.days, args.etas)
        print(f"{backend}: stored {args.orders:,} orders in {time.perf_counter() - t0:.1f} s")
        with db.session() as s:
            some = s.query(Stop).filter(Stop.order_ref == "ORD-0000123").one()
            phone = some.customer.phone if some.customer else ""
            stop_id = some.id
        cases: dict[str, Callable[[], Any]] = {
            "search reference": lambda: find_orders(db, user, "ORD-0000123", "DE"),
            "search name": lambda: find_orders(db, user, "person123", "DE"),
            "search full phone": lambda: find_orders(db, user, phone, "DE"),
            "search 4 digits": lambda: find_orders(db, user, phone[-4:], "DE"),
            "order card": lambda: order_card(db, user, stop_id),
            "load recording 14 h": lambda: load_recording(db, start, start + timedelta(hours=14)),
        }
        for label, fn in cases.items():
            best, first = timed(fn)
            print(f"  {label:22s} {best:8.1f} ms  ({first:.1f})")
        rec = load_recording(db, start, start + timedelta(hours=14))
        noon = start + timedelta(hours=6)
        best, first = timed(lambda: rec.state_at(noon, max_messages=300))
        print(f"  {'state_at (in memory)':22s} {best:8.1f} ms  ({first:.1f})")


if __name__ == "__main__":
    main()
