"""support: the ETA log the flight recorder replays (what the desk was told, per stop)

Revision ID: support_1
Revises: kpi_1
Create Date: 2026-12-04 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "support_1"
down_revision = "kpi_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eta_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stop_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("eta", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_s", sa.Integer(), nullable=False),
        sa.Column("actual", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eta_log")),
    )
    op.create_index("ix_eta_log_stop_ts", "eta_log", ["stop_id", "ts"])
    op.create_index(op.f("ix_eta_log_ts"), "eta_log", ["ts"])


def downgrade() -> None:
    op.drop_index(op.f("ix_eta_log_ts"), table_name="eta_log")
    op.drop_index("ix_eta_log_stop_ts", table_name="eta_log")
    op.drop_table("eta_log")
