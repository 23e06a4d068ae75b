"""The SQL side of telemetry: batched position history and idempotent delivery events.

Implements :class:`dispatcher.telemetry.sink.TelemetrySink`. One call is one transaction. A
redelivered QoS 1 event (same ``event_id``) is ignored by the unique index, so the broker may
deliver again after a crash without duplicating anything. Events also move their stop along
(arrived → actual arrival; delivered/picked up → done; failed → failed with the reason).
Each position row carries its grid cell (proof-of-visit index); thinning happens before this
sink (:class:`dispatcher.history.thinning.ThinningSink`).

Fixes are idempotent too: a vehicle has one fix per instant (a unique index), and a fix that
is already stored is skipped. A QoS 1 fix redelivered to a recorder that restarted, or to a
second recorder of a shared subscription (docs/deploy.md), is stored once. On PostgreSQL the
first fix of a UTC day without its partition creates it (persistence/partitions.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from dispatcher.errors import DatabaseError, RecordRefused
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.persistence import partitions, route_kpi_repo
from dispatcher.persistence.database import Database, storage_error
from dispatcher.persistence.grid import cell_of
from dispatcher.persistence.orm import PositionRow, Stop, VehicleEventRow

_FINAL = {
    DeliveryEventKind.DELIVERED: "done",
    DeliveryEventKind.PICKED_UP: "done",
    DeliveryEventKind.FAILED: "failed",
}


class SqlTelemetrySink:
    """Writes telemetry batches with SQLAlchemy Core inserts (fast paths on both backends).

    Positions go through the table's Core insert, not the ORM's bulk insert: one DBAPI
    executemany per batch, about a third cheaper per row on the writer thread.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._newest: dict[str, float] = {}  # vehicle → newest fix stored by this sink
        #: UTC days (epoch day numbers) known to have a partition; None: not partitioned.
        self._days: set[int] | None = None
        self._checked = False

    def _late_flags(self, batch: Sequence[PositionReport]) -> list[bool]:
        """Whether each fix is older than one of its vehicle's stored before it.

        Such rows are history (a device flushing its buffer after a tunnel), never the
        live position; the flag lets history readers tell them apart. Memory is per
        process: after a restart the first fix of each vehicle counts as in order.
        """
        newest = self._newest
        flags = []
        for p in batch:
            t = p.ts.timestamp()
            last = newest.get(p.vehicle_id)
            late = last is not None and t < last
            if not late:
                newest[p.vehicle_id] = t
            flags.append(late)
        return flags

    def evict_silent(self, cut: float) -> int:
        """Forget vehicles whose newest stored fix is older than ``cut`` (epoch seconds).

        Called on the writer thread (the one that writes ``_newest``)."""
        newest = self._newest
        silent = [vid for vid, t in newest.items() if t < cut]
        for vid in silent:
            del newest[vid]
        return len(silent)

    def __len__(self) -> int:
        return len(self._newest)

    def write_positions(self, batch: Sequence[PositionReport]) -> None:
        if not batch:
            return
        self._ensure_partitions(batch)
        late = self._late_flags(batch)
        rows = [
            {
                "vehicle_id": p.vehicle_id,
                "ts": p.ts,
                "lat": p.lat,
                "lon": p.lon,
                "speed_kmh": p.speed_kmh,
                "heading_deg": p.heading_deg,
                "accuracy_m": p.accuracy_m,
                "battery_pct": p.battery_pct,
                "source": p.source[:16],
                "out_of_order": flag,
                "cell": cell_of(p.lat, p.lon),
            }
            for p, flag in zip(batch, late, strict=True)
        ]

        def insert(session: Any) -> None:
            stmt = _insert_ignore(session.bind.dialect.name, PositionRow, ("vehicle_id", "ts"))
            session.connection().execute(stmt, rows)

        try:
            self._run(insert)
        except RecordRefused as exc:
            if self._days is None or not partitions.is_missing_partition(exc.__cause__ or exc):
                raise
            self._days = None  # a day was dropped meanwhile (retention): look again, once
            self._checked = False
            self._ensure_partitions(batch)
            self._run(insert)

    def _ensure_partitions(self, batch: Sequence[PositionReport]) -> None:
        """On partitioned PostgreSQL, create the partition of any day of ``batch`` that has
        none (the recorder creates them ahead; this is for a day it has not reached)."""
        if not self._checked:
            self._checked = True
            engine = self._db.engine
            try:
                if partitions.is_partitioned(engine):
                    with engine.connect() as conn:
                        self._days = {p.day.toordinal() for p in partitions.day_partitions(conn)}
            except SQLAlchemyError as exc:
                self._checked = False
                raise storage_error(exc, self._db.url) from exc
        known = self._days
        if known is None:
            return
        days = {p.ts.astimezone(UTC).date().toordinal() for p in batch}
        missing = days - known
        if missing:
            try:
                partitions.ensure_days(self._db.engine, map(date.fromordinal, missing))
            except SQLAlchemyError as exc:
                raise storage_error(exc, self._db.url) from exc
            known |= missing

    def write_events(self, batch: Sequence[EventReport]) -> None:
        """Store each event in its own short transaction: one transaction for a batch of a
        500-vehicle fleet's events (each may freeze a route's plan) held SQLite's only write
        lock for over ten seconds, and the other writers gave up ("database is locked").
        Inserts ignore an event already stored, so a batch retried after a failure part-way
        through changes nothing twice."""
        for event in batch:
            self._run(lambda session, e=event: self._write_event(session, e))

    @staticmethod
    def _write_event(session: Any, event: EventReport) -> None:
        dialect = session.bind.dialect.name
        stmt = _insert_ignore(dialect).values(
            event_id=event.event_id,
            vehicle_id=event.vehicle_id,
            kind=event.kind.value,
            ts=event.ts,
            stop_ref=event.stop_id,
            reason=event.reason or "",
            pod_ref=event.pod_ref or "",
            note=event.note or "",
            lat=event.lat,
            lon=event.lon,
            source=event.source[:16],
        )
        if session.execute(stmt).rowcount and event.stop_id:
            # The route's first delivery event dispatches it: freeze its plan first.
            route_kpi_repo.freeze_for_stop(
                session, event.stop_id, event.ts, event.kind.value, event.vehicle_id
            )
            _apply_to_stop(session, event)

    def _run(self, work: Any) -> None:
        """One transaction. A failure surfaces classified: a transient DatabaseError (the
        writer retries) or RecordRefused (the writer isolates the record the database
        refuses and stores the others)."""
        try:
            with self._db.session() as session:
                work(session)
        except SQLAlchemyError as exc:
            raise storage_error(exc, self._db.url) from exc


def _insert_ignore(
    dialect: str, table: Any = VehicleEventRow, keys: Sequence[str] = ("event_id",)
) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING``: a row already stored is skipped."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    raise DatabaseError(f"unsupported database backend {dialect}")


def _apply_to_stop(session: Any, event: EventReport) -> None:
    stop = select(Stop.id).where(Stop.order_ref == event.stop_id).scalar_subquery()
    values: dict[str, Any]
    if event.kind is DeliveryEventKind.ARRIVED:
        values = {"actual_arrival": event.ts, "status": "arrived"}
    elif event.kind in _FINAL:
        values = {
            "status": _FINAL[event.kind],
            "completed_at": event.ts,
            "attempts": Stop.attempts + 1,
        }
        if event.kind is DeliveryEventKind.FAILED:
            values["failure_reason"] = event.reason or ""
    elif event.kind is DeliveryEventKind.POD:
        values = {"pod_ref": event.pod_ref or ""}
    else:
        return
    session.execute(update(Stop).where(Stop.id == stop).values(**values))
