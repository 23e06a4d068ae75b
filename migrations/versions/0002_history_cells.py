"""history at scale: grid cell on positions for proof-of-visit queries

Adds ``positions.cell`` (0.01 degree grid, see dispatcher/persistence/grid.py), fills it for
the fixes already stored, and indexes it with the time. Replay windows use the existing
``ix_positions_ts`` and ``ix_positions_vehicle_ts``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 11:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Same arithmetic as grid.cell_of; both terms are positive so truncation is floor.
_CELL_SQL = {
    "sqlite": "CAST((lat + 90.0) * 100.0 AS INTEGER) * 36001"
    " + CAST((lon + 180.0) * 100.0 AS INTEGER)",
    "postgresql": "CAST(floor((lat + 90.0) * 100.0) AS INTEGER) * 36001"
    " + CAST(floor((lon + 180.0) * 100.0) AS INTEGER)",
}


def upgrade() -> None:
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cell", sa.Integer(), nullable=True))
    dialect = op.get_bind().dialect.name
    op.execute(f"UPDATE positions SET cell = {_CELL_SQL[dialect]} WHERE cell IS NULL")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index("ix_positions_cell_ts", ["cell", "ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index("ix_positions_cell_ts")
        batch_op.drop_column("cell")
