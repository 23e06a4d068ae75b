"""driver app: paired phones, proof of delivery metadata, desk-driver messages

Revision ID: driver_1
Revises: web_1
Create Date: 2026-12-04 15:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "driver_1"
down_revision = "web_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "driver_app_devices",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("vehicle_id", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(80), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_driver_app_devices_vehicle_id_vehicles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver_app_devices")),
    )
    op.create_table(
        "pod_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("stop_ref", sa.String(80), nullable=False),
        sa.Column("vehicle_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(40), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pod_records")),
        sa.UniqueConstraint("event_id", name=op.f("uq_pod_records_event_id")),
    )
    with op.batch_alter_table("pod_records", schema=None) as batch_op:
        batch_op.create_index("ix_pod_records_stop_ref", ["stop_ref"], unique=False)
    op.create_table(
        "driver_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_key", sa.String(128), nullable=False),
        sa.Column("vehicle_id", sa.String(64), nullable=False),
        sa.Column("stop_ref", sa.String(80), nullable=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver_messages")),
        sa.UniqueConstraint("client_key", name=op.f("uq_driver_messages_client_key")),
    )
    with op.batch_alter_table("driver_messages", schema=None) as batch_op:
        batch_op.create_index("ix_driver_messages_stop_ref", ["stop_ref"], unique=False)
        batch_op.create_index("ix_driver_messages_vehicle_id", ["vehicle_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("driver_messages")
    op.drop_table("pod_records")
    op.drop_table("driver_app_devices")
