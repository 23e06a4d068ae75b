"""Several workstations: who runs the rules (the lease) and how changes are announced.

The election is pure (a fake monotonic clock); the sync service is driven with a recording
publish function and messages fed as the MQTT thread would feed them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.alerts.events import AlertsChanged, ChangeSource
from dispatcher.alerts.sync import (
    CONSOLE_PRIORITY,
    SERVE_PRIORITY,
    AlertsSync,
    Election,
    node_lease_topic,
    sync_topic,
)
from dispatcher.events import EventBus


class Mono:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int, bool]] = []

    def __call__(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, payload, qos, retain))

    def on(self, topic: str) -> list[dict[str, object] | None]:
        return [json.loads(p) if p else None for t, p, _, _ in self.sent if t == topic]


@pytest.fixture
def mono() -> Mono:
    return Mono()


def election(mono: Mono, node: str = "console-b", priority: int = CONSOLE_PRIORITY) -> Election:
    return Election(node, priority, lease_s=6, grace_s=2, claim_s=1, monotonic=mono)


def lease(owner: str, priority: int = CONSOLE_PRIORITY, age_s: float = 0.0) -> bytes:
    ts = datetime.now(UTC) - timedelta(seconds=age_s)
    return json.dumps({"v": 1, "owner": owner, "priority": priority, "ts": ts.isoformat()}).encode()


# -- the election -------------------------------------------------------------------------


def test_a_lone_console_claims_after_the_start_grace_and_runs_after_the_claim(
    mono: Mono,
) -> None:
    e = election(mono)
    assert not e.eligible(), "wait for the retained leases of live owners first"
    mono.t += 2
    assert e.eligible() and not e.may_run(), "eligible, but it has not claimed yet"
    e.claim()
    mono.t += 0.5
    assert not e.may_run(), "a rival's claim may still be on its way"
    mono.t += 0.5
    assert e.may_run() and e.leader() == "console-b"


def test_a_live_serve_keeps_every_console_quiet(mono: Mono) -> None:
    e = election(mono, "console-a")
    e.observe("serve-x", SERVE_PRIORITY)
    mono.t += 5
    assert not e.eligible() and e.leader() == "serve-x"
    mono.t += 1  # no renewal for the lease time: the serve is dead
    assert e.eligible()


def test_between_consoles_the_smaller_id_wins(mono: Mono) -> None:
    a, b = election(mono, "console-a"), election(mono, "console-b")
    mono.t += 3
    a.claim()
    b.claim()
    a.observe("console-b", CONSOLE_PRIORITY)
    b.observe("console-a", CONSOLE_PRIORITY)
    mono.t += 1
    assert a.may_run() and not b.may_run()


def test_a_serve_takes_over_from_a_console(mono: Mono) -> None:
    serve = election(mono, "serve-z", SERVE_PRIORITY)
    mono.t += 3
    serve.observe("console-a", CONSOLE_PRIORITY)
    assert serve.eligible()


def test_a_released_lease_hands_over_at_once(mono: Mono) -> None:
    e = election(mono, "console-b")
    mono.t += 3
    e.observe("console-a", CONSOLE_PRIORITY)
    assert not e.eligible()
    e.released("console-a")
    assert e.eligible()


def test_a_better_claim_heard_during_ours_voids_it(mono: Mono) -> None:
    e = election(mono, "console-b")
    mono.t += 3
    e.claim()
    e.observe("console-a", CONSOLE_PRIORITY)
    mono.t += 2
    assert not e.may_run()
    e.released("console-a")
    assert e.eligible() and not e.may_run(), "a fresh claim must be held again"


# -- the sync service ---------------------------------------------------------------------


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


def sync(bus: EventBus, mono: Mono, node: str = "console-b") -> tuple[AlertsSync, Recorder]:
    rec = Recorder()
    return AlertsSync(bus, election(mono, node), rec, prefix="p", monotonic=mono), rec


def test_local_changes_are_announced_remote_ones_are_not(bus: EventBus, mono: Mono) -> None:
    s, rec = sync(bus, mono)
    bus.publish(AlertsChanged(frozenset({3, 1}), frozenset(), ChangeSource.USER))
    bus.publish(AlertsChanged(frozenset({7}), frozenset(), ChangeSource.REMOTE))
    sent = rec.on(sync_topic("p"))
    assert [m["id"] for m in sent if m] == ["1", "3"]
    assert all(m and m["console_id"] == "console-b" and m["entity"] == "alert" for m in sent)
    assert all(qos == 1 and not retain for _, _, qos, retain in rec.sent)
    s.stop()


def test_many_changes_make_one_reload_everything_message(bus: EventBus, mono: Mono) -> None:
    s, rec = sync(bus, mono)
    bus.publish(AlertsChanged(frozenset(range(1, 200)), frozenset(), ChangeSource.RULES))
    assert [m["id"] for m in rec.on(sync_topic("p")) if m] == ["*"]
    s.stop()


def test_what_others_announce_becomes_one_remote_event_per_tick(bus: EventBus, mono: Mono) -> None:
    s, _ = sync(bus, mono)
    heard: list[AlertsChanged] = []
    bus.subscribe(AlertsChanged, heard.append)
    for alert_id in ("4", "5"):
        payload = {"v": 1, "console_id": "console-a", "entity": "alert", "id": alert_id}
        s.on_message(sync_topic("p"), json.dumps(payload).encode())
    own = {"v": 1, "console_id": "console-b", "entity": "alert", "id": "9"}
    s.on_message(sync_topic("p"), json.dumps(own).encode())
    s.on_message(sync_topic("p"), b"\xff not json")
    s.on_message(sync_topic("p"), json.dumps({"console_id": "x", "entity": "route"}).encode())
    s.tick()
    assert heard == [AlertsChanged(frozenset({4, 5}), frozenset(), ChangeSource.REMOTE)]
    s.tick()
    assert len(heard) == 1
    s.stop()


def test_the_leader_renews_its_retained_lease_and_clears_it_on_stop(
    bus: EventBus, mono: Mono
) -> None:
    s, rec = sync(bus, mono)
    mine = node_lease_topic("p", "console-b")
    assert s.my_lease_topic == mine
    s.tick()
    assert rec.on(mine) == [], "not during the start grace"
    mono.t += 2
    s.tick()
    s.tick()
    assert not s.election.may_run(), "claimed, not yet held for claim_s"
    mono.t += 2
    s.tick()
    assert s.election.may_run()
    leases = rec.on(mine)
    assert len(leases) == 2 and leases[0] is not None and leases[0]["owner"] == "console-b"
    assert all(retain for t, _, _, retain in rec.sent if t == mine)
    s.stop()
    assert rec.sent[-1] == (mine, b"", 1, True)


def test_a_better_lease_heard_withdraws_the_claim(bus: EventBus, mono: Mono) -> None:
    s, rec = sync(bus, mono)
    mine = node_lease_topic("p", "console-b")
    mono.t += 3
    s.tick()
    assert len(rec.on(mine)) == 1, "claimed"
    s.on_message(node_lease_topic("p", "serve-1"), lease("serve-1", SERVE_PRIORITY))
    s.tick()
    assert not s.election.eligible() and rec.on(mine)[-1] is None, "claim withdrawn"
    s.on_message(node_lease_topic("p", "serve-1"), b"")  # the serve closed (or was killed)
    s.tick()
    assert s.election.eligible() and rec.on(mine)[-1] is not None
    s.stop()


def test_a_lease_on_someone_elses_topic_is_ignored(bus: EventBus, mono: Mono) -> None:
    s, _ = sync(bus, mono)
    mono.t += 3
    s.on_message(node_lease_topic("p", "console-z"), lease("serve-1", SERVE_PRIORITY))
    s.tick()
    assert s.election.eligible()
    s.stop()


def test_the_retained_lease_of_a_dead_owner_is_ignored(bus: EventBus, mono: Mono) -> None:
    s, _ = sync(bus, mono)
    mono.t += 3
    s.on_message(
        node_lease_topic("p", "serve-dead"), lease("serve-dead", SERVE_PRIORITY, age_s=3600)
    )
    s.tick()
    assert s.election.eligible()
    s.stop()
