"""Create, rotate and revoke a device's broker credential; who may; applying it to the broker.

A credential is made for a device key (the key its telemetry binding uses) and handed out
once, in clear, to whoever sets up the phone; the database keeps its hash. Refused with a
reason: a key that already has a live credential (rotate or revoke it), a user name that
belongs or belonged to another device (a revoked phone's name is never handed on), a key no
broker ACL can confine. Every change is audited and applied to the embedded broker at once
(``on_change``), so a revoked phone is refused at its next connect.

**Who may** (hook point for the users-and-roles work, issue 13 item 4): :func:`authorize`.
Today it reads the ``users`` table: admins and supervisors may; everyone else is refused,
except on a fresh install where nobody holds either role yet (the first operator sets the
fleet up). Replace its body when the core gains a central permission check.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass

from dispatcher.devices.access import (
    DeviceTopics,
    check_username,
    default_username,
    device_topics,
    hash_secret,
    new_secret,
)
from dispatcher.errors import ConflictError, NotFoundError, PermissionDenied
from dispatcher.persistence import credentials_repo
from dispatcher.persistence.database import Database, Session

MANAGER_ROLES = frozenset({"admin", "supervisor"})


def os_account() -> str:
    """The person at this keyboard, as the audit log names them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def authorize(session: Session, actor: str) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` may manage device credentials."""
    if credentials_repo.count_with_roles(session, MANAGER_ROLES) == 0:
        return  # fresh install: no admin or supervisor to ask yet
    role = credentials_repo.role_of(session, actor)
    if role not in MANAGER_ROLES:
        raise PermissionDenied(
            f"{actor} ({role or 'no user'}) may not manage phone credentials: "
            "an admin or a supervisor must"
        )


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """What the phone needs, shown once: the password is not stored anywhere."""

    device_key: str
    username: str
    password: str
    topics: DeviceTopics


class DeviceCredentials:
    """The credential actions, each one transaction, then ``on_change()`` (broker reload).

    Args:
        db: the database.
        prefix: native topic prefix (the ACL's vehicle topics).
        on_change: called after a committed change, e.g. ``BrokerHome.sync``.
    """

    def __init__(
        self,
        db: Database,
        *,
        prefix: str = "fleet",
        on_change: Callable[[], object] | None = None,
    ) -> None:
        self._db = db
        self._prefix = prefix
        self._on_change = on_change

    def create(self, device_key: str, actor: str, username: str | None = None) -> IssuedCredential:
        """A new credential for a device that has none live."""
        topics = device_topics(device_key, self._prefix)
        name = check_username(username or default_username(device_key))
        secret = new_secret()
        with self._db.session() as session:
            authorize(session, actor)
            live = credentials_repo.live_credential(session, device_key)
            if live is not None:
                raise ConflictError(
                    f"{device_key} already has a live credential (broker user {live.username}, "
                    f"made by {live.created_by}); rotate or revoke it"
                )
            self._check_name(session, name, device_key)
            credentials_repo.add_credential(session, device_key, name, hash_secret(secret), actor)
        self._changed()
        return IssuedCredential(device_key, name, secret, topics)

    def rotate(self, device_key: str, actor: str) -> IssuedCredential:
        """A new password for the same broker user; the old one stops working at once."""
        topics = device_topics(device_key, self._prefix)
        secret = new_secret()
        with self._db.session() as session:
            authorize(session, actor)
            live = credentials_repo.live_credential(session, device_key)
            if live is None:
                raise NotFoundError(f"{device_key} has no live credential to rotate")
            credentials_repo.revoke_credential(
                session, device_key, actor, action="credential.rotate"
            )
            credentials_repo.add_credential(
                session, device_key, live.username, hash_secret(secret), actor
            )
        self._changed()
        return IssuedCredential(device_key, live.username, secret, topics)

    def revoke(self, device_key: str, actor: str) -> None:
        """The device's credential stops working; the broker refuses it from now on."""
        with self._db.session() as session:
            authorize(session, actor)
            if not credentials_repo.revoke_credential(
                session, device_key, actor, action="credential.revoke"
            ):
                raise NotFoundError(f"{device_key} has no live credential to revoke")
        self._changed()

    def live(self) -> list[credentials_repo.CredentialView]:
        with self._db.session() as session:
            return credentials_repo.live_credentials(session)

    @staticmethod
    def _check_name(session: Session, name: str, device_key: str) -> None:
        owner = credentials_repo.username_owner(session, name)
        if owner is not None and owner != device_key:
            raise ConflictError(
                f"broker user {name} belongs to {owner}; a user name is never reused "
                "for another device: choose another with --username"
            )

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
