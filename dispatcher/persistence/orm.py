"""ORM mapping of every table. Changing a column here needs an Alembic revision too.

Times are stored as timezone-aware UTC (``DateTime(timezone=True)``); SQLite keeps them as
text, so :class:`UtcDateTime` puts the UTC zone back on the way out. Optimistic locking
(``version``) is on what two workstations can edit at once: routes, alerts, outbox rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dispatcher.persistence.grid import cell_default

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it as a plain dict
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Depot(Base):
    __tablename__ = "depots"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class Driver(Base):
    __tablename__ = "drivers"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")


class Vehicle(Base):
    __tablename__ = "vehicles"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    plate: Mapped[str] = mapped_column(String(40), default="")
    depot_id: Mapped[str | None] = mapped_column(ForeignKey("depots.id"))
    driver_id: Mapped[str | None] = mapped_column(ForeignKey("drivers.id"))
    capacity: Mapped[int] = mapped_column(Integer, default=100)
    shift_start: Mapped[time] = mapped_column(Time, default=time(8, 0))
    shift_end: Mapped[time] = mapped_column(Time, default=time(17, 0))
    skills: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    depot: Mapped[Depot | None] = relationship()
    driver: Mapped[Driver | None] = relationship()


class DeviceBinding(Base):
    """Which tracker or phone speaks for which vehicle (edited by the dispatcher)."""

    __tablename__ = "device_bindings"
    device_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)


class DeviceSeenRow(Base):
    """A device that spoke (bound or not): the unknown-devices list and its health line.

    Counts add up over flushes; ``unknown`` is true while its messages are refused for want
    of a binding. Written in batches by the device registry's flusher, never per message.
    """

    __tablename__ = "devices_seen"
    device_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    format: Mapped[str] = mapped_column(String(16), default="")
    topic: Mapped[str] = mapped_column(String(256), default="")
    first_seen: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column(index=True)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    unknown: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    fix_ts: Mapped[datetime | None] = mapped_column()
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    battery_pct: Mapped[float | None] = mapped_column(Float)
    drift_s: Mapped[float | None] = mapped_column(Float)
    rejections: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class QuarantineRow(Base):
    """A rejected message kept for inspection (the newest N per device, a global cap)."""

    __tablename__ = "device_quarantine"
    __table_args__ = (Index("ix_device_quarantine_device_key_id", "device_key", "id"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    device_key: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column()
    topic: Mapped[str] = mapped_column(String(256), default="")
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(300), default="")
    excerpt: Mapped[str] = mapped_column(Text, default="")
    payload_size: Mapped[int] = mapped_column(Integer, default=0)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    preferred_channel: Mapped[str] = mapped_column(String(16), default="sms")
    opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    language: Mapped[str] = mapped_column(String(8), default="en")
    #: Why a phone or email is unusable (kept visible, never silently dropped).
    contact_problem: Mapped[str] = mapped_column(String(200), default="")


class Route(Base):
    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("vehicle_id", "service_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id"))
    service_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=_utcnow, onupdate=_utcnow)
    updated_by: Mapped[str] = mapped_column(String(80), default="")

    vehicle: Mapped[Vehicle] = relationship()
    stops: Mapped[list[Stop]] = relationship(
        back_populates="route", order_by="Stop.sequence", foreign_keys="Stop.route_id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Stop(Base):
    """One order = one stop (a delivery, or a pickup of a return)."""

    __tablename__ = "stops"
    __table_args__ = (Index("ix_stops_route_seq", "route_id", "sequence"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_ref: Mapped[str] = mapped_column(String(80), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    service_date: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16), default="delivery")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    service_s: Mapped[int] = mapped_column(Integer, default=300)
    demand: Mapped[int] = mapped_column(Integer, default=1)
    notes: Mapped[str] = mapped_column(Text, default="")
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id", ondelete="SET NULL"))
    sequence: Mapped[int | None] = mapped_column(Integer)
    #: Locks set by the dispatcher: the optimizer honours them.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    keep_on_vehicle: Mapped[bool] = mapped_column(Boolean, default=False)
    lock_group: Mapped[str | None] = mapped_column(String(40))
    planned_arrival: Mapped[datetime | None]
    actual_arrival: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failure_reason: Mapped[str] = mapped_column(String(200), default="")
    pod_ref: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)

    customer: Mapped[Customer | None] = relationship()
    route: Mapped[Route | None] = relationship(back_populates="stops", foreign_keys=[route_id])


class PositionRow(Base):
    __tablename__ = "positions"
    __table_args__ = (
        Index("ix_positions_vehicle_ts", "vehicle_id", "ts"),
        Index("ix_positions_cell_ts", "cell", "ts"),
    )
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    vehicle_id: Mapped[str] = mapped_column(String(40))
    ts: Mapped[datetime] = mapped_column(index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    battery_pct: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), default="native")
    out_of_order: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Coarse grid cell of (lat, lon): the proof-of-visit index key (persistence/grid.py).
    cell: Mapped[int | None] = mapped_column(Integer, default=cell_default)


class VehicleEventRow(Base):
    __tablename__ = "vehicle_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The device's own id for the event: a redelivered QoS 1 message is stored once.
    event_id: Mapped[str] = mapped_column(String(120), unique=True)
    vehicle_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    ts: Mapped[datetime] = mapped_column(index=True)
    stop_ref: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(200), default="")
    pod_ref: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), default="native")
    received_at: Mapped[datetime] = mapped_column(default=_utcnow)


class AlertRow(Base):
    """One exception. At most one open row per (kind, subject): a partial unique index."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_kind_subject", "kind", "subject", "id"),
        Index(
            "uq_alerts_open_key",
            "kind",
            "subject",
            unique=True,
            sqlite_where=text("status NOT IN ('resolved', 'dismissed')"),
            postgresql_where=text("status NOT IN ('resolved', 'dismissed')"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    severity: Mapped[int] = mapped_column(Integer, default=2)
    title: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    vehicle_id: Mapped[str | None] = mapped_column(String(40))
    stop_id: Mapped[str | None] = mapped_column(String(80))
    sla_deadline: Mapped[datetime | None]
    first_seen: Mapped[datetime] = mapped_column(default=_utcnow)
    opened_at: Mapped[datetime] = mapped_column(default=_utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=_utcnow)
    count: Mapped[int] = mapped_column(Integer, default=1)
    cause_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_occurrence: Mapped[str | None] = mapped_column(String(120))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    assignee: Mapped[str | None] = mapped_column(String(80))
    assigned_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    escalated_by: Mapped[str | None] = mapped_column(String(80))
    snoozed_until: Mapped[datetime | None]
    status_before_snooze: Mapped[str | None] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolution_code: Mapped[str | None] = mapped_column(String(40))
    resolution_note: Mapped[str] = mapped_column(Text, default="")
    auto_resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime | None]
    updated_by: Mapped[str | None] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer, default=1)


class OutboxRow(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_provider_id", "provider_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    stop_ref: Mapped[str | None] = mapped_column(String(80), index=True)
    situation: Mapped[str] = mapped_column(String(40))
    template_id: Mapped[str] = mapped_column(String(80))
    template_version: Mapped[int] = mapped_column(Integer, default=1)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    provider_id: Mapped[str] = mapped_column(String(200), default="")
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(80), default="system")
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class AuditEntry(Base):
    """Append-only: rows are inserted, never updated or deleted by the application."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(default=_utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(120), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="dispatcher")
    os_user: Mapped[str | None] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
