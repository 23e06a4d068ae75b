"""Roles, users and the one permission table every write in the core goes through.

| permission        | viewer | dispatcher | supervisor | admin |
|-------------------|--------|------------|------------|-------|
| handle exceptions | no     | yes        | yes        | yes   |
| edit routes       | no     | yes        | yes        | yes   |
| fix positions     | no     | yes        | yes        | yes   |
| optimize / apply  | no     | yes        | yes        | yes   |
| send messages     | no     | yes        | yes        | yes   |
| import orders     | no     | yes        | yes        | yes   |
| see phone numbers | no     | yes        | yes        | yes   |
| take a handover   | no     | yes        | yes        | yes   |
| edit templates    | no     | no         | yes        | yes   |
| fleet setup       | no     | no         | yes        | yes   |
| manage users      | no     | no         | no         | yes   |
| edit settings     | no     | no         | no         | yes   |

Roles are ordered: each one may do what the one below it may, so a check is "at least this
role". The alert queue's finer rules (who may act on whose exception) are in
:mod:`dispatcher.alerts.permissions`; an admin counts as a supervisor there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dispatcher.errors import PermissionDenied

SYSTEM_ACTOR = "system"
"""The actor recorded for what the core does on its own (rules, relays, retention)."""


class Role(enum.StrEnum):
    """What a person may do. The value is stored in ``users.role``: never rename one."""

    VIEWER = "viewer"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        """True when this role may do everything ``other`` may."""
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 0, Role.DISPATCHER: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class User:
    """The person acting; ``id`` (the username) is what audit rows and assignees record."""

    id: str
    role: Role
    name: str = ""

    @property
    def is_supervisor(self) -> bool:
        return self.role.at_least(Role.SUPERVISOR)


class Permission(enum.StrEnum):
    """A kind of write; the value reads in a message ("... cannot edit routes")."""

    HANDLE_EXCEPTIONS = "change exceptions"
    EDIT_ROUTES = "edit routes"
    FIX_POSITIONS = "fix where an order is on the map"
    OPTIMIZE = "optimize and apply routes"
    SEND_MESSAGES = "send customer messages"
    IMPORT_ORDERS = "import orders"
    #: A viewer (a support agent in training, a screen on the wall) sees "•••• 123".
    SEE_PHONE_NUMBERS = "see customers' phone numbers"
    ACK_HANDOVER = "take over a shift (acknowledge its handover)"
    EDIT_TEMPLATES = "edit message templates"
    FLEET_SETUP = "change the fleet setup"
    MANAGE_USERS = "manage users"
    EDIT_SETTINGS = "change the console's settings"


MINIMUM_ROLE: dict[Permission, Role] = {
    Permission.HANDLE_EXCEPTIONS: Role.DISPATCHER,
    Permission.EDIT_ROUTES: Role.DISPATCHER,
    Permission.FIX_POSITIONS: Role.DISPATCHER,
    Permission.OPTIMIZE: Role.DISPATCHER,
    Permission.SEND_MESSAGES: Role.DISPATCHER,
    Permission.IMPORT_ORDERS: Role.DISPATCHER,
    Permission.SEE_PHONE_NUMBERS: Role.DISPATCHER,
    Permission.ACK_HANDOVER: Role.DISPATCHER,
    Permission.EDIT_TEMPLATES: Role.SUPERVISOR,
    Permission.FLEET_SETUP: Role.SUPERVISOR,
    Permission.MANAGE_USERS: Role.ADMIN,
    Permission.EDIT_SETTINGS: Role.ADMIN,
}


def allowed(user: User, permission: Permission) -> bool:
    return user.role.at_least(MINIMUM_ROLE[permission])


def require(user: User, permission: Permission) -> None:
    """Raise :class:`PermissionDenied` with a sentence a person can act on if refused."""
    if allowed(user, permission):
        return
    needed = MINIMUM_ROLE[permission]
    raise PermissionDenied(
        f"{user.id} has the {user.role.value} role and cannot {permission.value}; "
        f"ask an admin for the {needed.value} role"
    )
