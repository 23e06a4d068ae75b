"""Several workstations, one queue: change announcements and who runs the rules.

Two things travel on the broker, next to the telemetry:

* ``<prefix>/console/sync`` (QoS 1, not retained): after any alert change this process made
  (its rules or a person at its keyboard) it announces ``{"v": 1, "console_id": <node>,
  "entity": "alert", "id": "<alert id>" | "*", "version": n}``. Every other process turns
  what it hears into one :class:`AlertsChanged` (source ``remote``) on its next tick, and its
  views reload from the database: the message says *what* changed, never the change.
* ``<prefix>/console/alerts/lease/<node>`` (QoS 1, **retained**, one topic per process): a
  process that wants to run the rules holds ``{"v": 1, "owner": <node>, "priority": p,
  "ts": ...}`` there, renewed every ``renew_s``. A ``dispatcher serve`` has priority 1, a
  console 0. A lease renewed in the last ``lease_s`` is alive; better means higher priority,
  or equal priority and a smaller node id. A process that hears no better live lease
  *claims* (publishes its lease), and runs the rules only once it has held its claim for
  ``claim_s`` without hearing a better one; hearing one withdraws the claim (an empty
  retained message). Every claim reaches every process within milliseconds, so when a leader
  goes all the consoles claim at the same tick but only the best one runs: no double run.
  The topic is the connection's last will (empty, retained): a closed or killed process's
  lease disappears at once, and the broker keeps no lease of processes long gone.

  Takeover bound: a leader that closes or is killed (its socket closes) hands over within
  one tick + ``claim_s`` + one tick (about 1.5 s at the console's ticks, measured in
  tests/integration/test_integration_rooms.py); one that hangs or loses the network, within
  ``lease_s`` + ``claim_s`` (7 s).

The election only saves work: the database already refuses a second open alert per (kind,
subject) (a unique index), so two runners for a few seconds never raise an alert twice.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from dispatcher.alerts.events import AlertsChanged, ChangeSource
from dispatcher.clock import system_monotonic, system_now
from dispatcher.events import ConsoleNote, EventBus

log = logging.getLogger(__name__)

CONSOLE_PRIORITY = 0
SERVE_PRIORITY = 1
STALE_LEASE_S = 300.0
"""A retained lease stamped longer ago is ignored (its owner died and the broker lost the
will); younger ones count as heard now: generous, because workstation clocks differ."""
MAX_IDS_PER_ANNOUNCEMENT = 50
"""Above this many changed alerts one ``"id": "*"`` message says "reload everything"."""


class Publish(Protocol):
    def __call__(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None: ...


def sync_topic(prefix: str) -> str:
    return f"{prefix}/console/sync"


def lease_topic(prefix: str) -> str:
    return f"{prefix}/console/alerts/lease"


@dataclass(frozen=True, slots=True)
class _Lease:
    priority: int
    heard_at: float


def lease_filter(prefix: str) -> str:
    """The subscription that hears every process's lease."""
    return f"{lease_topic(prefix)}/+"


def node_lease_topic(prefix: str, node_id: str) -> str:
    """The retained topic where ``node_id`` holds its lease."""
    return f"{lease_topic(prefix)}/{node_id}"


class Election:
    """Who runs the rules, from the leases this process has heard (pure, clock injected).

    Args:
        node_id: This process's id (unique per process).
        priority: ``SERVE_PRIORITY`` for ``dispatcher serve``, ``CONSOLE_PRIORITY`` otherwise.
        lease_s: A lease not renewed for this long is dead (3 renewals at the default).
        grace_s: After start, wait this long before claiming (the retained leases of live
            owners arrive within it).
        claim_s: Hold a claim this long, hearing no better one, before running: longer than
            a publish takes to reach every process, so rivals claiming at the same tick hear
            each other and only the best runs.
        monotonic: Seconds that never go backwards.
    """

    def __init__(
        self,
        node_id: str,
        priority: int,
        *,
        lease_s: float = 6.0,
        grace_s: float = 2.0,
        claim_s: float = 1.0,
        monotonic: Callable[[], float] = system_monotonic,
    ) -> None:
        self.node_id = node_id
        self.priority = priority
        self.lease_s = lease_s
        self.claim_s = claim_s
        self._monotonic = monotonic
        self._start = monotonic()
        self._grace_s = grace_s
        self._claimed_at: float | None = None
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()

    def observe(self, owner: str, priority: int) -> None:
        """A lease renewal from ``owner`` was heard now."""
        if owner == self.node_id:
            return
        with self._lock:
            self._leases[owner] = _Lease(priority, self._monotonic())

    def released(self, owner: str) -> None:
        """``owner`` gave up its lease (closed cleanly)."""
        with self._lock:
            self._leases.pop(owner, None)

    def recorder_alive(self) -> bool:
        """True when a live lease of a ``dispatcher serve`` was heard (or this is one)."""
        if self.priority >= SERVE_PRIORITY:
            return True
        now = self._monotonic()
        with self._lock:
            return any(
                le.priority >= SERVE_PRIORITY and now - le.heard_at < self.lease_s
                for le in self._leases.values()
            )

    def leader(self) -> str:
        """The node that runs the rules as far as this process knows (maybe itself)."""
        best = self._better_than_me()
        return best or self.node_id

    def eligible(self) -> bool:
        """True when this node should claim: past the start grace, no better live lease."""
        if self._monotonic() - self._start < self._grace_s:
            return False
        if self._better_than_me() is None:
            return True
        self._claimed_at = None  # a better one is alive: our claim (if any) is void
        return False

    def claim(self) -> None:
        """This node published its lease (the first publish starts the claim)."""
        if self._claimed_at is None:
            self._claimed_at = self._monotonic()

    def withdraw(self) -> None:
        """This node cleared its lease."""
        self._claimed_at = None

    def may_run(self) -> bool:
        """True when this node has held its claim for ``claim_s`` and is still the best."""
        if not self.eligible() or self._claimed_at is None:
            return False
        return self._monotonic() - self._claimed_at >= self.claim_s

    def _better_than_me(self) -> str | None:
        now = self._monotonic()
        mine = (-self.priority, self.node_id)
        with self._lock:
            alive = {o: le for o, le in self._leases.items() if now - le.heard_at < self.lease_s}
        better = sorted((-le.priority, o) for o, le in alive.items() if (-le.priority, o) < mine)
        return better[0][1] if better else None


