"""stops get a version: route saves lock each stop they move (optimistic locking)

Two desks that drop the same unassigned stop onto two vans in one save window were both told
"ok" (issue 15, finding 5): the route versions differ, and nothing versioned the stop. The
ORM's ``version_id_col`` on ``stops.version`` makes the later save's UPDATE match no row, which
the route desk reports as a conflict and reloads.

Revision ID: conc_1
Revises: 0002
Create Date: 2026-12-04 04:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "conc_1"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )


def downgrade() -> None:
    with op.batch_alter_table("stops", schema=None) as batch_op:
        batch_op.drop_column("version")
