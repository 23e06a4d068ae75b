"""Persistence: SQLAlchemy 2.x ORM, the engine/session factory and Alembic migrations.

SQLAlchemy is imported only in this package. Other rooms talk to repositories here, and the
schema changes only through Alembic revisions in the top-level ``migrations/`` folder.
"""
