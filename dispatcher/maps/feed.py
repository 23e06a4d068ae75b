"""One batched update per UI tick, carrying only what changed since the last one.

:class:`MapFeed` sits between the live fleet (and the day's routes and open alerts) and the
page. The bridge calls :meth:`MapFeed.build` once per tick; the result is a dict for
:func:`~dispatcher.maps.jsbridge.to_js` or ``None`` when nothing changed, whatever the MQTT
rate. Rows are compact lists, not objects: at 10,000 vehicles the JSON size is what the page
pays for.

Payload keys:

* ``v`` — changed vehicles ``[id, lat, lon, heading, state, speed, last_seen, alert,
  accuracy_m, note]`` (``speed`` is whole km/h or mph, the fleet's unit, which the page's
  ``speedUnit`` option names; ``last_seen`` is the clock text in the fleet's locale
  (:mod:`dispatcher.display`); ``alert`` is 1 when the vehicle has an open exception; ``accuracy_m``
  is the radius of the accuracy circle of a coarse fix, else 0, and ``note`` says why it is
  coarse and what to switch on the device, else "");
* ``i`` — changed tooltip facts ``{id: [label, driver, next stop, ETA, exception titles]}``;
* ``rm`` — vehicles gone from the fleet;
* ``t`` — the clock's time (epoch seconds) for trail trimming.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from dispatcher import display
from dispatcher.fleet.health import position_note
from dispatcher.fleet.state import FleetState, VehicleSnapshot
from dispatcher.maps.routes import next_stop
from dispatcher.maps.styling import display_state
from dispatcher.model.alerts import Alert, AlertKind
from dispatcher.model.core import VehicleState
from dispatcher.model.stops import RouteView

Row = tuple[Any, ...]
#: Display state of a vehicle without open alerts (the common case, looked up per fix).
_PLAIN = {state: display_state(state).value for state in VehicleState}


class MapFeed:
    """Diffs the fleet against what the page was last sent (single-threaded: GUI thread)."""

    #: Tooltip facts (next stop, ETA) are recomputed at most this often, in clock seconds.
    info_interval_s = 20.0

    def __init__(self, fleet: FleetState, tz: tzinfo) -> None:
        self._fleet = fleet
        self._tz = tz
        #: The route boards' ETA per stop id (dispatcher/planning/stop_eta.py): one source.
        self._etas: Mapping[int, datetime | None] = {}
        self._sent: dict[str, Row] = {}
        self._sent_info: dict[str, Row] = {}
        self._dirty: set[str] = set()
        self._everything = True
        self._names: dict[str, tuple[str, str]] = {}
        self._routes: dict[str, RouteView] = {}
        self._kinds: dict[str, frozenset[AlertKind]] = {}
        self._titles: dict[str, tuple[str, ...]] = {}
        self._info_at: datetime | None = None
        self._seen_text: dict[datetime, str] = {}
        self._pending: dict[str, Row] = {}
        self._pending_rm: list[str] = []
        self._pending_info: dict[str, Row] = {}
        self._pending_t: datetime | None = None

    # -- inputs ---------------------------------------------------------------------------
    def mark(self, vehicle_ids: Iterable[str]) -> None:
        """These vehicles changed (a FleetChanged event); they are looked at next build."""
        self._dirty.update(vehicle_ids)

    def resend_all(self) -> None:
        """The page was (re)loaded: the next build sends everything."""
        self._sent.clear()
        self._sent_info.clear()
        self._pending.clear()
        self._pending_rm.clear()
        self._pending_info.clear()
        self._everything = True

    def set_vehicles(self, names: Mapping[str, tuple[str, str]]) -> None:
        """``{vehicle_id: (display name, driver name)}`` from the database."""
        self._names = dict(names)
        self._info_at = None

    def set_routes(self, routes: Iterable[RouteView]) -> None:
        self._routes = {r.vehicle_id: r for r in routes if r.vehicle_id}
        for r in self._routes.values():
            if r.vehicle_id not in self._names:
                self._names[r.vehicle_id] = (r.vehicle_name, r.driver_name)
        self._info_at = None

    def set_etas(self, etas: Mapping[int, datetime | None]) -> None:
        """The boards' arrival time per stop id (the "Next: … · ETA" of vehicle tooltips)."""
        self._etas = etas
        self._info_at = None

    def set_alerts(self, alerts: Iterable[Alert]) -> None:
        """The open alerts now; vehicles whose set changed are re-sent."""
        kinds: dict[str, set[AlertKind]] = {}
        titles: dict[str, list[str]] = {}
        for a in alerts:
            if a.vehicle_id:
                kinds.setdefault(a.vehicle_id, set()).add(a.kind)
                titles.setdefault(a.vehicle_id, []).append(a.title)
        new_kinds = {vid: frozenset(k) for vid, k in kinds.items()}
        changed = {
            vid
            for vid in new_kinds.keys() | self._kinds.keys()
            if new_kinds.get(vid) != self._kinds.get(vid)
        }
        self._kinds = new_kinds
        self._titles = {vid: tuple(sorted(t)) for vid, t in titles.items()}
        self._dirty.update(changed)
        self._info_at = None

    def alert_kinds(self, vehicle_id: str) -> frozenset[AlertKind]:
        return self._kinds.get(vehicle_id, frozenset())

    # -- output ---------------------------------------------------------------------------
    def build(self, now: datetime) -> dict[str, Any] | None:
        """The page update for this tick, or ``None`` when the page is up to date."""
        self.collect(now)
        return self.take()

    def collect(self, now: datetime) -> None:
        """Diff this tick's changes into the pending batch (every tick, cheap).

        When the page may not take a batch yet (one in flight, or a big fleet's frame budget),
        changes keep collecting here — each vehicle once, with its latest row — so the cost
        of a 10,000-vehicle batch is spread over the ticks instead of landing on one.
        """
        snaps = self._fleet.snapshots(None if self._everything else self._dirty)
        self._dirty = set()
        sent = self._sent
        pending = self._pending
        first_fix: list[str] = []
        for snap in snaps:
            row = self._row(snap)
            if row is not None and sent.get(snap.vehicle_id) != row:
                if snap.vehicle_id not in sent:
                    first_fix.append(snap.vehicle_id)
                sent[snap.vehicle_id] = row
                pending[snap.vehicle_id] = row
        for vid in first_fix:  # its ETA could not be known before its first position
            if vid in self._routes:
                self._pending_info[vid] = self._sent_info[vid] = self._facts(vid, now)
        for vid in self._removed():
            pending.pop(vid, None)
            self._pending_rm.append(vid)
        self._pending_info.update(self._info(now, force=self._everything))
        self._everything = False
        self._pending_t = now

    def take(self) -> dict[str, Any] | None:
        """The collected batch (and forget it), or ``None`` when nothing changed."""
        payload: dict[str, Any] = {}
        if self._pending:
            payload["v"] = list(self._pending.values())
        if self._pending_rm:
            payload["rm"] = [vid for vid in self._pending_rm if vid not in self._pending]
        if self._pending_info:
            payload["i"] = self._pending_info
        self._pending = {}
        self._pending_rm = []
        self._pending_info = {}
        if not payload or self._pending_t is None:
            return None
        payload["t"] = int(self._pending_t.timestamp())
        return payload

    def _row(self, s: VehicleSnapshot) -> Row | None:
        if s.lat is None or s.lon is None:
            return None
        vid = s.vehicle_id
        kinds = self._kinds.get(vid)
        if s.coarse:
            state = display_state(s.state, kinds or (), coarse=True).value
        else:
            state = _PLAIN[s.state] if kinds is None else display_state(s.state, kinds).value
        return (
            vid,
            round(s.lat, 5),
            round(s.lon, 5),
            None if s.heading_deg is None else round(s.heading_deg),
            state,
            None if s.speed_kmh is None else round(display.current().speed_value(s.speed_kmh)),
            self._clock_text(s.last_seen),
            0 if kinds is None else 1,
            round(s.accuracy_m or 0) if s.coarse else 0,
            position_note(s) if s.coarse else "",
        )

    def _clock_text(self, t: datetime | None) -> str:
        """``14:05:07`` / ``2:05:07 PM`` in the fleet's zone; a tick shares one ``now``: cached."""
        if t is None:
            return ""
        text = self._seen_text.get(t)
        if text is None:
            if len(self._seen_text) > 256:
                self._seen_text.clear()
            text = self._seen_text[t] = display.current().clock(t.astimezone(self._tz), True)
        return text

    def _removed(self) -> list[str]:
        if len(self._sent) <= len(self._fleet):
            return []
        gone = [vid for vid in self._sent if vid not in self._fleet]
        for vid in gone:
            del self._sent[vid]
            self._sent_info.pop(vid, None)
        return gone

    def _info(self, now: datetime, *, force: bool) -> dict[str, Row]:
        due = self._info_at is None or (now - self._info_at).total_seconds() >= (
            self.info_interval_s
        )
        if not (due or force):
            return {}
        self._info_at = now
        out: dict[str, Row] = {}
        for vid in self._names.keys() | self._titles.keys():
            info = self._facts(vid, now)
            if self._sent_info.get(vid) != info:
                self._sent_info[vid] = info
                out[vid] = info
        return out

    def _facts(self, vehicle_id: str, now: datetime) -> Row:
        name, driver = self._names.get(vehicle_id, (vehicle_id, ""))
        route = self._routes.get(vehicle_id)
        stop = next_stop(route) if route is not None else None
        next_text = eta_text = ""
        if stop is not None:
            next_text = stop.customer_name or stop.address or stop.order_ref
            eta = self._etas.get(stop.id)
            eta_text = "" if eta is None else display.current().clock(eta.astimezone(self._tz))
        return (name, driver, next_text, eta_text, list(self._titles.get(vehicle_id, ())))
