"""The PostgreSQL pool is sized per process role, so a control room stays under the server's
connection limit (issue 24, finding 7; the arithmetic is in docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.pool import QueuePool

from dispatcher.config import Settings, load_settings, pool_options
from dispatcher.errors import ConfigError
from dispatcher.persistence.database import Database


def test_roles_get_their_default_pool_and_the_config_overrides_it(tmp_path: Path) -> None:
    assert pool_options(Settings(), "console") == {"pool_size": 2, "max_overflow": 2}
    assert pool_options(Settings(), "serve") == {"pool_size": 4, "max_overflow": 4}
    config = tmp_path / "config.toml"
    config.write_text("[database]\npool_size = 6\nmax_overflow = 0\n")
    settings = load_settings(config, env={})
    assert pool_options(settings, "console") == {"pool_size": 6, "max_overflow": 0}
    # twenty consoles and a recorder with the defaults: under PostgreSQL's 100 connections
    assert 20 * sum(pool_options(Settings(), "console").values()) + 8 <= 97


@pytest.mark.parametrize(
    "bad", ["pool_size = 0", "max_overflow = -1", 'pool_size = "4"', "size = 3"]
)
def test_a_bad_pool_setting_names_the_key(tmp_path: Path, bad: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[database]\n{bad}\n")
    with pytest.raises(ConfigError, match="database"):
        load_settings(config, env={})


def test_a_postgresql_engine_is_built_with_the_pool(pg_url: str) -> None:
    db = Database(pg_url, pool={"pool_size": 2, "max_overflow": 1})
    try:
        pool = db.engine.pool
        assert isinstance(pool, QueuePool) and pool.size() == 2
        assert pool._max_overflow == 1
    finally:
        db.dispose()
