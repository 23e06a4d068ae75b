"""The ``users`` table: who is at the desk, and the audited changes an admin makes to it.

Every write in the core names its actor by username; :func:`acting_user` reads that user's
row *in the writing transaction*, so a role taken away on another workstation counts at
once, and an actor that is no user (a typo, a forged name) is refused rather than recorded.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatcher.errors import NotFoundError, PermissionDenied, ValidationError
from dispatcher.model.users import Permission, Role, User, require
from dispatcher.persistence.orm import AuditEntry
from dispatcher.persistence.orm import User as UserRow

log = logging.getLogger(__name__)

USERNAME_MAX = 80
DISPLAY_NAME_MAX = 200
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]+$")


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A row of the users table as the admin's list shows it."""

    username: str
    display_name: str
    role: str
    os_user: str | None
    active: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "os_user": self.os_user,
            "active": self.active,
        }


def _user(row: UserRow) -> User:
    """The effective user of a row: inactive or unknown role means viewer (least privilege)."""
    try:
        role = Role(row.role) if row.active else Role.VIEWER
    except ValueError:
        log.warning("user %s has unknown role %r; treated as viewer", row.username, row.role)
        role = Role.VIEWER
    return User(row.username, role, row.display_name or row.username)


def _row(session: Session, username: str) -> UserRow | None:
    return session.scalar(select(UserRow).where(UserRow.username == username))


def login(session: Session, os_user: str) -> User:
    """The user for an OS account, created on first use.

    Mapping: the row whose ``os_user`` (or, failing that, ``username``) is the OS account. A
    missing row is created: as **admin** when the table is empty (the first person to open a
    new database sets it up), as **dispatcher** otherwise, so a new desk works at once and an
    admin raises or lowers the role later.
    """
    name = (os_user.strip() or "unknown")[:USERNAME_MAX]
    row = session.scalar(select(UserRow).where(UserRow.os_user == name)) or _row(session, name)
    if row is None:
        first = not session.scalar(select(func.count()).select_from(UserRow))
        role = Role.ADMIN if first else Role.DISPATCHER
        row = UserRow(username=name, display_name=name, role=role.value, os_user=name)
        try:
            with session.begin_nested():  # another desk may create the same login meanwhile
                session.add(row)
                session.flush()
        except IntegrityError:
            row = session.scalar(select(UserRow).where(UserRow.os_user == name))
            if row is None:
                raise PermissionDenied(f"cannot map the login {name!r} to a user") from None
            return _user(row)
        _audit(session, SYSTEM_LOGIN, "user.create", name, None, _snapshot(row))
    return _user(row)


SYSTEM_LOGIN = "login"
"""Actor of the audit row that records a user created by their first login."""


def find(session: Session, username: str) -> User | None:
    row = _row(session, username)
    return None if row is None else _user(row)


def acting_user(session: Session, username: str, permission: Permission) -> User:
    """The stored user ``username`` if their role allows ``permission``; else refused."""
    user = find(session, username)
    if user is None:
        raise PermissionDenied(f"{username!r} is not a user of this database")
    require(user, permission)
    return user


def active_users(session: Session) -> list[User]:
    """Every active user with a known role, by username."""
    rows = session.scalars(
        select(UserRow).where(UserRow.active.is_(True)).order_by(UserRow.username)
    )
    return [_user(r) for r in rows if r.role in Role.__members__.values()]


def list_users(session: Session) -> list[UserRecord]:
    rows = session.scalars(select(UserRow).order_by(UserRow.username))
    return [UserRecord(r.username, r.display_name, r.role, r.os_user, r.active) for r in rows]


def add_user(
    session: Session,
    by: str,
    username: str,
    role: str,
    *,
    display_name: str = "",
    os_user: str | None = None,
) -> UserRecord:
    """Create a user (admin only); ``os_user`` defaults to the username."""
    acting_user(session, by, Permission.MANAGE_USERS)
    username = _username(username, "username")
    os_user = _username(os_user, "OS login") if os_user else username
    if _row(session, username) is not None:
        raise ValidationError(f"username: {username!r} already exists")
    if session.scalar(select(UserRow).where(UserRow.os_user == os_user)) is not None:
        raise ValidationError(f"OS login: {os_user!r} is already mapped to another user")
    name = display_name.strip()
    if len(name) > DISPLAY_NAME_MAX or "\x00" in name:
        raise ValidationError(f"display name: at most {DISPLAY_NAME_MAX} characters, no NUL")
    row = UserRow(
        username=username,
        display_name=name or username,
        role=_role(role).value,
        os_user=os_user,
        active=True,
    )
    session.add(row)
    session.flush()
    _audit(session, by, "user.create", username, None, _snapshot(row))
    return UserRecord(row.username, row.display_name, row.role, row.os_user, row.active)


def set_role(session: Session, by: str, username: str, role: str) -> None:
    """Change a user's role (admin only); the last active admin cannot be demoted."""
    acting_user(session, by, Permission.MANAGE_USERS)
    row = _existing(session, username)
    new = _role(role)
    if row.role == Role.ADMIN.value and new is not Role.ADMIN and row.active:
        _keep_an_admin(session, username)
    before = _snapshot(row)
    row.role = new.value
    _audit(session, by, "user.role", username, before, _snapshot(row))


def set_active(session: Session, by: str, username: str, active: bool) -> None:
    """Deactivate (or reactivate) a user: kept for the audit trail, acts as a viewer."""
    acting_user(session, by, Permission.MANAGE_USERS)
    row = _existing(session, username)
    if not active and row.role == Role.ADMIN.value and row.active:
        _keep_an_admin(session, username)
    before = _snapshot(row)
    row.active = active
    _audit(session, by, "user.active", username, before, _snapshot(row))


def _keep_an_admin(session: Session, leaving: str) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(UserRow)
        .where(
            UserRow.role == Role.ADMIN.value,
            UserRow.active.is_(True),
            UserRow.username != leaving,
        )
    )
    if not others:
        raise ValidationError(f"{leaving} is the last admin: make someone else admin first")


def _existing(session: Session, username: str) -> UserRow:
    row = _row(session, username)
    if row is None:
        raise NotFoundError(f"no user {username!r}")
    return row


def _username(text: str, label: str) -> str:
    value = text.strip()
    if not value:
        raise ValidationError(f"{label}: required")
    if len(value) > USERNAME_MAX or not _USERNAME.match(value):
        raise ValidationError(
            f"{label}: {value[:40]!r} must be 1-{USERNAME_MAX} letters, digits or _ . @ -"
        )
    return value


def _role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValidationError(f"role: {text[:40]!r} is not one of {names}") from None


def _snapshot(row: UserRow) -> dict[str, object]:
    return {"role": row.role, "active": row.active, "os_user": row.os_user}


def _audit(
    session: Session,
    actor: str,
    action: str,
    username: str,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor,
            action=action,
            entity="user",
            entity_id=username,
            before=before,
            after=after,
        )
    )
