"""web2: customers' feedback after delivery, why the automation sent a message

Revision ID: web2_1
Revises: support_1
Create Date: 2026-12-04 16:40:00
"""

import sqlalchemy as sa
from alembic import op


revision = "web2_1"
down_revision = "support_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stop_id", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(80), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("vehicle_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_feedback")),
        sa.UniqueConstraint("stop_id", name=op.f("uq_customer_feedback_stop_id")),
    )
    op.create_index(
        "ix_customer_feedback_day", "customer_feedback", ["service_date", "vehicle_id"]
    )
    op.create_table(
        "outbox_auto_reasons",
        sa.Column("message_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_outbox_auto_reasons")),
    )


def downgrade() -> None:
    op.drop_table("outbox_auto_reasons")
    op.drop_table("customer_feedback")
