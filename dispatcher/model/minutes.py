"""Whole minutes as a person reads them, one rule for every view of a stop.

The route board, the exception queue and the messages all say how much slack a stop has left or
how late it is; when one floored, another rounded and a third took the ceiling, the same stop
read "9 min" on its board and "10 min of slack left" in its exception. Slack is floored (never
promise a minute that is not there), lateness rounded half up (a stop 20 s late is on time to
the person reading it, as the late rule's "at least 1 min" threshold already had it).
"""

from __future__ import annotations

import math


def slack_minutes(seconds: float) -> int:
    """Whole minutes left before the window closes (floored; 0 when none is left)."""
    return max(0, math.floor(seconds / 60.0))


def late_minutes(seconds: float) -> int:
    """Whole minutes late, rounded half up (0 for less than half a minute)."""
    return max(0, math.floor(seconds / 60.0 + 0.5))
