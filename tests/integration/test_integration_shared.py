"""Two recorders share ingest on one Mosquitto; the one running the rules is killed mid-stream.

Issue 17. Two ``dispatcher serve`` processes (``[recorder] shared_group``, instances ``a`` and
``b``) on one broker and one database. Fixes are published at QoS 1 while the recorder holding
the rules' lease is killed with SIGKILL, then restarted as systemd would (same instance, so
the same broker session). Every fix is stored exactly once — the ones the killed recorder had
taken but not acknowledged, and its share while it was away, wait in its session and arrive
when it is back; the unique (vehicle, instant) absorbs what is delivered again — and the other
recorder takes the rules over: never two processes running them at once.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from test_integration_live import REPO

from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import PositionRow, Vehicle

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
VEHICLES = [f"V{n:02d}" for n in range(1, 6)]
PER_VEHICLE = 300  # 1,500 fixes, five vehicles at 1 Hz for five minutes
KILL_AFTER = 500
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


@dataclass
class Recorder:
    """One ``dispatcher serve`` subprocess, its output read as it comes (with times)."""

    instance: str
    proc: subprocess.Popen[str]
    lines: list[tuple[float, str, str]] = field(default_factory=list)  # (mono, stream, text)
    readers: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, cfg: Path, db_url: str, instance: str) -> Recorder:
        cmd = [sys.executable, str(REPO / "main.py"), "--config", str(cfg), "--db", db_url]
        proc = subprocess.Popen(
            [*cmd, "-v", "serve", "--instance", instance],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        rec = cls(instance, proc)
        for stream, name in ((proc.stdout, "out"), (proc.stderr, "err")):
            reader = threading.Thread(target=rec._read, args=(stream, name), daemon=True)
            reader.start()
            rec.readers.append(reader)
        return rec

    def _read(self, stream: IO[str], name: str) -> None:
        for line in stream:
            self.lines.append((time.monotonic(), name, line.rstrip("\n")))

    def out(self, needle: str) -> list[str]:
        return [text for _, stream, text in self.lines if stream == "out" and needle in text]

    def logged(self, needle: str) -> list[datetime]:
        """When the process logged ``needle`` (its own clock, from the log line)."""
        found = []
        for _, stream, text in self.lines:
            match = LOG_TIME.match(text)
            if stream == "err" and match and needle in text:
                found.append(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f"))
        return found

    @property
    def node_prefix(self) -> str:
        """The start of its rules-lease node id (alerts/wiring.py: serve-<host>-<pid>-)."""
        return f"-{self.proc.pid}-"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.out("recording from"):
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal it (unless it ended), wait, read the last lines, close the pipes."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(60)
        finally:
            for reader in self.readers:
                reader.join(10)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()

    def text(self) -> str:
        return "\n".join(f"{s}: {t}" for _, s, t in self.lines[-60:])


class Broker:
    """Publishes the fixes at QoS 1 and follows who holds the rules' lease."""

    def __init__(self, url: str, prefix: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.prefix = prefix
        self.leases: dict[str, bytes] = {}
        self.lease_log: list[tuple[float, str, bool]] = []
        self.published = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"p-{uuid.uuid4().hex}")
        self.client.max_inflight_messages_set(100)
        self.client.on_message = self._on_message
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.client.subscribe(f"{prefix}/console/alerts/lease/+", 1)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        owner = msg.topic.rsplit("/", 1)[1]
        self.lease_log.append((time.monotonic(), owner, bool(msg.payload)))
        if msg.payload:
            self.leases[owner] = bytes(msg.payload)
        else:
            self.leases.pop(owner, None)

    def holders(self) -> set[str]:
        return set(self.leases)

    def fixes(self, t0: datetime) -> list[tuple[str, datetime, bytes]]:
        out = []
        for k in range(PER_VEHICLE):
            for n, vid in enumerate(VEHICLES):
                ts = t0 + timedelta(seconds=k)
                fix = {"v": 1, "ts": ts.isoformat(), "lat": 52.5 + k * 1e-4, "lon": 13.3 + n / 100}
                fix["speed_kmh"] = 40
                out.append((vid, ts, json.dumps(fix).encode()))
        return out

    def publish(self, fixes: list[tuple[str, datetime, bytes]], rate_hz: float) -> None:
        info = None
        for vid, _, payload in fixes:
            info = self.client.publish(f"{self.prefix}/vehicles/{vid}/position", payload, qos=1)
            self.published += 1
            time.sleep(1 / rate_hz)
        assert info is not None
        info.wait_for_publish(30)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Poll ``condition`` until true; returns how long it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def room(
    db_url: str, mqtt_url: str, tmp_path: Path
) -> Iterator[tuple[Path, Database, Broker, list[Recorder]]]:
    prefix = f"sh{uuid.uuid4().hex[:8]}"
    db = Database(db_url)
    with db.session() as session:
        session.add_all(Vehicle(id=vid, name=f"Van {vid}") for vid in VEHICLES)
    cfg = tmp_path / "serve.toml"
    cfg.write_text(
        f'[broker]\nurl = "{mqtt_url}"\nprefix = "{prefix}"\n'
        f'[recorder]\nshared_group = "g{prefix}"\n'
        "[history]\nmin_distance_m = 0\nmax_interval_s = 0\n"  # store every fix
        "[alerts]\ninterval_s = 0.5\n"
    )
    broker = Broker(mqtt_url, prefix)
    recorders: list[Recorder] = []
    try:
        yield cfg, db, broker, recorders
    finally:
        for rec in recorders:
            rec.stop(signal.SIGKILL)
        broker.close()
        db.dispose()


