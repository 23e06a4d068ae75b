"""The bus event every view of the exception queue listens to: :class:`AlertsChanged`.

One event per tick at most, whatever changed, published on the core's
:class:`~dispatcher.events.EventBus` from the thread that runs ``Core.tick`` (the GUI thread in
the console). Listeners (the queue, vehicle colours on the map, the KPIs) reload what they
show from the database: the event says *that* and roughly *what* changed, never the new state,
so a view can never drift from the one source of truth.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ChangeSource(enum.StrEnum):
    """Who changed the alerts."""

    #: The rule runner raised, refreshed, re-opened or auto-resolved alerts.
    RULES = "rules"
    #: A person on this workstation acted (acknowledge, assign, resolve...).
    USER = "user"
    #: Another workstation (or ``dispatcher serve``) announced a change on the sync topic.
    REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class AlertsChanged:
    """Alerts changed in the database; reload what you show of them.

    Attributes:
        alert_ids: The alerts known to have changed; empty means "unknown, reload all"
            (what a remote announcement without details says).
        raised_ids: Among them, the alerts that were raised or re-opened (new to people):
            the queue rings for the critical ones.
        source: Who changed them; the sync service re-announces only local changes.
    """

    alert_ids: frozenset[int] = frozenset()
    raised_ids: frozenset[int] = frozenset()
    source: ChangeSource = ChangeSource.RULES

    @property
    def is_local(self) -> bool:
        """True when this workstation made the change (so other consoles must hear of it)."""
        return self.source is not ChangeSource.REMOTE