class AlertsSync:
    """A core service: announce local alert changes, hear remote ones, hold the rules' lease.

    Messages arrive on the MQTT network thread (:meth:`on_message` only queues them); the bus
    event is published from :meth:`tick`, on the thread that owns the views.

    Args:
        bus: The core's bus (listens to and publishes :class:`AlertsChanged`).
        election: This process's election.
        publish: The MQTT client's ``publish(topic, payload, qos, retain)`` (or later, with
            :meth:`attach`, when the client needs :meth:`on_message` first).
        prefix: The fleet's topic prefix.
        renew_s: How often the leader renews its lease.
        close: Called by :meth:`stop` after the lease is released (closes the connection).
        on_serve: Called once per ``dispatcher serve`` heard (a console that records itself
            warns: dispatcher/site.py).
        sweep: Delete what older versions left retained for ever (the recorder does it): a
            console status saying "offline" (nothing publishes one any more) and the single
            lease topic ``<prefix>/console/alerts/lease``.
    """

    name = "alerts sync"

    def __init__(
        self,
        bus: EventBus,
        election: Election,
        publish: Publish | None = None,
        *,
        prefix: str = "fleet",
        renew_s: float = 2.0,
        close: Callable[[], None] | None = None,
        monotonic: Callable[[], float] = system_monotonic,
        on_serve: Callable[[str], object] | None = None,
        sweep: bool = False,
    ) -> None:
        self._bus = bus
        self.election = election
        self._publish = publish
        self._prefix = prefix
        self._renew_s = renew_s
        self._close = close
        self._monotonic = monotonic
        self._inbox: deque[tuple[str, bytes]] = deque(maxlen=10_000)
        self._last_renew = float("-inf")
        self._holding = False
        self._on_serve = on_serve
        self._serves: set[str] = set()
        self._sweep = sweep
        self.swept = 0
        self.heard = 0
        self._unsubscribe = bus.subscribe(AlertsChanged, self._announce)

    def attach(self, publish: Publish, close: Callable[[], None] | None = None) -> None:
        """Set the connection once it exists (it needs :meth:`on_message` to be built)."""
        self._publish, self._close = publish, close

    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        subs = [(sync_topic(self._prefix), 1), (lease_filter(self._prefix), 1)]
        if self._sweep:
            subs += [(f"{self._prefix}/console/+/status", 1), (lease_topic(self._prefix), 1)]
        return subs

    @property
    def my_lease_topic(self) -> str:
        """Where this process holds its lease (also its connection's last will)."""
        return node_lease_topic(self._prefix, self.election.node_id)

    def on_message(self, topic: str, payload: bytes, ack: Callable[[], None] | None = None) -> None:
        """Queue a message (MQTT network thread); acknowledged at once: a lost announcement
        costs a reload at the next change, and the lease is renewed every few seconds."""
        self._inbox.append((topic, payload))
        if ack is not None:
            ack()

    def tick(self) -> None:
        """Apply what was heard; renew (or give up) the lease."""
        remote_ids: set[int] = set()
        reload_all = False
        while self._inbox:
            topic, payload = self._inbox.popleft()
            if topic.startswith(lease_topic(self._prefix) + "/"):
                self._on_lease(topic.rsplit("/", 1)[1], payload)
                continue
            if topic != sync_topic(self._prefix):
                self._sweep_legacy(topic, payload)
                continue
            found = self._on_sync(payload)
            if found is None:
                continue
            reload_all |= not found
            remote_ids |= found
        if reload_all or remote_ids:
            ids = frozenset() if reload_all else frozenset(remote_ids)
            self._bus.publish(AlertsChanged(ids, frozenset(), ChangeSource.REMOTE))
        self._keep_lease()

    def stop(self) -> None:
        """Give up the lease (others take over at once), then close the connection."""
        self._unsubscribe()
        if self._holding and self._publish is not None:
            self._publish(self.my_lease_topic, b"", 1, True)
            self._holding = False
        if self._close is not None:
            self._close()

    # -- internals -----------------------------------------------------------------------

    def _keep_lease(self) -> None:
        if not self.election.eligible():
            if self._holding and self._publish is not None:
                self._publish(self.my_lease_topic, b"", 1, True)  # withdraw the claim
            self._holding = False
            self.election.withdraw()
            return
        now = self._monotonic()
        if self._holding and now - self._last_renew < self._renew_s:
            return
        self._last_renew = now
        self._holding = True
        self.election.claim()
        if self._publish is None:
            return
        payload = {
            "v": 1,
            "owner": self.election.node_id,
            "priority": self.election.priority,
            "ts": system_now().isoformat(),
        }
        self._publish(self.my_lease_topic, _json(payload), 1, True)

    def _sweep_legacy(self, topic: str, payload: bytes) -> None:
        """Delete a retained leftover of an older version (see ``sweep``)."""
        data = _parse(payload)
        legacy = topic == lease_topic(self._prefix) or (
            data is not None and data.get("state") == "offline"
        )
        if self._sweep and legacy and self._publish is not None:
            self._publish(topic, b"", 1, True)
            self.swept += 1

    def _on_lease(self, owner: str, payload: bytes) -> None:
        data = _parse(payload)
        if data is None:  # empty: released, withdrawn, or the owner's last will
            self.election.released(owner)
            return
        priority: object = data.get("priority", CONSOLE_PRIORITY)
        if data.get("owner") != owner or not isinstance(priority, int):
            return  # a lease must sit on its owner's topic: no one speaks for another
        if _age_s(data.get("ts")) > STALE_LEASE_S:
            return  # the retained lease of an owner that died without clearing it
        self.election.observe(owner, priority)
        if priority >= SERVE_PRIORITY and owner not in self._serves:
            self._serves.add(owner)
            if self._on_serve is not None:
                self._on_serve(owner)

    def _on_sync(self, payload: bytes) -> set[int] | None:
        """Alert ids announced by another node; an empty set means "reload everything";
        None for our own echo, other entities and garbage."""
        data = _parse(payload)
        if data is None or data.get("console_id") == self.election.node_id:
            return None
        if data.get("entity") != "alert":
            self._bus.publish(_note(data))
            return None
        self.heard += 1
        raw = str(data.get("id", "*"))
        return {int(raw)} if raw.isdigit() else set()

    def _announce(self, event: AlertsChanged) -> None:
        if not event.is_local:
            return
        ids = sorted(event.alert_ids)
        if not ids or len(ids) > MAX_IDS_PER_ANNOUNCEMENT:
            self._send("*")
            return
        for alert_id in ids:
            self._send(str(alert_id))

    def _send(self, alert_id: str) -> None:
        payload = {
            "v": 1,
            "console_id": self.election.node_id,
            "entity": "alert",
            "id": alert_id,
            "ts": system_now().isoformat(),
        }
        if self._publish is None:
            return
        try:
            self._publish(sync_topic(self._prefix), _json(payload), 1, False)
        except Exception:  # the broker being away must not break the action that was taken
            log.warning("could not announce alert change %s", alert_id, exc_info=True)


def _note(data: dict[str, Any]) -> ConsoleNote:
    version = data.get("version")
    return ConsoleNote(
        str(data.get("entity", "")),
        str(data.get("id", "")),
        version if isinstance(version, int) and not isinstance(version, bool) else None,
        str(data.get("console_id", "")),
        _person(data.get("actor")),
    )


def _person(value: object) -> str:
    """A name fit for a status line: printable, at most 80 characters ("" when not a name)."""
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable())[:80].strip()


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _age_s(ts: object) -> float:
    """Seconds since an ISO timestamp by this machine's clock; 0 when missing or bad."""
    if not isinstance(ts, str):
        return 0.0
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return 0.0
    if when.tzinfo is None:
        return 0.0
    return (system_now() - when).total_seconds()


def _parse(payload: bytes) -> dict[str, Any] | None:
    if not payload:
        return None
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        log.debug("ignored a malformed alerts sync message")
        return None
    return data if isinstance(data, dict) else None
