"""Rule-runner takeover in a room of consoles: one run, and how long it takes (fake time).

A recorder and four consoles exchange their leases through a relay that delivers every
publish to every process at once (what the broker does within milliseconds). Time is a fake
monotonic clock ticked every 0.2 s (the console's GUI timer ticks faster), so the delays are
exact: the bounds of docs/exceptions.md.
"""

from __future__ import annotations

from dispatcher.alerts.sync import (
    CONSOLE_PRIORITY,
    SERVE_PRIORITY,
    AlertsSync,
    Election,
    node_lease_topic,
)
from dispatcher.events import EventBus

TICK_S = 0.2


class Mono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Room:
    """Processes on one broker: each publish reaches every process's inbox."""

    def __init__(self, mono: Mono) -> None:
        self.mono = mono
        self.members: dict[str, AlertsSync] = {}
        self.dead: set[str] = set()

    def join(self, node: str, priority: int) -> AlertsSync:
        election = Election(node, priority, monotonic=self.mono)
        sync = AlertsSync(
            EventBus(), election, self._publish_from(node), prefix="p", monotonic=self.mono
        )
        self.members[node] = sync
        return sync

    def _publish_from(self, node: str):
        def publish(topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
            if node in self.dead:
                return
            for member in self.members.values():
                member.on_message(topic, payload)

        return publish

    def kill(self, node: str) -> None:
        """The process dies; the broker publishes its last will (its lease, emptied)."""
        sync = self.members[node]
        self.dead.add(node)
        for other, member in self.members.items():
            if other != node:
                member.on_message(sync.my_lease_topic, b"")

    def hang(self, node: str) -> None:
        """The process stops answering but its connection stays: no will, no renewals."""
        self.dead.add(node)

    def runners(self) -> set[str]:
        return {n for n, s in self.members.items() if n not in self.dead and s.election.may_run()}

    def run(self, seconds: float, seen: list[set[str]]) -> None:
        for _ in range(round(seconds / TICK_S)):
            self.mono.t += TICK_S
            for node, sync in self.members.items():
                if node not in self.dead:
                    sync.tick()
            seen.append(self.runners())


def settled_room() -> tuple[Room, list[set[str]]]:
    room = Room(Mono())
    room.join("serve-r", SERVE_PRIORITY)
    for name in ("console-d", "console-b", "console-a", "console-c"):
        room.join(name, CONSOLE_PRIORITY)
    seen: list[set[str]] = []
    room.run(10, seen)
    assert seen[-1] == {"serve-r"}
    assert all(len(runners) <= 1 for runners in seen)
    return room, seen


def takeover(room: Room) -> tuple[float, list[set[str]]]:
    seen: list[set[str]] = []
    room.run(15, seen)
    assert all(len(runners) <= 1 for runners in seen), "never two runners at one tick"
    assert {n for runners in seen for n in runners} == {"console-a"}, "only the best one ran"
    first = next(i for i, runners in enumerate(seen) if runners)
    assert all(seen[first:]), "and it keeps running"
    return (first + 1) * TICK_S, seen


def test_a_killed_recorder_is_replaced_by_one_console_within_1_5_s() -> None:
    room, _ = settled_room()
    room.kill("serve-r")
    delay, _ = takeover(room)
    assert delay <= 1.5  # one tick to hear the will + claim_s (1 s) + one tick


def test_a_hung_recorder_is_replaced_by_one_console_within_7_5_s() -> None:
    room, _ = settled_room()
    room.hang("serve-r")
    delay, _ = takeover(room)
    assert delay <= 6 + 1 + 2 * TICK_S + 0.1  # lease_s + claim_s + ticks


def test_a_killed_console_leader_hands_over_to_the_next_console_only() -> None:
    room = Room(Mono())
    for name in ("console-a", "console-b", "console-c"):
        room.join(name, CONSOLE_PRIORITY)
    seen: list[set[str]] = []
    room.run(10, seen)
    assert seen[-1] == {"console-a"} and all(len(r) <= 1 for r in seen)
    assert {n for r in seen for n in r} == {"console-a"}
    room.kill("console-a")
    after: list[set[str]] = []
    room.run(5, after)
    assert {n for r in after for n in r} == {"console-b"} and all(len(r) <= 1 for r in after)


def test_the_lease_topics_are_one_per_process() -> None:
    room = Room(Mono())
    a = room.join("console-a", CONSOLE_PRIORITY)
    assert (
        a.my_lease_topic == node_lease_topic("p", "console-a") == "p/console/alerts/lease/console-a"
    )
