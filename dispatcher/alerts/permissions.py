"""Who may do what to an alert. Enforced in the core, so every front end gets it for free.

| action               | viewer | dispatcher                               | supervisor |
|----------------------|--------|------------------------------------------|------------|
| see                  | not escalations | yes, except others' escalations | yes      |
| acknowledge          | no     | yes (not escalated)                      | yes        |
| assign               | no     | to self, if unassigned or already theirs | anyone     |
| escalate             | no     | unassigned or theirs                     | yes        |
| resolve / snooze     | no     | unassigned or theirs (not escalated)     | yes        |
| wake (unsnooze)      | no     | unassigned or theirs                     | yes        |
| dismiss              | no     | no                                       | yes        |

Escalated alerts belong to supervisors: a dispatcher can no longer act on them, and sees
only the ones they escalated themselves. An admin counts as a supervisor here.
"""

from __future__ import annotations

from dispatcher.alerts.transitions import Action
from dispatcher.errors import PermissionDenied, ValidationError
from dispatcher.model.alerts import Alert, AlertStatus, Role, User

_OWNER_ONLY = frozenset({Action.ESCALATE, Action.RESOLVE, Action.SNOOZE, Action.WAKE})


def can_see(user: User, alert: Alert) -> bool:
    """Escalations are the supervisors' queue; everything else is visible to everybody."""
    if alert.status is not AlertStatus.ESCALATED or user.is_supervisor:
        return True
    return alert.escalated_by == user.id


def check_permission(
    user: User, action: Action, alert: Alert, assignee: User | None = None
) -> None:
    """Raise :class:`PermissionDenied` (with a sentence a person can act on) if refused."""
    if action.by_system_only:
        raise PermissionDenied(f"{action.value} is done by the system, not by a person")
    if user.role is Role.VIEWER:
        raise PermissionDenied(f"{user.id} has a viewer role and cannot change exceptions")
    if action is Action.ASSIGN:
        _check_assignee(assignee)
    if user.is_supervisor:
        return
    _check_dispatcher(user, action, alert, assignee)


def _check_assignee(assignee: User | None) -> None:
    if assignee is None:
        raise ValidationError("assign needs the person to assign the exception to")
    if assignee.role is Role.VIEWER:
        raise ValidationError(f"{assignee.id} has a viewer role and cannot be assigned exceptions")


def _check_dispatcher(user: User, action: Action, alert: Alert, assignee: User | None) -> None:
    ref = f"exception #{alert.id}"
    if alert.status is AlertStatus.ESCALATED:
        raise PermissionDenied(f"{ref} is escalated: only a supervisor can act on it now")
    if action is Action.DISMISS:
        raise PermissionDenied(f"only a supervisor can dismiss {ref}")
    theirs = alert.assignee in (None, user.id)
    if action is Action.ASSIGN:
        if assignee is not None and assignee.id != user.id:
            raise PermissionDenied("a dispatcher can only assign exceptions to themselves")
        if not theirs:
            raise PermissionDenied(
                f"{ref} is assigned to {alert.assignee}: only a supervisor can reassign it"
            )
    if action in _OWNER_ONLY and not theirs:
        raise PermissionDenied(
            f"{ref} is assigned to {alert.assignee}: only they or a supervisor can "
            f"{action.value} it"
        )
