"""device credentials: one broker user per phone or tracker, hashed, revocable

Revision ID: broker_1
Revises: limits_1
Create Date: 2026-12-04 03:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "broker_1"
down_revision = "limits_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_credentials",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("device_key", sa.String(200), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_credentials")),
    )
    with op.batch_alter_table("device_credentials", schema=None) as batch_op:
        batch_op.create_index("ix_device_credentials_device_key", ["device_key"])
        batch_op.create_index("ix_device_credentials_username", ["username"])
        live = sa.text("revoked_at IS NULL")
        batch_op.create_index(
            "ux_device_credentials_live_key",
            ["device_key"],
            unique=True,
            sqlite_where=live,
            postgresql_where=live,
        )
        batch_op.create_index(
            "ux_device_credentials_live_user",
            ["username"],
            unique=True,
            sqlite_where=live,
            postgresql_where=live,
        )


def downgrade() -> None:
    op.drop_table("device_credentials")
