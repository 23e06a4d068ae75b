"""chores: when retention purged a proof of delivery's files

Revision ID: chores_1
Revises: web2_1
Create Date: 2026-12-04 19:00:00
"""

import sqlalchemy as sa
from alembic import op


revision = "chores_1"
down_revision = "web2_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pod_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pod_records", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