def stored(db: Database) -> tuple[int, set[tuple[str, datetime]]]:
    with db.session() as session:
        rows = session.execute(select(PositionRow.vehicle_id, PositionRow.ts)).all()
    return len(rows), {(vid, ts.astimezone(UTC)) for vid, ts in rows}


def clean_summary(rec: Recorder) -> int:
    """No traceback, no error, no refused record; how many messages it received."""
    err = "\n".join(t for _, s, t in rec.lines if s == "err")
    assert "Traceback" not in err and " ERROR " not in err, err
    assert "refused by storage" not in err
    found = re.search(r"received (\d+)", rec.out("received")[0])
    assert found is not None
    return int(found.group(1))


def rule_runs(
    processes: list[tuple[Recorder, datetime | None]],
) -> list[tuple[datetime, datetime, str]]:
    """Each process's spells of running the rules, from its log, in time order (one machine,
    one clock); a process's last spell ends when it stopped running them, or was killed."""
    runs: list[tuple[datetime, datetime, str]] = []
    for rec, killed in processes:
        starts = rec.logged("alert rules: this process runs them now")
        stops = rec.logged("alert rules: another process runs them now")
        for i, begin in enumerate(starts):
            later = [s for s in stops if s >= begin]
            until = later[0] if later else (killed or datetime.max)
            runs.append((begin, until, f"{rec.instance}{i}"))
    return sorted(runs)


def start_two(
    cfg: Path, db_url: str, broker: Broker, recorders: list[Recorder]
) -> tuple[Recorder, Recorder]:
    """Recorders ``a`` then ``b``; returns (the one running the rules, the other)."""
    a = Recorder.start(cfg, db_url, "a")
    recorders.append(a)
    a.wait_ready()
    b = Recorder.start(cfg, db_url, "b")
    recorders.append(b)
    b.wait_ready()
    assert "sharing ingest" in a.out("recording from")[0] and "-a," in a.out("recording")[0]
    # One of the two holds the lease once both are past their start grace (the better node
    # id wins: the second one may take over from the first), and it runs the rules.
    wait(lambda: len(broker.holders()) == 1, 20, "one lease")
    time.sleep(3)  # settled: a rival's claim would have shown by now
    (leader_node,) = broker.holders()
    leader, other = (a, b) if a.node_prefix in leader_node else (b, a)
    assert other.node_prefix not in leader_node and leader.node_prefix in leader_node
    wait(lambda: leader.logged("alert rules: this process runs them now"), 10, "leader runs")
    assert not other.logged("this process runs them now"), "the other one does not"
    return leader, other


def test_a_recorder_killed_mid_stream_loses_nothing_and_the_other_takes_the_rules(
    room: tuple[Path, Database, Broker, list[Recorder]], db_url: str
) -> None:
    cfg, db, broker, recorders = room
    leader, other = start_two(cfg, db_url, broker, recorders)

    fixes = broker.fixes(datetime.now(UTC) - timedelta(seconds=PER_VEHICLE + 60))
    sender = threading.Thread(target=broker.publish, args=(fixes, 250.0))
    sender.start()
    wait(lambda: broker.published >= KILL_AFTER, 30, "publishing")
    leader.proc.send_signal(signal.SIGKILL)
    killed_at, killed_wall = time.monotonic(), datetime.now()
    sender.join(60)
    wait(lambda: any(other.node_prefix in n for n in broker.holders()), 20, "the survivor claims")
    wait(lambda: other.logged("alert rules: this process runs them now"), 10, "survivor runs")
    claimed = next(
        t
        for t, node, held in broker.lease_log
        if held and other.node_prefix in node and t > killed_at
    )
    running = other.logged("alert rules: this process runs them now")[0] - killed_wall
    print(
        f"\nafter the SIGKILL: the survivor claimed the lease in {claimed - killed_at:.2f} s "
        f"and ran the rules after {running.total_seconds():.2f} s"
    )
    assert running.total_seconds() < 10
    assert not any(leader.node_prefix in n for n in broker.holders()), "its will cleared it"
    leader.stop()
    before_restart, _ = stored(db)
    assert 0 < before_restart < len(fixes), "the killed one's share waits in its session"
    print(f"stored before the restart: {before_restart} of {len(fixes)}")

    restart = time.monotonic()
    restarted = Recorder.start(cfg, db_url, leader.instance)  # systemd's Restart=always
    recorders.append(restarted)
    restarted.wait_ready()
    wait(lambda: stored(db)[0] >= len(fixes), 60, "every fix stored")
    print(f"all {len(fixes)} stored {time.monotonic() - restart:.1f} s after the restart")
    time.sleep(1.0)  # anything delivered twice would land now
    count, keys = stored(db)
    assert count == len(fixes), "nothing lost, nothing stored twice"
    assert keys == {(vid, ts) for vid, ts, _ in fixes}

    codes = [other.stop(), restarted.stop()]
    assert codes == [0, 0], other.text() + restarted.text()
    received = [clean_summary(rec) for rec in (other, restarted)]
    assert all(n > 0 for n in received), received
    ran = re.search(r"run here (\d+) times", other.out("received")[0])
    assert ran is not None and int(ran.group(1)) > 0
    runs = rule_runs([(leader, killed_wall), (other, None), (restarted, None)])
    for (_, first_end, x), (second_begin, _, y) in itertools.pairwise(runs):
        assert first_end <= second_begin, f"{x} and {y} ran the rules at once: {runs}"
    assert any(begin > killed_wall for begin, _, _ in runs), "someone took over"
    print("received:", dict(zip(("survivor", "restarted"), received, strict=True)))
