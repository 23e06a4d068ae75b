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

from dispatcher import limits
from dispatcher.clock import system_now
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
    return system_now()


class Depot(Base):
    __tablename__ = "depots"
    id: Mapped[str] = mapped_column(String(limits.FLEET_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(limits.NAME))
    address: Mapped[str] = mapped_column(String(limits.ADDRESS), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    #: Opening hours (local time of the fleet); None: open whenever a vehicle is there.
    opens_at: Mapped[time | None] = mapped_column(Time)
    closes_at: Mapped[time | None] = mapped_column(Time)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Driver(Base):
    __tablename__ = "drivers"
    id: Mapped[str] = mapped_column(String(limits.FLEET_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(limits.NAME))
    phone: Mapped[str] = mapped_column(String(limits.PHONE), default="")
    #: The device key of the phone or tracker the driver carries ("" when none).
    device_key: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Vehicle(Base):
    __tablename__ = "vehicles"
    id: Mapped[str] = mapped_column(String(limits.VEHICLE_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(limits.NAME))
    plate: Mapped[str] = mapped_column(String(40), default="")
    depot_id: Mapped[str | None] = mapped_column(ForeignKey("depots.id"))
    driver_id: Mapped[str | None] = mapped_column(ForeignKey("drivers.id"))
    capacity: Mapped[int] = mapped_column(Integer, default=100)
    shift_start: Mapped[time] = mapped_column(Time, default=time(8, 0))
    shift_end: Mapped[time] = mapped_column(Time, default=time(17, 0))
    skills: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    vehicle_type: Mapped[str] = mapped_column(String(24), default="van")
    cost_per_km: Mapped[float] = mapped_column(Float, default=0.0)
    cost_per_hour: Mapped[float] = mapped_column(Float, default=0.0)
    #: Where the day ends (None: back at ``depot_id``).
    end_depot_id: Mapped[str | None] = mapped_column(ForeignKey("depots.id"))
    #: Break rule: ``break_min`` minutes once ``break_after_min`` minutes of shift have passed.
    break_after_min: Mapped[int | None] = mapped_column(Integer)
    break_min: Mapped[int] = mapped_column(Integer, default=0)
    #: The break must have begun by this many minutes of shift (None: an hour after due).
    break_latest_min: Mapped[int | None] = mapped_column(Integer)
    #: Money for using the vehicle on a day (the planner's objective; docs/planning.md).
    fixed_cost: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    #: Capacity in kg and litres besides ``capacity`` (units); None: not limited.
    max_weight_kg: Mapped[int | None] = mapped_column(Integer)
    max_volume_l: Mapped[int | None] = mapped_column(Integer)
    #: Longest route, leaving to coming back (None: the shift only).
    max_route_min: Mapped[int | None] = mapped_column(Integer)

    depot: Mapped[Depot | None] = relationship(foreign_keys=[depot_id])
    driver: Mapped[Driver | None] = relationship()


class VehicleAssignment(Base):
    """Who drives which vehicle on a day (the vehicle's ``driver_id`` is the usual driver).

    One driver per vehicle and one vehicle per driver a day: both unique keys are in the
    database, so two workstations cannot put one driver on two vans.
    """

    __tablename__ = "vehicle_assignments"
    __table_args__ = (
        UniqueConstraint("service_date", "driver_id", name="uq_vehicle_assignments_driver_day"),
        UniqueConstraint("service_date", "vehicle_id", name="uq_vehicle_assignments_vehicle_day"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_date: Mapped[date] = mapped_column(Date)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"))
    driver_id: Mapped[str] = mapped_column(ForeignKey("drivers.id", ondelete="CASCADE"))


class DeviceBinding(Base):
    """Which tracker or phone speaks for which vehicle (edited by the dispatcher)."""

    __tablename__ = "device_bindings"
    device_key: Mapped[str] = mapped_column(String(limits.DEVICE_KEY), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)


class DeviceCredential(Base):
    """A broker user for one device key; only its PBKDF2 hash is kept (docs/mqtt.md).

    At most one live (not revoked) credential per device key and per user name, enforced by
    partial unique indexes so two desks creating one at once cannot both win.
    """

    __tablename__ = "device_credentials"
    __table_args__ = (
        Index(
            "ux_device_credentials_live_key",
            "device_key",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index(
            "ux_device_credentials_live_user",
            "username",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_key: Mapped[str] = mapped_column(String(200), index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(80))


class DeviceProfileRow(Base):
    """How to read one device's battery and speed, when it differs from its format's default.

    Keyed by device key like the binding, but its own table: a profile may be chosen before
    the device is bound, and survives a re-binding to another vehicle.
    """

    __tablename__ = "device_profiles"
    device_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    battery: Mapped[str] = mapped_column(String(16))
    speed: Mapped[str] = mapped_column(String(16))
    volts_empty: Mapped[float] = mapped_column(Float)
    volts_full: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=_utcnow, onupdate=_utcnow)


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
    ref: Mapped[str] = mapped_column(String(limits.CUSTOMER_REF), unique=True)
    name: Mapped[str] = mapped_column(String(limits.NAME))
    phone: Mapped[str] = mapped_column(String(limits.PHONE), default="")
    email: Mapped[str] = mapped_column(String(limits.EMAIL), default="")
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
    updated_by: Mapped[str] = mapped_column(String(limits.USERNAME), default="")

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
    order_ref: Mapped[str] = mapped_column(String(limits.ORDER_ID), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    service_date: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16), default="delivery")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    address: Mapped[str] = mapped_column(String(limits.ADDRESS), default="")
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
    #: What the vehicle must be able to do (a subset of its ``skills``).
    required_skills: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    weight_kg: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    volume_l: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    #: A pickup and a delivery sharing this key: one vehicle, the pickup first.
    pair_key: Mapped[str | None] = mapped_column(String(40))
    planned_arrival: Mapped[datetime | None]
    actual_arrival: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failure_reason: Mapped[str] = mapped_column(String(limits.REASON), default="")
    pod_ref: Mapped[str] = mapped_column(String(limits.POD_REF), default="")
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)
    #: Optimistic lock: two desks dropping the same stop onto two vans in one save window
    #: must not both be told "ok" (the later UPDATE finds the version moved on).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    customer: Mapped[Customer | None] = relationship()
    route: Mapped[Route | None] = relationship(back_populates="stops", foreign_keys=[route_id])

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PositionRow(Base):
    """One stored fix. A vehicle has at most one per instant (``ux_positions_vehicle_ts``): a
    redelivered fix is skipped on insert. On PostgreSQL the table is partitioned by UTC day
    and its primary key is ``(id, ts)`` (migration partition_1, persistence/partitions.py)."""

    __tablename__ = "positions"
    __table_args__ = (
        Index("ux_positions_vehicle_ts", "vehicle_id", "ts", unique=True),
        Index("ix_positions_cell_ts", "cell", "ts"),
    )
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    vehicle_id: Mapped[str] = mapped_column(String(limits.VEHICLE_ID))
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
    event_id: Mapped[str] = mapped_column(String(limits.EVENT_ID), unique=True)
    vehicle_id: Mapped[str] = mapped_column(String(limits.VEHICLE_ID), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    ts: Mapped[datetime] = mapped_column(index=True)
    stop_ref: Mapped[str | None] = mapped_column(String(limits.ORDER_ID))
    reason: Mapped[str] = mapped_column(String(limits.REASON), default="")
    pod_ref: Mapped[str] = mapped_column(String(limits.POD_REF), default="")
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
    subject: Mapped[str] = mapped_column(String(limits.ALERT_KEY))
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    severity: Mapped[int] = mapped_column(Integer, default=2)
    title: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    vehicle_id: Mapped[str | None] = mapped_column(String(limits.VEHICLE_ID))
    stop_id: Mapped[str | None] = mapped_column(String(limits.ORDER_ID))
    sla_deadline: Mapped[datetime | None]
    first_seen: Mapped[datetime] = mapped_column(default=_utcnow)
    opened_at: Mapped[datetime] = mapped_column(default=_utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=_utcnow)
    count: Mapped[int] = mapped_column(Integer, default=1)
    cause_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_occurrence: Mapped[str | None] = mapped_column(String(limits.ALERT_KEY))
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
    stop_ref: Mapped[str | None] = mapped_column(String(limits.ORDER_ID), index=True)
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


class EtaLogRow(Base):
    """One change of a stop's ETA as the route boards showed it: the flight recorder's record.

    Only changes are stored (a first ETA, a move of at least a minute, a reported arrival), so
    a day of a 100-vehicle fleet is a few rows per stop, not one per board evaluation. No
    foreign key: the record outlives a deleted order (docs/support.md).
    """

    __tablename__ = "eta_log"
    __table_args__ = (Index("ix_eta_log_stop_ts", "stop_id", "ts"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    stop_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(index=True)
    eta: Mapped[datetime | None]
    late_s: Mapped[int] = mapped_column(Integer, default=0)
    actual: Mapped[bool] = mapped_column(Boolean, default=False)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="dispatcher")
    os_user: Mapped[str | None] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class GeocodeCacheRow(Base):
    """Addresses already placed by the geocoder (dispatcher/geocoding.py), by normalized text."""

    __tablename__ = "geocode_cache"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(500), default="")
    provider: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)


class DriverAppDevice(Base):
    """A phone paired to the driver web app for one vehicle (issue 20, docs/driver.md).

    The secret of the pairing QR code is kept only as a hash. A revoked row is never live
    again: the phone must be paired anew, with a new id.
    """

    __tablename__ = "driver_app_devices"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(limits.NAME), default="")
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    last_seen: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(80))


class PodRecord(Base):
    """Proof of delivery of one driver action: files by content hash, metadata here."""

    __tablename__ = "pod_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The delivery event it belongs to (``vehicle_events.event_id``): one POD per action.
    event_id: Mapped[str] = mapped_column(String(limits.EVENT_ID), unique=True)
    stop_ref: Mapped[str] = mapped_column(String(limits.ORDER_ID), index=True)
    vehicle_id: Mapped[str] = mapped_column(String(limits.VEHICLE_ID))
    device_id: Mapped[str] = mapped_column(String(40), default="")
    recipient: Mapped[str] = mapped_column(String(limits.NAME), default="")
    taken_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=_utcnow)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    #: Metres between where the POD was taken and the stop (None: no position).
    distance_m: Mapped[float | None] = mapped_column(Float)
    #: ``[{"role": "photo"|"signature", "sha256": ..., "size": ..., "format": ...}]``
    files: Mapped[list[Any]] = mapped_column(default=list)
    #: When retention deleted the files (``[driver] pod_retention_days``); the row and its
    #: file list stay, so the record says a POD existed, what it held and when it went.
    purged_at: Mapped[datetime | None] = mapped_column(default=None)


class DriverMessage(Base):
    """One message of the desk ↔ driver conversation, about a stop or the whole route."""

    __tablename__ = "driver_messages"
    __table_args__ = (Index("ix_driver_messages_vehicle_id", "vehicle_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Idempotency key: a message the phone sends twice (offline queue) is stored once.
    client_key: Mapped[str] = mapped_column(String(limits.EVENT_ID), unique=True)
    vehicle_id: Mapped[str] = mapped_column(String(limits.VEHICLE_ID))
    stop_ref: Mapped[str | None] = mapped_column(String(limits.ORDER_ID), index=True)
    #: ``desk`` (to the driver) or ``driver`` (to the desk).
    direction: Mapped[str] = mapped_column(String(8))
    author: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)


class WebKeyRow(Base):
    """A secret that signs the web front's links (dispatcher/web/signing.py).

    Generated once by the first process that needs one and kept here, so the console, every
    ``dispatcher serve`` and ``dispatcher link`` sign and check with the same key. Rotation
    adds a row; a retired key no longer verifies, which revokes every link it signed.
    """

    __tablename__ = "web_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)
    retired_at: Mapped[datetime | None]


class CustomerRequestRow(Base):
    """Something a customer asked for on the tracking page (dispatcher/web/requests.py).

    ``status``: ``applied`` (the policy applied it at once: instructions), ``queued`` (a
    dispatcher decides, through the exception ``alert_id``), ``declined``. ``payload`` holds
    the request's own values (the slot, the instruction text), length-limited on entry.
    """

    __tablename__ = "customer_requests"
    __table_args__ = (Index("ix_customer_requests_stop", "stop_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stop_id: Mapped[int] = mapped_column(Integer)
    order_ref: Mapped[str] = mapped_column(String(limits.ORDER_ID))
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    alert_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str] = mapped_column(String(80), default="")


class InboundMessageRow(Base):
    """A message a customer sent us (an SMS reply through a gateway's webhook).

    ``provider_id`` (the gateway's message id) is unique: a webhook the gateway retries, or
    an attacker replays, is stored once. ``action``: ``opt_out``, ``opt_in`` or ``reply``.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_stop", "stop_ref", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    from_address: Mapped[str] = mapped_column(String(254))
    customer_id: Mapped[int | None] = mapped_column(Integer)
    stop_ref: Mapped[str | None] = mapped_column(String(limits.ORDER_ID))
    body: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(16), default="reply")
    received_at: Mapped[datetime] = mapped_column(default=_utcnow)
    read_by: Mapped[str] = mapped_column(String(80), default="")


class CustomerFeedbackRow(Base):
    """A customer's rating (1-5) and comment after delivery (dispatcher/web/feedback.py).

    One per stop (unique): a second submission is refused, so a replayed form or a second
    tab never changes what was said. ``service_date`` and ``vehicle_id`` are copied from the
    stop's route when it is given, so the period view joins it to ``kpi_route_days`` and
    groups it by vehicle, driver, depot or area like every other figure.
    """

    __tablename__ = "customer_feedback"
    __table_args__ = (
        UniqueConstraint("stop_id"),
        Index("ix_customer_feedback_day", "service_date", "vehicle_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stop_id: Mapped[int] = mapped_column(Integer)
    order_ref: Mapped[str] = mapped_column(String(limits.ORDER_ID))
    service_date: Mapped[date] = mapped_column(Date)
    vehicle_id: Mapped[str] = mapped_column(String(limits.VEHICLE_ID), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="done")
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    alert_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)


class AutoReasonRow(Base):
    """Why the automation queued an outbox row (dispatcher/messaging/auto.py): the trigger
    and its reason in plain words ("ETA moved by 25 min"), for the Messages dock."""

    __tablename__ = "outbox_auto_reasons"
    message_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    trigger: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)


class VehicleTypeRow(Base):
    """Energy, emission factor and fixed cost of a vehicle type (docs/kpi.md, "Cost and
    emissions"). Vehicles name their type in ``vehicles.vehicle_type``; a type without a row
    uses the built-in defaults of :mod:`dispatcher.kpi.emissions`."""

    __tablename__ = "vehicle_types"
    name: Mapped[str] = mapped_column(String(24), primary_key=True)
    energy: Mapped[str] = mapped_column(String(16), default="diesel")
    energy_per_km: Mapped[float] = mapped_column(Float, default=0.0)
    co2e_kg_per_unit: Mapped[float] = mapped_column(Float, default=0.0)
    factor_source: Mapped[str] = mapped_column(String(200), default="")
    fixed_cost_per_route: Mapped[float] = mapped_column(Float, default=0.0)


class RoutePlanRow(Base):
    """The frozen copy of a route's plan, taken at dispatch (the first delivery event of
    the route); never updated afterwards, so planned-vs-actual stays honest after edits."""

    __tablename__ = "route_plans"
    route_id: Mapped[int] = mapped_column(
        ForeignKey("routes.id", ondelete="CASCADE"), primary_key=True
    )
    vehicle_id: Mapped[str] = mapped_column(String(limits.VEHICLE_ID))
    service_date: Mapped[date] = mapped_column(Date, index=True)
    frozen_at: Mapped[datetime] = mapped_column()
    trigger: Mapped[str] = mapped_column(String(24))
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)


class RouteDayKpiRow(Base):
    """One route day's planned-vs-actual, cost and emissions, stored once the day is over
    so the period view sums a year in SQL (dispatcher/persistence/route_kpi_repo.py)."""

    __tablename__ = "kpi_route_days"
    __table_args__ = (UniqueConstraint("service_date", "vehicle_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_date: Mapped[date] = mapped_column(Date, index=True)
    vehicle_id: Mapped[str] = mapped_column(String(limits.VEHICLE_ID))
    route_id: Mapped[int | None] = mapped_column(Integer)
    driver_id: Mapped[str] = mapped_column(String(limits.FLEET_ID), default="")
    depot_id: Mapped[str] = mapped_column(String(limits.FLEET_ID), default="")
    area: Mapped[str] = mapped_column(String(24), default="")
    plan_frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    planned_km: Mapped[float] = mapped_column(Float, default=0.0)
    planned_drive_h: Mapped[float] = mapped_column(Float, default=0.0)
    planned_service_h: Mapped[float] = mapped_column(Float, default=0.0)
    planned_route_h: Mapped[float] = mapped_column(Float, default=0.0)
    planned_stops: Mapped[int] = mapped_column(Integer, default=0)
    planned_cost: Mapped[float] = mapped_column(Float, default=0.0)
    planned_co2e_kg: Mapped[float] = mapped_column(Float, default=0.0)
    actual_km: Mapped[float] = mapped_column(Float, default=0.0)
    drive_h: Mapped[float] = mapped_column(Float, default=0.0)
    service_h: Mapped[float] = mapped_column(Float, default=0.0)
    route_h: Mapped[float] = mapped_column(Float, default=0.0)
    stops_visited: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    energy: Mapped[float] = mapped_column(Float, default=0.0)
    energy_unit: Mapped[str] = mapped_column(String(8), default="")
    co2e_kg: Mapped[float] = mapped_column(Float, default=0.0)
    on_time_hits: Mapped[int] = mapped_column(Integer, default=0)
    on_time_total: Mapped[int] = mapped_column(Integer, default=0)
    first_attempt_hits: Mapped[int] = mapped_column(Integer, default=0)
    first_attempt_total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    parcels: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(default=_utcnow)
