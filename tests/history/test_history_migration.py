"""Revision 0002 adds the grid cell of every stored fix and its index, fills it for history
recorded before the upgrade, and goes back down cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from dispatcher.persistence import database as dbmod
from dispatcher.persistence.database import Database
from dispatcher.persistence.grid import cell_of

OLD_ROWS = [(52.52, 13.405), (-33.86, 151.21), (40.71, -74.006), (-0.004, -0.004)]


def position_indexes(db: Database) -> set[str]:
    return {ix["name"] or "" for ix in inspect(db.engine).get_indexes("positions")}


def test_0002_goes_down_and_up_and_fills_cells_of_old_history(db_url: str) -> None:
    db = Database(db_url)
    try:
        assert "ix_positions_cell_ts" in position_indexes(db)
        dbmod.downgrade(db.engine, "0001")
        assert dbmod.current_revision(db.engine) == "0001"
        columns = {c["name"] for c in inspect(db.engine).get_columns("positions")}
        assert "cell" not in columns
        assert "ix_positions_cell_ts" not in position_indexes(db)
        with db.engine.begin() as conn:
            for lat, lon in OLD_ROWS:
                conn.execute(
                    text(
                        "INSERT INTO positions (vehicle_id, ts, lat, lon, source, out_of_order)"
                        " VALUES ('v1', '2026-11-20 09:00:00', :lat, :lon, 'native', false)"
                    ),
                    {"lat": lat, "lon": lon},
                )
        dbmod.upgrade(db.engine, "0002")
        assert dbmod.current_revision(db.engine) == "0002"
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT lat, lon, cell FROM positions ORDER BY id")).all()
        assert [cell for _, _, cell in rows] == [cell_of(lat, lon) for lat, lon, _ in rows]
        assert "ix_positions_cell_ts" in position_indexes(db)
    finally:
        db.dispose()
