"""Alembic environment: runs on the connection handed over by dispatcher.persistence."""

from __future__ import annotations

import re

from alembic import context
from sqlalchemy import create_engine

from dispatcher.persistence.orm import Base, UtcDateTime

PARTITION_NAME = re.compile(r"^positions_p\d{8}$")
config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            _run(conn)
        return
    _run(connection)


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render our UTC type as a plain DateTime so revisions never import the ORM."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate leaves the day partitions of ``positions`` alone (PostgreSQL): they are
    made at run time (dispatcher/persistence/partitions.py), not by revisions."""
    return not (type_ == "table" and name is not None and PARTITION_NAME.match(name))


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
