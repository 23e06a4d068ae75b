"""constraints: vehicle fixed cost, weight/volume limits, route duration, break window;
order skills, weight, volume and pickup-delivery pairs

Adds what the planner honours besides windows and the count capacity (docs/planning.md,
"Constraints"): on ``vehicles`` a fixed cost per day used, a weight (kg) and a volume (litres)
limit, a maximum route duration and the latest break start (the break window runs from
``break_after_min`` to ``break_latest_min`` minutes into the shift); on ``stops`` the skills an
order needs, its weight and volume, and the pair key joining a pickup to its delivery.
Existing rows get neutral values: no limit, no skill, no pair, nothing weighed.

Revision ID: constraints_1
Revises: partition_1
Create Date: 2026-12-04 15:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "constraints_1"
down_revision = "partition_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fixed_cost", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("max_weight_kg", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_volume_l", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_route_min", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("break_latest_min", sa.Integer(), nullable=True))
    with op.batch_alter_table("stops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("required_skills", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("weight_kg", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("volume_l", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("pair_key", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stops", schema=None) as batch_op:
        for name in ("pair_key", "volume_l", "weight_kg", "required_skills"):
            batch_op.drop_column(name)
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        for name in (
            "break_latest_min",
            "max_route_min",
            "max_volume_l",
            "max_weight_kg",
            "fixed_cost",
        ):
            batch_op.drop_column(name)
