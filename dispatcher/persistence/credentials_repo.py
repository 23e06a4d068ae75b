"""Device credentials in the database: create, revoke, list the live ones (hashes only).

Each change writes an audit row (never the secret, nor its hash). The partial unique indexes
of ``device_credentials`` make "one live credential per device key and per user name" hold
even when two desks act at once; the loser gets a :class:`ConflictError` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatcher.clock import system_now
from dispatcher.errors import ConflictError
from dispatcher.persistence.orm import AuditEntry, DeviceCredential
from dispatcher.persistence.orm import User as UserRow

ENTITY = "device_credential"


@dataclass(frozen=True, slots=True)
class CredentialView:
    """A credential as the broker files and the lists need it (hash, never the secret)."""

    device_key: str
    username: str
    secret_hash: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


def _view(row: DeviceCredential) -> CredentialView:
    return CredentialView(
        row.device_key,
        row.username,
        row.secret_hash,
        row.created_at,
        row.created_by,
        row.revoked_at,
    )


def live_credential(session: Session, device_key: str) -> CredentialView | None:
    row = session.scalar(
        select(DeviceCredential).where(
            DeviceCredential.device_key == device_key, DeviceCredential.revoked_at.is_(None)
        )
    )
    return None if row is None else _view(row)


def live_credentials(session: Session) -> list[CredentialView]:
    """Every credential a device may connect with, by user name (the broker's files)."""
    rows = session.scalars(
        select(DeviceCredential)
        .where(DeviceCredential.revoked_at.is_(None))
        .order_by(DeviceCredential.username)
    )
    return [_view(r) for r in rows]


def username_owner(session: Session, username: str) -> str | None:
    """The device key that has (or had) ``username``: a user name is never handed on."""
    return session.scalar(
        select(DeviceCredential.device_key).where(DeviceCredential.username == username).limit(1)
    )


def add_credential(
    session: Session, device_key: str, username: str, secret_hash: str, actor: str
) -> None:
    """Insert a live credential; a concurrent one for the key or user name → ConflictError."""
    row = DeviceCredential(
        device_key=device_key,
        username=username,
        secret_hash=secret_hash,
        created_by=actor[:80],
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise ConflictError(
            f"{device_key} or broker user {username} got a live credential at the same time "
            "on another desk; revoke it first"
        ) from None
    _audit(session, actor, "credential.create", device_key, {"username": username})


def revoke_credential(session: Session, device_key: str, actor: str, *, action: str) -> bool:
    """Mark the live credential of ``device_key`` revoked; False when there is none."""
    row = session.scalar(
        select(DeviceCredential)
        .where(DeviceCredential.device_key == device_key, DeviceCredential.revoked_at.is_(None))
        .with_for_update()
    )
    if row is None:
        return False
    row.revoked_at = system_now()
    row.revoked_by = actor[:80]
    session.flush()
    _audit(session, actor, action, device_key, {"username": row.username})
    return True


def _audit(session: Session, actor: str, action: str, key: str, after: dict[str, str]) -> None:
    session.add(
        AuditEntry(actor=actor[:80], action=action, entity=ENTITY, entity_id=key[:120], after=after)
    )


def role_of(session: Session, account: str) -> str | None:
    """The role of the user with this OS account (or user name); None if unknown."""
    row = session.scalar(select(UserRow).where(UserRow.os_user == account, UserRow.active))
    if row is None:
        row = session.scalar(select(UserRow).where(UserRow.username == account, UserRow.active))
    return None if row is None else row.role


def count_with_roles(session: Session, roles: frozenset[str]) -> int:
    """How many active users hold one of ``roles`` (zero on a fresh install)."""
    return int(
        session.scalar(
            select(func.count()).select_from(UserRow).where(UserRow.role.in_(roles), UserRow.active)
        )
        or 0
    )
