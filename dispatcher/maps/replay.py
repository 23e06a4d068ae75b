"""Replay frames as map batches: the same rows, markers and diffing as the live feed.

While a replay runs, the page draws the fleet of the past instead of the live one. A frame
(:class:`~dispatcher.history.replay.ReplayFrame`: the time and every vehicle's position then)
becomes one batch in the live feed's row format (see :mod:`dispatcher.maps.feed`), so markers,
heading wedges, labels, clustering and tooltips work unchanged. Only what moved since the last
batch is sent: at 10x a frame comes ten times a second, and most of a 10,000-vehicle fleet
stands still between two of them.

Colours: a frame knows where each vehicle was, not which exceptions were open then, so a
replayed dot says only whether the vehicle was reporting (``on time`` green) or had been silent
for longer than the fleet's stale threshold (``no news`` grey). Replayed exceptions are in the
replay bar's event list.

Extra batch keys (besides ``v``, ``rm``, ``t`` of the live feed):

* ``replay`` — the banner text (``"14:05:07"`` in the fleet's zone and locale), or ``None``
  to leave replay;
* ``reset`` — 1 when the page must drop every vehicle it shows before applying the batch
  (entering or leaving replay, a page reload).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from dispatcher import display
from dispatcher.maps.feed import Row
from dispatcher.maps.styling import DisplayState


class ReplayedPosition(Protocol):
    """What the map needs of one vehicle in a frame (``ReplayPosition`` has it)."""

    @property
    def vehicle_id(self) -> str: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def heading_deg(self) -> float | None: ...
    @property
    def speed_kmh(self) -> float | None: ...
    @property
    def age_s(self) -> float: ...


class Frame(Protocol):
    """What the map needs of a replay frame (``ReplayFrame`` has it)."""

    @property
    def at(self) -> datetime: ...
    @property
    def positions(self) -> Sequence[ReplayedPosition]: ...


def replay_row(p: ReplayedPosition, at: datetime, tz: tzinfo, stale_after_s: float) -> Row:
    """One replayed vehicle as a live-feed row; "last seen" is when its fix was taken."""
    state = DisplayState.STALE if p.age_s > stale_after_s else DisplayState.ON_TIME
    shown = display.current()
    seen = shown.clock((at - timedelta(seconds=max(0.0, p.age_s))).astimezone(tz), True)
    return (
        p.vehicle_id,
        round(p.lat, 5),
        round(p.lon, 5),
        None if p.heading_deg is None else round(p.heading_deg),
        state.value,
        None if p.speed_kmh is None else round(shown.speed_value(p.speed_kmh)),
        seen,
        0,
    )


class ReplayFeed:
    """Diffs replay frames against what the page was last sent (GUI thread only)."""

    def __init__(self, tz: tzinfo, stale_after_s: float) -> None:
        self._tz = tz
        self._stale_after_s = stale_after_s
        self._sent: dict[str, Row] = {}
        self._reset = True

    def restart(self) -> None:
        """The page shows something else (live, or a reload): the next batch sends it all."""
        self._sent.clear()
        self._reset = True

    def batch(self, frame: Frame) -> dict[str, Any]:
        """The page update that shows ``frame`` (always a batch: the banner's time moves)."""
        at = frame.at
        rows: dict[str, Row] = {}
        for p in frame.positions:
            rows[p.vehicle_id] = replay_row(p, at, self._tz, self._stale_after_s)
        changed = [row for vid, row in rows.items() if self._sent.get(vid) != row]
        gone = [vid for vid in self._sent if vid not in rows]
        out: dict[str, Any] = {
            "replay": display.current().clock(at.astimezone(self._tz), True),
            "t": int(at.timestamp()),
        }
        if self._reset:
            out["reset"] = 1
            gone = []
        if changed:
            out["v"] = changed
        if gone:
            out["rm"] = gone
        self._sent = rows
        self._reset = False
        return out
