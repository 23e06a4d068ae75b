"""limits: columns as wide as the shared limits (dispatcher/limits.py)

Vehicle ids become 64 characters in every table that stores one, event ids 128, delivery
failure reasons and proof-of-delivery references 256, alert subject keys 200: what the native
protocol already accepted. PostgreSQL enforces ``VARCHAR(n)`` and refused such values, which
stopped telemetry storage (issue 15).

Only PostgreSQL changes. SQLite does not enforce ``VARCHAR`` lengths (every such column is
TEXT to it), so there is nothing to widen; rebuilding the tables there (``batch_alter_table``)
would copy every position for no effect, and dropping ``vehicles`` during the rebuild would
fire ``ON DELETE CASCADE`` on ``device_bindings``. Widening a ``VARCHAR`` on PostgreSQL only
changes the catalogue (no table rewrite). The downgrade narrows them again and refuses (rolls
back, nothing lost) if a longer value is stored.

Revision ID: limits_1
Revises: geo_1
Create Date: 2026-12-04 03:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "limits_1"
down_revision = "geo_1"
branch_labels = None
depends_on = None

#: (table, column, old length, new length). Referenced columns come before the columns that
#: reference them, so the foreign keys stay between equal types at every step.
WIDENED = (
    ("vehicles", "id", 40, 64),
    ("device_bindings", "vehicle_id", 40, 64),
    ("routes", "vehicle_id", 40, 64),
    ("positions", "vehicle_id", 40, 64),
    ("vehicle_events", "vehicle_id", 40, 64),
    ("alerts", "vehicle_id", 40, 64),
    ("vehicle_events", "event_id", 120, 128),
    ("vehicle_events", "reason", 200, 256),
    ("vehicle_events", "pod_ref", 200, 256),
    ("stops", "failure_reason", 200, 256),
    ("stops", "pod_ref", 200, 256),
    ("alerts", "subject", 120, 200),
    ("alerts", "last_occurrence", 120, 200),
)


def _alter(to_new: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # see the module docstring: SQLite ignores VARCHAR lengths
    steps = WIDENED if to_new else tuple(reversed(WIDENED))
    for table, column, old, new in steps:
        op.alter_column(
            table,
            column,
            type_=sa.String(length=new if to_new else old),
            existing_type=sa.String(length=old if to_new else new),
        )


def upgrade() -> None:
    _alter(to_new=True)


def downgrade() -> None:
    _alter(to_new=False)
