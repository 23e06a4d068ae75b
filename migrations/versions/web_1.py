"""web: the keys that sign the web front's links (tracking pages, driver links)

Revision ID: web_1
Revises: partition_1
Create Date: 2026-12-04 15:50:00
"""

import sqlalchemy as sa
from alembic import op


revision = "web_1"
down_revision = "partition_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_keys")),
    )


def downgrade() -> None:
    op.drop_table("web_keys")
