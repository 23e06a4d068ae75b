"""fleet setup: depot hours, vehicle costs/type/end depot/break, driver device, day assignments

Adds what the Fleet setup desk edits (docs/fleet-setup.md): opening hours and retirement of
depots; type, costs per km and hour, end depot and break rule of vehicles; the device a driver
carries and driver retirement; and ``vehicle_assignments`` (who drives which vehicle on a
day, unique per driver and per vehicle a day). Existing rows get the neutral defaults.

Revision ID: fleet_1
Revises: devices_1
Create Date: 2026-12-04 03:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "fleet_1"
down_revision = "devices_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("depots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opens_at", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("closes_at", sa.Time(), nullable=True))
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("drivers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("device_key", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("vehicle_type", sa.String(length=24), nullable=False, server_default="van")
        )
        batch_op.add_column(
            sa.Column("cost_per_km", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("cost_per_hour", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("end_depot_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("break_after_min", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("break_min", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_vehicles_end_depot_id_depots"), "depots", ["end_depot_id"], ["id"]
        )
    op.create_table(
        "vehicle_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("vehicle_id", sa.String(length=64), nullable=False),
        sa.Column("driver_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["driver_id"],
            ["drivers.id"],
            name=op.f("fk_vehicle_assignments_driver_id_drivers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_vehicle_assignments_vehicle_id_vehicles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle_assignments")),
        sa.UniqueConstraint(
            "service_date", "driver_id", name="uq_vehicle_assignments_driver_day"
        ),
        sa.UniqueConstraint(
            "service_date", "vehicle_id", name="uq_vehicle_assignments_vehicle_day"
        ),
    )


def downgrade() -> None:
    op.drop_table("vehicle_assignments")
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_vehicles_end_depot_id_depots"), type_="foreignkey")
        for column in (
            "break_min",
            "break_after_min",
            "end_depot_id",
            "cost_per_hour",
            "cost_per_km",
            "vehicle_type",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("drivers", schema=None) as batch_op:
        batch_op.drop_column("active")
        batch_op.drop_column("device_key")
    with op.batch_alter_table("depots", schema=None) as batch_op:
        batch_op.drop_column("active")
        batch_op.drop_column("closes_at")
        batch_op.drop_column("opens_at")
