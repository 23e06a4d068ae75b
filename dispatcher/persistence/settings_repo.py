"""Who may change the configuration file's settings, and the audit row of each change.

The settings themselves live in the TOML file, not the database; the database only says who
may write them (``users.role``, read in this transaction so a role taken away elsewhere counts
at once) and keeps the record of who changed what (``audit_log``, entity ``settings``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dispatcher.model.users import Permission, User
from dispatcher.persistence.orm import AuditEntry
from dispatcher.persistence.users_repo import acting_user


def may_edit_settings(session: Session, actor: str) -> User:
    """The stored user ``actor`` if an admin; else :class:`PermissionDenied` with why."""
    return acting_user(session, actor, Permission.EDIT_SETTINGS)


def audit_settings(
    session: Session,
    actor: str,
    section: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """One audit row: the changed keys of ``section`` with their old and new file values."""
    session.add(
        AuditEntry(
            actor=actor[:80],
            action="settings.edit",
            entity="settings",
            entity_id=section[:120],
            before=before,
            after=after,
        )
    )
