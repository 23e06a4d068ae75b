"""Automatic notifications: the outbox writes to customers without a dispatcher's click.

Configured per trigger in ``[messaging.auto]`` (all off unless ``enabled = true``)::

    [messaging.auto]
    enabled = true
    route_started = true     # the van left with your order: "on its way today, around 10:40"
    stops_away = 2           # arriving soon once this many stops (or fewer) are before yours
    eta_within_min = 30      # ... or once the ETA is this close (0: off)
    eta_moved_min = 20       # running late when the ETA moves later by more than this
    delivered = true
    failed = true            # "we missed you" (with the tracking link to choose a new time)
    window_changed = true    # the stop's window was changed (by a dispatcher or a request)
    per_customer_per_hour = 3   # at most this many automatic messages to one customer
    check_every_s = 60

Every message goes through the same composer and outbox as a click: opt-out, quiet hours
(held until morning), the customer's channel and the undo window apply; ``created_by`` says
which trigger sent it (``auto:eta_moved``), so the Messages dock shows what the automation
sent and why. Delivered/failed are never held back by the rate limit (they are the news).

Only the process that records for the site runs it (like the relay), on a thread of its own:
the console's GUI thread never walks routes. Each trigger fires once per stop (an ETA move
again only after a further move), remembered in memory and, across a restart, by the
outbox itself (a message with the same facts is the same row).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from dispatcher.errors import ConfigError, DispatcherError
from dispatcher.messaging.situations import Situation
from dispatcher.messaging.stop_facts import VehicleFix, route_etas
from dispatcher.model.core import StopStatus
from dispatcher.persistence import feedback_repo, web_repo

if TYPE_CHECKING:
    from dispatcher.messaging.service import MessagingService

log = logging.getLogger(__name__)

FRESH_FIX = timedelta(minutes=20)


@dataclass(frozen=True, slots=True)
class AutoSettings:
    enabled: bool = False
    route_started: bool = True
    stops_away: int = 2
    eta_within_min: int = 30
    eta_moved_min: int = 20
    delivered: bool = True
    failed: bool = True
    window_changed: bool = True
    per_customer_per_hour: int = 3
    check_every_s: float = 60.0

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> AutoSettings:
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for key, given in dict(raw or {}).items():
            if key not in types:
                raise ConfigError(f"unknown setting 'messaging.auto.{key}'")
            wanted = {"bool": bool, "int": int, "float": float}[str(types[key])]
            value = given
            ok = isinstance(value, wanted) and (wanted is bool or not isinstance(value, bool))
            if wanted is float and isinstance(value, int) and not isinstance(value, bool):
                value, ok = float(value), True
            if not ok or (wanted is not bool and value < 0):
                raise ConfigError(f"messaging.auto.{key} must be a {wanted.__name__} >= 0")
            values[key] = value
        return cls(**values)


@dataclass(frozen=True, slots=True)
class AutoSent:
    stop_id: int
    trigger: str
    message_id: int | None
    reason: str = ""


class AutoNotifier:
    """Watches the day's routes and queues the messages the triggers call for."""

    name = "automatic notifications"

    def __init__(self, service: MessagingService, settings: AutoSettings) -> None:
        self.service, self.settings = service, settings
        self.tz = service.settings.timezone
        self._fired: set[tuple[int, str]] = set()
        self._last_eta: dict[int, datetime] = {}
        self._windows: dict[int, tuple[datetime | None, datetime | None]] = {}
        self._recent: dict[int, deque[datetime]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    # -- the service ------------------------------------------------------------------------

    def start(self) -> AutoNotifier:
        self._thread = threading.Thread(target=self._run, name="auto-notify", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("automatic notifications: a pass failed")
            self._stopping.wait(self.settings.check_every_s)

    def tick(self) -> None:
        """Nothing per tick: the passes run on the notifier's own thread."""

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    # -- one pass -------------------------------------------------------------------------------

    def run_once(self) -> list[AutoSent]:
        """Look at today's routes once; returns what was queued (or refused, with why)."""
        now = self.service.clock.now()
        day = now.astimezone(ZoneInfo(self.tz)).date()
        sent: list[AutoSent] = []
        for stop_ids in web_repo.routed_stops_of_day(self.service.db, day).values():
            try:
                sent += self._route(stop_ids, now)
            except DispatcherError as exc:
                log.info("automatic notifications skipped a route: %s", exc)
        self.passes += 1
        return sent

    def _route(self, stop_ids: list[int], now: datetime) -> list[AutoSent]:
        cfg = self.settings
        first = self.service.load_contact(stop_ids[0])
        fix = None
        if first.vehicle_id:
            found = web_repo.latest_fix(self.service.db, first.vehicle_id, now - FRESH_FIX, now)
            fix = VehicleFix(*found) if found else None
        etas = route_etas(first, now, fix, self.tz, self.service.provider)
        pending = [s.stop_id for s in first.route if not s.status.is_final]
        out: list[AutoSent] = []
        for stop in first.route:
            sid, eta = stop.stop_id, etas.get(stop.stop_id)
            window = (stop.window_start, stop.window_end)
            seen = self._windows.setdefault(sid, window)
            if stop.status is StopStatus.DONE and cfg.delivered:
                out += self._once(
                    sid, "delivered", Situation.DELIVERED, eta, "delivered", urgent=True
                )
            elif stop.status is StopStatus.FAILED and cfg.failed:
                out += self._once(
                    sid, "failed", Situation.MISSED_YOU, eta, "delivery failed", urgent=True
                )
            elif not stop.status.is_final:
                if cfg.window_changed and seen != window:
                    self._windows[sid] = window
                    self._fired.discard((sid, "window_changed"))
                    out += self._once(
                        sid,
                        "window_changed",
                        Situation.WINDOW_CHANGED,
                        eta,
                        f"window changed to {_span(window, self.tz)}",
                    )
                before = pending.index(sid) if sid in pending else None
                near = before is not None and before < cfg.stops_away
                soon = (
                    cfg.eta_within_min > 0
                    and eta is not None
                    and eta - now <= timedelta(minutes=cfg.eta_within_min)
                )
                if fix is not None and (near or soon):
                    why = (
                        _stops_away(before)
                        if near and before is not None
                        else f"ETA within {cfg.eta_within_min} min"
                    )
                    out += self._once(sid, "arriving_soon", Situation.ARRIVING_SOON, eta, why)
                elif fix is not None and cfg.route_started:
                    out += self._once(
                        sid, "route_started", Situation.ARRIVING_SOON, eta, "route started"
                    )
                last = self._last_eta.get(sid)
                if eta is not None and last is None:
                    self._last_eta[sid] = eta
                elif (
                    eta is not None
                    and last is not None
                    and cfg.eta_moved_min > 0
                    and eta - last > timedelta(minutes=cfg.eta_moved_min)
                ):
                    self._last_eta[sid] = eta
                    self._fired.discard((sid, "eta_moved"))
                    moved = round((eta - last).total_seconds() / 60)
                    out += self._once(
                        sid, "eta_moved", Situation.RUNNING_LATE, eta, f"ETA moved by {moved} min"
                    )
        return out

    def _once(
        self,
        stop_id: int,
        trigger: str,
        situation: Situation,
        eta: datetime | None,
        why: str,
        *,
        urgent: bool = False,
    ) -> list[AutoSent]:
        """Queue the trigger's message once; ``why`` (plain words: "ETA moved by 25 min") is
        stored beside the outbox row for the Messages dock's "Sent by" column."""
        if (stop_id, trigger) in self._fired:
            return []
        self._fired.add((stop_id, trigger))
        contact = self.service.load_contact(stop_id)
        customer = contact.customer.customer_id
        now = self.service.clock.now()
        if customer is not None and not urgent and not self._allow(customer, now):
            return [AutoSent(stop_id, trigger, None, "rate limit")]
        try:
            send = self.service.send_auto(contact, situation, eta, f"auto:{trigger}")
        except DispatcherError as exc:  # a template missing a fact (no POD yet): say why
            return [AutoSent(stop_id, trigger, None, str(exc)[:200])]
        message = send.message
        if message is not None and message.id is not None and send.outcome.created:
            try:
                feedback_repo.add_auto_reason(self.service.db, message.id, trigger, why, now)
            except DispatcherError as exc:  # the message stands without its reason
                log.warning("no reason stored for message %s: %s", message.id, exc)
        if message is not None and customer is not None and not urgent:
            self._recent.setdefault(customer, deque()).append(now)
        reason = send.outcome.reason or ""
        return [AutoSent(stop_id, trigger, message.id if message else None, reason)]

    def _allow(self, customer: int, now: datetime) -> bool:
        recent = self._recent.setdefault(customer, deque())
        while recent and recent[0] <= now - timedelta(hours=1):
            recent.popleft()
        return len(recent) < self.settings.per_customer_per_hour


def _stops_away(before: int) -> str:
    if before == 0:
        return "next stop"
    return "1 stop away" if before == 1 else f"{before} stops away"


def _span(window: tuple[datetime | None, datetime | None], tz: str) -> str:
    zone = ZoneInfo(tz)
    start, end = (f"{w.astimezone(zone):%H:%M}" if w else "…" for w in window)
    return f"{start}-{end}"
