"""What woke a held stream: shared by the driver's and the customer's push streams.

A flag and a list, not a queue: a wait cut short by the heartbeat's timeout can never lose
what woke it, and a burst of the same change wakes the stream once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass(eq=False, kw_only=True)
class Wakeup:
    """Base of one open stream; keyword-only so subclasses keep positional fields."""

    pending: list[str] = field(default_factory=list)
    woken: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self, kind: str) -> None:
        if kind not in self.pending:
            self.pending.append(kind)
        self.woken.set()

    def take(self) -> list[str]:
        taken, self.pending = self.pending, []
        self.woken.clear()
        return taken
