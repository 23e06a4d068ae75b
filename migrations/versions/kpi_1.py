"""kpi: vehicle types (energy, CO2e factor, fixed cost), frozen route plans, route-day rollup

* ``vehicle_types``: per type, the energy used per km, the kg CO2e per litre/kWh and its
  source, and a fixed cost per route day (docs/kpi.md, "Cost and emissions").
* ``route_plans``: the frozen copy of a route's plan taken at dispatch (first delivery event).
* ``kpi_route_days``: one row per route day with its planned-vs-actual, cost and emissions,
  written once the day is over; the period view sums it in SQL.

Revision ID: kpi_1
Revises: driver_1
Create Date: 2026-12-04 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "kpi_1"
down_revision = "driver_1"
branch_labels = None
depends_on = None

_FLOATS = (
    "planned_km",
    "planned_drive_h",
    "planned_service_h",
    "planned_route_h",
)
_FLOATS_2 = ("planned_cost", "planned_co2e_kg", "actual_km", "drive_h", "service_h", "route_h")
_INTS = (
    "on_time_hits",
    "on_time_total",
    "first_attempt_hits",
    "first_attempt_total",
    "done",
    "failed",
    "skipped",
    "added",
    "removed",
    "parcels",
)


def upgrade() -> None:
    op.create_table(
        "vehicle_types",
        sa.Column("name", sa.String(length=24), nullable=False),
        sa.Column("energy", sa.String(length=16), nullable=False),
        sa.Column("energy_per_km", sa.Float(), nullable=False),
        sa.Column("co2e_kg_per_unit", sa.Float(), nullable=False),
        sa.Column("factor_source", sa.String(length=200), nullable=False),
        sa.Column("fixed_cost_per_route", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_vehicle_types")),
    )
    op.create_table(
        "route_plans",
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.String(length=64), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=24), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["routes.id"],
            name=op.f("fk_route_plans_route_id_routes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("route_id", name=op.f("pk_route_plans")),
    )
    op.create_index(
        op.f("ix_route_plans_service_date"), "route_plans", ["service_date"], unique=False
    )
    op.create_table(
        "kpi_route_days",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("vehicle_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=True),
        sa.Column("driver_id", sa.String(length=40), nullable=False),
        sa.Column("depot_id", sa.String(length=40), nullable=False),
        sa.Column("area", sa.String(length=24), nullable=False),
        sa.Column("plan_frozen", sa.Boolean(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in _FLOATS),
        sa.Column("planned_stops", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in _FLOATS_2),
        sa.Column("stops_visited", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("energy", sa.Float(), nullable=False),
        sa.Column("energy_unit", sa.String(length=8), nullable=False),
        sa.Column("co2e_kg", sa.Float(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _INTS),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_route_days")),
        sa.UniqueConstraint(
            "service_date", "vehicle_id", name=op.f("uq_kpi_route_days_service_date")
        ),
    )
    op.create_index(
        op.f("ix_kpi_route_days_service_date"), "kpi_route_days", ["service_date"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_kpi_route_days_service_date"), table_name="kpi_route_days")
    op.drop_table("kpi_route_days")
    op.drop_index(op.f("ix_route_plans_service_date"), table_name="route_plans")
    op.drop_table("route_plans")
    op.drop_table("vehicle_types")
