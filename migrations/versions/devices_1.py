"""device profiles: how to read one device's battery and speed

Adds ``device_profiles`` (device key → battery unit, speed unit, voltage range), chosen when
a device is bound (docs/mqtt.md, "Device profiles").

Revision ID: devices_1
Revises: broker_1
Create Date: 2026-12-04 03:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "devices_1"
down_revision = "broker_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_profiles",
        sa.Column("device_key", sa.String(length=200), nullable=False),
        sa.Column("battery", sa.String(length=16), nullable=False),
        sa.Column("speed", sa.String(length=16), nullable=False),
        sa.Column("volts_empty", sa.Float(), nullable=False),
        sa.Column("volts_full", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_key", name=op.f("pk_device_profiles")),
    )


def downgrade() -> None:
    op.drop_table("device_profiles")
