"""The customer's web front under load: many tracking pages open while the fleet drives.

A child process serves the web front (the real app on uvicorn, SQLite, the demo day of 12
vans and 250 orders); this process plays the customers with ``httpx`` (asyncio):

1. page load: every watcher opens its tracking page once (``--concurrency`` at a time);
2. watching: every watcher polls its order's status every ``--poll`` seconds for
   ``--seconds`` seconds while the "fleet drives": each second a van delivers its next stop
   in the database; the update delay is the time from that change to the first poll of that
   order's watchers that shows it (bounded by the poll interval + the view's 2 s sharing);
3. the same load on ``/healthz`` (hello world of the same app): the framework's own cost.

Reported: p50/p99 of page load, of status polls and of hello world, requests/s, update delay
p50/p99, the server's RSS. Goal (issue 19): p99 page load < 200 ms, update < 2 s + the poll
interval at 1,000 watchers on this 2-core machine (shared, so compare within one run).

Run: ``.venv/bin/python bench/web.py [--watchers 1000 --seconds 30 --poll 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def serve(db_url: str, port_file: str) -> None:
    """Child: the demo day and the web front, until killed."""
    from dispatcher.app import add_messaging, add_web
    from dispatcher.clock import SystemClock
    from dispatcher.config import Settings
    from dispatcher.core import Core
    from dispatcher.users.desk import UserDesk

    settings = Settings(
        database_url=db_url,
        sections={
            "messaging": {"capture_file": str(Path(port_file).with_suffix(".jsonl"))},
            "web": {"per_ip_per_min": 10**6, "per_link_per_min": 10**6, "near_stops": 3},
        },
    )
    core = Core(settings, clock=SystemClock())
    core.seed_demo_if_empty()
    UserDesk(core.db).login("bench")
    add_messaging(core, start=False)
    web = add_web(core, listen="127.0.0.1:0")
    assert web is not None
    Path(port_file).write_text(web.base_url)
    while True:
        time.sleep(3600)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def timed(client: Any, url: str, out: list[float]) -> Any:
    t0 = time.perf_counter()
    response = await client.get(url)
    out.append((time.perf_counter() - t0) * 1000)
    return response


async def run(  # noqa: PLR0915 - one scenario, read top to bottom
    args: argparse.Namespace, base: str, links: list[tuple[int, str]]
) -> None:
    import httpx

    from dispatcher.persistence.database import Database

    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    watchers = [links[i % len(links)] for i in range(args.watchers)]
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        loads: list[float] = []
        gate = asyncio.Semaphore(args.concurrency)

        async def load(url: str) -> None:
            async with gate:
                await timed(client, url, loads)

        t0 = time.perf_counter()
        await asyncio.gather(*(load(f"/t/{tok}") for _, tok in watchers))
        load_s = time.perf_counter() - t0

        hello: list[float] = []

        async def hi() -> None:
            async with gate:
                await timed(client, "/healthz", hello)

        t0 = time.perf_counter()
        await asyncio.gather(*(hi() for _ in watchers))
        hello_s = time.perf_counter() - t0

        db = Database(args.db, migrate=False)
        changed: dict[int, float] = {}
        delays: list[float] = []
        polls: list[float] = []
        seen: dict[int, str] = {}
        stop_at = time.perf_counter() + args.seconds

        async def watch(stop_id: int, token: str, offset: float) -> None:
            await asyncio.sleep(offset)
            while time.perf_counter() < stop_at:
                async with gate:
                    r = await timed(client, f"/t/{token}/status", polls)
                status = r.json().get("status") if r.status_code == 200 else None
                if status == "done" and stop_id in changed and seen.get(stop_id) != "done":
                    seen[stop_id] = "done"
                    delays.append(time.perf_counter() - changed[stop_id])
                await asyncio.sleep(args.poll)

        async def drive() -> None:
            from dispatcher.persistence.orm import Stop

            order = [sid for sid, _ in links]
            i = 0
            while time.perf_counter() < stop_at and i < len(order):
                sid = order[i]
                await asyncio.to_thread(_deliver, db, Stop, sid)
                changed[sid] = time.perf_counter()
                i += 1
                await asyncio.sleep(1.0)

        t0 = time.perf_counter()
        await asyncio.gather(
            drive(),
            *(
                watch(sid, tok, args.poll * k / len(watchers))
                for k, (sid, tok) in enumerate(watchers)
            ),
        )
        watch_s = time.perf_counter() - t0
        db.dispose()
    report(args, (loads, load_s), (hello, hello_s), (polls, watch_s), delays)


def report(
    args: argparse.Namespace,
    loads: tuple[list[float], float],
    hello: tuple[list[float], float],
    polls: tuple[list[float], float],
    delays: list[float],
) -> None:
    def row(name: str, got: tuple[list[float], float]) -> str:
        values, seconds = got
        rate = len(values) / seconds if seconds else 0.0
        p50, p99 = pct(values, 0.5), pct(values, 0.99)
        return f"{name:12s} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  {rate:6.0f} req/s"

    print(f"watchers {args.watchers}, concurrency {args.concurrency}, poll {args.poll:g} s")
    for name, got in (("page load", loads), ("hello world", hello), ("status poll", polls)):
        print(row(name, got))
    print(f"page load / hello world p99: {pct(loads[0], 0.99) / pct(hello[0], 0.99):.1f}x")
    if delays:
        p50, p99 = statistics.median(delays), pct(delays, 0.99)
        print(f"update delay p50 {p50:.2f} s  p99 {p99:.2f} s  ({len(delays)} changes seen)")
    print(f"server RSS {_rss(args.server_pid) / 1024:.0f} MB")


def _deliver(db: Any, stop_type: Any, stop_id: int) -> None:
    with db.session() as s:
        stop = s.get(stop_type, stop_id)
        stop.status, stop.pod_ref = "done", f"POD-{stop_id}"


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--poll", type=float, default=5)
    parser.add_argument("--serve", nargs=2, metavar=("DB", "PORTFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    args.db = f"sqlite:///{tmp / 'bench.sqlite3'}"
    port_file = tmp / "port"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", args.db, str(port_file)], env=env
    )
    args.server_pid = child.pid
    try:
        deadline = time.monotonic() + 120
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        base = port_file.read_text()
        links = _links(args.db, base)
        asyncio.run(run(args, base, links))
    finally:
        child.terminate()
        child.wait(10)


def _links(db_url: str, base: str) -> list[tuple[int, str]]:
    """(stop id, token) of every routed stop, pending ones in route order first."""
    from dispatcher.clock import system_now
    from dispatcher.persistence.database import Database
    from dispatcher.persistence.web_repo import routed_stops_of_day, stop_day
    from dispatcher.web.links import TRACK
    from dispatcher.web.signing import LinkSigner

    db = Database(db_url, migrate=False)
    try:
        signer = LinkSigner(db)
        routes = list(routed_stops_of_day(db, _today(db)).values())
        ordered = [
            sid
            for i in range(max(map(len, routes)))
            for r in routes
            if i < len(r)
            for sid in [r[i]]
        ]
        expires = system_now() + timedelta(days=2)
        assert stop_day(db, ordered[0]) is not None
        return [(sid, signer.sign(TRACK, sid, expires)) for sid in ordered]
    finally:
        db.dispose()


def _today(db: Any) -> Any:
    from dispatcher.persistence import fleet_repo

    with db.session() as s:
        return fleet_repo.latest_service_date(s)


if __name__ == "__main__":
    main()
