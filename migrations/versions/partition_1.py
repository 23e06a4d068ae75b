"""history at a control room's scale: one fix per (vehicle, instant), days as partitions

Two changes to ``positions``:

* A fix is identified by its vehicle and its instant: a unique index
  ``ux_positions_vehicle_ts`` replaces ``ix_positions_vehicle_ts``, and the writers insert
  with ``ON CONFLICT DO NOTHING``. A QoS 1 fix redelivered after a recorder died between its
  commit and its acknowledgement, or handed to a second recorder of a shared subscription,
  is then stored once (docs/deploy.md). Rows already stored twice are reduced to the first.
* On PostgreSQL the table becomes partitioned by range of ``ts``, one partition per UTC day
  (``positions_pYYYYMMDD``, dispatcher/persistence/partitions.py creates them ahead and on
  demand), so retention drops a day's partition instead of deleting its rows one by one.
  The primary key becomes ``(id, ts)`` (a partitioned table's unique keys must hold the
  partition key); ``id`` keeps its sequence. Existing rows are copied into partitions for
  the days they fall on. SQLite keeps one plain table.

Revision ID: partition_1
Revises: registry_1
Create Date: 2026-12-05 10:00:00
"""

from alembic import op

revision = "partition_1"
down_revision = "registry_1"
branch_labels = None
depends_on = None

#: Partitions for the days the copied rows fall on (UTC), created before the copy.
_PG_DAY_PARTITIONS = """
DO $$
DECLARE d date;
BEGIN
  FOR d IN SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM positions_unpartitioned LOOP
    EXECUTE format(
      'CREATE TABLE %I PARTITION OF positions FOR VALUES FROM (%L) TO (%L)',
      'positions_p' || to_char(d, 'YYYYMMDD'),
      to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00',
      to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
  END LOOP;
END $$
"""

_INDEXES = ("ix_positions_ts", "ix_positions_vehicle_ts", "ix_positions_cell_ts")


def _sequence(table: str) -> str:
    seq = op.get_bind().exec_driver_sql(f"SELECT pg_get_serial_sequence('{table}', 'id')").scalar()
    if not seq:
        raise RuntimeError(f"{table}.id has no sequence: not a schema this migration knows")
    return str(seq)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute(
            "DELETE FROM positions WHERE id NOT IN "
            "(SELECT min(id) FROM positions GROUP BY vehicle_id, ts)"
        )
        op.drop_index("ix_positions_vehicle_ts", table_name="positions")
        op.create_index("ux_positions_vehicle_ts", "positions", ["vehicle_id", "ts"], unique=True)
        return
    op.execute("ALTER TABLE positions RENAME TO positions_unpartitioned")
    op.execute(
        "ALTER TABLE positions_unpartitioned RENAME CONSTRAINT pk_positions"
        " TO pk_positions_unpartitioned"
    )
    for name in _INDEXES:
        op.execute(f"DROP INDEX {name}")
    seq = _sequence("positions_unpartitioned")
    op.execute(
        "CREATE TABLE positions (LIKE positions_unpartitioned INCLUDING DEFAULTS)"
        " PARTITION BY RANGE (ts)"
    )
    op.execute(_PG_DAY_PARTITIONS)
    # The first row of each (vehicle, instant) is kept; indexes are built once, after.
    op.execute(
        "INSERT INTO positions SELECT DISTINCT ON (vehicle_id, ts) * FROM positions_unpartitioned"
        " ORDER BY vehicle_id, ts, id"
    )
    op.execute(f"ALTER SEQUENCE {seq} OWNED BY positions.id")
    op.execute("DROP TABLE positions_unpartitioned")
    op.execute("ALTER TABLE positions ADD CONSTRAINT pk_positions PRIMARY KEY (id, ts)")
    op.execute("CREATE UNIQUE INDEX ux_positions_vehicle_ts ON positions (vehicle_id, ts)")
    op.execute("CREATE INDEX ix_positions_ts ON positions (ts)")
    op.execute("CREATE INDEX ix_positions_cell_ts ON positions (cell, ts)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index("ux_positions_vehicle_ts", table_name="positions")
        op.create_index("ix_positions_vehicle_ts", "positions", ["vehicle_id", "ts"], unique=False)
        return
    op.execute("ALTER TABLE positions RENAME TO positions_partitioned")
    seq = _sequence("positions_partitioned")
    op.execute("CREATE TABLE positions (LIKE positions_partitioned INCLUDING DEFAULTS)")
    op.execute("INSERT INTO positions SELECT * FROM positions_partitioned ORDER BY id")
    op.execute(f"ALTER SEQUENCE {seq} OWNED BY positions.id")
    op.execute("DROP TABLE positions_partitioned")  # with its partitions and indexes
    op.execute("ALTER TABLE positions ADD CONSTRAINT pk_positions PRIMARY KEY (id)")
    op.execute("CREATE INDEX ix_positions_ts ON positions (ts)")
    op.execute("CREATE INDEX ix_positions_vehicle_ts ON positions (vehicle_id, ts)")
    op.execute("CREATE INDEX ix_positions_cell_ts ON positions (cell, ts)")
