"""The users desk: who is at this desk, and the admin's changes to the users table.

Who is at the desk: the OS login name of the process, mapped to a row of ``users``
(:func:`~dispatcher.persistence.users_repo.login`). The first login on an empty database is
made admin; later new logins start as dispatchers. Each command is one transaction, checked
against the actor's role as stored at that moment.
"""

from __future__ import annotations

import getpass

from dispatcher.model.users import User
from dispatcher.persistence import users_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.users_repo import UserRecord


def os_account() -> str:
    """The OS user running this process ("unknown" when the platform cannot say)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class UserDesk:
    def __init__(self, db: Database) -> None:
        self._db = db

    def login(self, os_user: str | None = None) -> User:
        with self._db.session() as session:
            return users_repo.login(session, os_user or os_account())

    def users(self) -> list[UserRecord]:
        with self._db.session() as session:
            return users_repo.list_users(session)

    def add(
        self,
        actor: str,
        username: str,
        role: str,
        *,
        display_name: str = "",
        os_user: str | None = None,
    ) -> UserRecord:
        with self._db.session() as session:
            return users_repo.add_user(
                session, actor, username, role, display_name=display_name, os_user=os_user
            )

    def set_role(self, actor: str, username: str, role: str) -> None:
        with self._db.session() as session:
            users_repo.set_role(session, actor, username, role)

    def set_active(self, actor: str, username: str, active: bool) -> None:
        with self._db.session() as session:
            users_repo.set_active(session, actor, username, active)
