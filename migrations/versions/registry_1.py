"""devices: the devices that spoke (unknown-devices list, health) and the quarantine

Revision ID: registry_1
Revises: fleet_1
Create Date: 2026-12-04 03:40:00
"""

import sqlalchemy as sa
from alembic import op


revision = "registry_1"
down_revision = "fleet_1"
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "devices_seen",
        sa.Column("device_key", sa.String(200), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(256), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("unknown", sa.Boolean(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("fix_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.Float(), nullable=True),
        sa.Column("drift_s", sa.Float(), nullable=True),
        sa.Column("rejections", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("device_key", name=op.f("pk_devices_seen")),
    )
    with op.batch_alter_table("devices_seen", schema=None) as batch_op:
        batch_op.create_index("ix_devices_seen_last_seen", ["last_seen"], unique=False)
        batch_op.create_index("ix_devices_seen_unknown", ["unknown"], unique=False)
    op.create_table(
        "device_quarantine",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("device_key", sa.String(200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(256), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(300), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_quarantine")),
    )
    with op.batch_alter_table("device_quarantine", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_quarantine_device_key_id", ["device_key", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_device_quarantine_device_key_id")
    op.drop_table("device_quarantine")
    with op.batch_alter_table("devices_seen", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_seen_unknown")
        batch_op.drop_index("ix_devices_seen_last_seen")
    op.drop_table("devices_seen")
