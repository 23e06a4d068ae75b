"""The customer's web front under load: 1,000 tracking pages held open while the fleet drives.

A child process serves the web front (the real app on uvicorn, ``--workers`` processes, the
demo day of 12 vans and 250 orders on SQLite); this process plays the customers with a
small asyncio HTTP client of its own (one connection per request, as phones do; a stream is
a held connection), which costs far less than the server it measures. Every request survives
a refused or reset connection: it is counted as an error, never a crash.

1. **Capacity** (closed loop, ``--concurrency`` requests in flight): ``--requests`` GETs of
   ``/healthz`` (hello world: the same app, framework and server, nothing of ours), then as
   many tracking pages (``/t/<token>``) → p50/p99 and requests/s of each, and the ratio.
2. **Watchers arrive** (``--ramp`` seconds): each of ``--watchers`` customers loads their page
   (timed: page load) and opens its update stream (``/t/<token>/stream``, server-sent
   events); a stream the server refuses (429/503) polls ``/status`` every ``--poll`` s.
3. **The fleet drives** (``--seconds``): every ``--every`` s a van delivers its next stop,
   written straight to the database as the desk or telemetry would (another process). The
   update delay is from that commit to the moment each watcher whose page it changes (the
   order itself: "delivered"; the orders behind it on that route: one stop fewer before
   them) receives it. Meanwhile ``--rate`` page loads and as many hello-worlds a second
   (open loop, new customers arriving) measure latency under the 1,000 held streams.

Reported: p50/p99 page load and hello world (capacity and under load), requests/s, update
delay p50/p99, errors, the server's RSS (all its processes) with the streams open. Goal
(issue 19): p99 page load < 200 ms and update delay < 2 s at 1,000 watchers on this 2-core
machine (shared: compare rows within one run, and give ``uptime`` with the figures).

Run: ``python bench/web.py`` (defaults: the issue's 1,000 watchers, about a minute and a half);
``python bench/web.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def serve(db_url: str, port_file: str, workers: int) -> None:
    """Child: the demo day and the web front, until killed."""
    from dispatcher.app import add_messaging, add_web
    from dispatcher.clock import SystemClock
    from dispatcher.config import Settings
    from dispatcher.core import Core
    from dispatcher.users.desk import UserDesk
    from dispatcher.web.settings import WebSettings

    wanted = {
        "per_ip_per_min": 10**6,  # every simulated customer comes from 127.0.0.1
        "per_link_per_min": 10**6,
        "streams_per_ip": 10**5,
        "near_stops": 3,
        "workers": workers,
    }
    known = set(WebSettings.__dataclass_fields__)  # an older web front (before/after runs)
    settings = Settings(
        database_url=db_url,
        sections={
            "messaging": {"capture_file": str(Path(port_file).with_suffix(".jsonl"))},
            "web": {k: v for k, v in wanted.items() if k in known},
        },
    )
    core = Core(settings, clock=SystemClock(), role="serve")  # as `dispatcher serve --web`
    core.seed_demo_if_empty()
    UserDesk(core.db).login("bench")
    add_messaging(core, start=False)
    web = add_web(core, listen="127.0.0.1:0")
    assert web is not None
    if web.workers is not None and not web.workers.wait_ready():  # start-up is not measured
        raise SystemExit("the web workers did not start")
    Path(port_file + ".new").write_text(web.base_url)
    Path(port_file + ".new").rename(port_file)  # whole, never half written

    def stop(*_: Any) -> None:
        core.close()  # the web front and its worker processes
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    if os.environ.get("BENCH_WEB_PROFILE"):  # where the server's threads spend their time
        _sample(Path(os.environ["BENCH_WEB_PROFILE"]))
    while True:
        time.sleep(3600)


def _sample(out: Path) -> None:
    """A poor man's sampling profiler of every thread (``BENCH_WEB_PROFILE=file``)."""
    import collections
    import signal
    import threading

    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    me = threading.get_ident()

    def dump(*_: Any) -> None:
        lines = [f"{n:6d} {k}" for k, n in inclusive.most_common(60)]
        lines += ["-- self --"] + [f"{n:6d} {k}" for k, n in own.most_common(40)]
        out.write_text("\n".join(lines))
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)  # (instead of stopping cleanly)
    while True:
        for tid, frame in sys._current_frames().items():
            if tid == me:
                continue
            f: Any = frame
            name = f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_code.co_name}"
            own[name] += 1
            seen = set()
            while f is not None:
                key = f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_code.co_name}"
                if key not in seen:
                    inclusive[key] += 1
                    seen.add(key)
                f = f.f_back
        time.sleep(0.002)


# -- a minimal HTTP/1.0 client: one connection per request, close-delimited ------------------


@dataclass
class Tally:
    """Latencies (ms) of one kind of request and what went wrong."""

    ms: list[float] = field(default_factory=list)
    errors: int = 0
    started: float = 0.0
    ended: float = 0.0


async def get(host: str, port: int, path: str, tally: Tally, timeout: float = 30.0) -> bytes:
    """``GET path``; its time goes to ``tally`` (a failure: an error, and ``b""``)."""
    t0 = time.perf_counter()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(-1), timeout)
        if not data.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
            tally.errors += 1
            return b""
        tally.ms.append((time.perf_counter() - t0) * 1000)
        return data
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        tally.errors += 1
        return b""
    finally:
        if writer is not None:
            writer.close()


# -- the watchers ------------------------------------------------------------------------------


@dataclass(eq=False)
class Watcher:
    stop_id: int
    route: int
    token: str
    before: int | None = None
    status: str = ""
    #: (commit time, what satisfies it): a change this page has not shown yet.
    awaiting: list[tuple[float, Callable[[Watcher], bool]]] = field(default_factory=list)
    streaming: bool = False
    polling: bool = False


@dataclass
class Run:
    host: str
    port: int
    args: argparse.Namespace
    loads: Tally = field(default_factory=Tally)
    hello: Tally = field(default_factory=Tally)
    polls: Tally = field(default_factory=Tally)
    streams: Tally = field(default_factory=Tally)
    delays: list[float] = field(default_factory=list)
    events: int = 0
    stop: bool = False

    def seen(self, w: Watcher, view: dict[str, Any]) -> None:
        w.before, w.status = view.get("stops_before"), str(view.get("status", ""))
        now = time.perf_counter()
        left = []
        for at, done in w.awaiting:
            if done(w):
                self.delays.append(now - at)
            else:
                left.append((at, done))
        w.awaiting = left

    async def watch(self, w: Watcher) -> None:
        """Hold the page's stream (reopened after a reset; polls if refused)."""
        while not self.stop:
            refused = await self.stream(w)
            if self.stop:
                return
            if refused:
                w.polling = True
                body = await get(self.host, self.port, f"/t/{w.token}/status", self.polls)
                if body:
                    self.seen(w, json.loads(body.split(b"\r\n\r\n", 1)[1]))
                await asyncio.sleep(self.args.poll)
            else:
                await asyncio.sleep(1.0)  # dropped: reconnect as a browser does

    async def stream(self, w: Watcher) -> bool:
        """Hold ``w``'s stream until it ends; True when the server refused it."""
        writer = None
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(f"GET /t/{w.token}/stream HTTP/1.0\r\nHost: {self.host}\r\n\r\n".encode())
            status = await reader.readline()
            if b" 200 " not in status:
                return True
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            w.streaming = True
            name = b""
            while not self.stop:
                line = await reader.readline()
                if not line:
                    break
                if line.startswith(b"event: "):
                    name = line[7:].strip()
                elif line.startswith(b"data: ") and name == b"view":
                    self.events += 1
                    self.seen(w, json.loads(line[6:]))
        except (OSError, ValueError, asyncio.IncompleteReadError):
            self.streams.errors += 1
        finally:
            w.streaming = False
            if writer is not None:
                writer.close()
        return False


async def closed(host: str, port: int, paths: list[str], concurrency: int) -> Tally:
    """``paths`` fetched by ``concurrency`` clients one after the other (a closed loop)."""
    queue, tally = list(paths), Tally()

    async def client() -> None:
        while queue:
            await get(host, port, queue.pop(), tally)

    tally.started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    tally.ended = time.perf_counter()
    return tally


async def arrivals(
    host: str, port: int, path: Callable[[], str], rate: float, seconds: float, seed: int
) -> Tally:
    """Requests arriving at random (Poisson, ``rate`` a second) for ``seconds`` (open loop)."""
    rng, tally = random.Random(seed), Tally()
    pending: set[asyncio.Task[bytes]] = set()
    tally.started = time.perf_counter()
    t_end = tally.started + seconds
    while time.perf_counter() < t_end:
        task = asyncio.create_task(get(host, port, path(), tally))
        pending.add(task)
        task.add_done_callback(pending.discard)
        await asyncio.sleep(rng.expovariate(rate))
    await asyncio.gather(*pending)
    tally.ended = time.perf_counter()
    return tally


async def until(wall: float) -> None:
    await asyncio.sleep(max(0.0, wall - time.time()))


def probe(params_file: str) -> None:
    """The timed requests, in a process of their own: what the watchers' streams cost the
    client never shows up in a page's latency. Phases start at wall-clock times ``run`` set."""
    p = json.loads(Path(params_file).read_text())
    host, port, tokens = p["host"], p["port"], p["tokens"]

    async def main() -> dict[str, Tally]:
        loads, tasks = Tally(), []
        await until(p["t0"])
        loads.started = time.perf_counter()
        for k, token in enumerate(tokens):  # each watcher's page, as it arrives
            await until(p["t0"] + p["ramp"] * k / len(tokens))
            tasks.append(asyncio.create_task(get(host, port, f"/t/{token}", loads)))
        await asyncio.gather(*tasks)
        loads.ended = time.perf_counter()
        await until(p["t1"])
        rng = random.Random(7)
        load_under, hello_under = await asyncio.gather(
            arrivals(host, port, lambda: f"/t/{rng.choice(tokens)}", p["rate"], p["seconds"], 1),
            arrivals(host, port, lambda: "/healthz", p["rate"], p["seconds"], 2),
        )
        await until(p["t2"])
        cap_hello = await closed(host, port, ["/healthz"] * p["requests"], p["concurrency"])
        pages = [f"/t/{tokens[i % len(tokens)]}" for i in range(p["requests"])]
        cap_page = await closed(host, port, pages, p["concurrency"])
        return {
            "loads": loads,
            "load_under": load_under,
            "hello_under": hello_under,
            "cap_hello": cap_hello,
            "cap_page": cap_page,
        }

    found = asyncio.run(main())
    Path(p["out"]).write_text(json.dumps({k: dataclasses.asdict(t) for k, t in found.items()}))


async def run(  # noqa: PLR0915 - one scenario, read top to bottom
    args: argparse.Namespace, base: str, links: list[tuple[int, int, str]]
) -> None:
    from dispatcher.clock import system_now
    from dispatcher.persistence.database import Database
    from dispatcher.web.links import TRACK
    from dispatcher.web.signing import LinkSigner

    host, port = base.removeprefix("http://").rsplit(":", 1)
    r = Run(host, int(port), args)
    signer = LinkSigner(Database(args.db, migrate=False))
    expires = system_now() + timedelta(days=2)
    watchers = [  # a link each (every message carries one): never two pages on one link
        Watcher(sid, rid, signer.sign(TRACK, sid, expires) if i >= len(links) else token)
        for i in range(args.watchers)
        for sid, rid, token in [links[i % len(links)]]
    ]
    # The timed requests run in a process of their own (``probe``), on this timetable.
    t0 = time.time() + 1.0
    t1 = t0 + args.ramp + 2.0
    t2 = t1 + args.seconds + 2.5
    params = Path(args.db.removeprefix("sqlite:///")).with_name("probe.json")
    out = params.with_name("probe-out.json")
    params.write_text(
        json.dumps(
            {
                "host": host,
                "port": int(port),
                "tokens": [w.token for w in watchers],
                "t0": t0,
                "t1": t1,
                "t2": t2,
                "ramp": args.ramp,
                "seconds": args.seconds,
                "rate": args.rate,
                "requests": args.requests,
                "concurrency": args.concurrency,
                "out": str(out),
            }
        )
    )
    prober = subprocess.Popen([sys.executable, __file__, "--probe", str(params)])

    # 1. watchers arrive over the ramp; each holds its stream (its page: the probe's)
    tasks = []
    for k, w in enumerate(watchers):
        await until(t0 + args.ramp * k / len(watchers) + 0.05)
        tasks.append(asyncio.create_task(r.watch(w)))
    await until(t1)
    open_streams = sum(w.streaming for w in watchers)

    # 2. the fleet drives; new customers keep arriving (the probe's)
    db = Database(args.db, migrate=False)
    by_route: dict[int, list[Watcher]] = {}
    for w in watchers:
        by_route.setdefault(w.route, []).append(w)
    route_of = {sid: rid for sid, rid, _ in links}
    ahead = _route_order(links)
    to_deliver = {w.stop_id for w in watchers if w.status == "pending"}
    t_end = time.perf_counter() + args.seconds

    async def drive() -> None:
        pending = [sid for sid, _, _ in links if sid in to_deliver]
        while time.perf_counter() < t_end and pending:
            sid = pending.pop(0)
            route = route_of[sid]
            behind = ahead[route][ahead[route].index(sid) + 1 :]
            before = {w: w.before for w in by_route[route] if w.stop_id in behind}
            await asyncio.to_thread(_deliver, db, sid)
            at = time.perf_counter()
            for w in by_route[route]:
                was = before.get(w)
                if w.stop_id == sid:
                    w.awaiting.append((at, _delivered))
                elif was is not None and w.status == "pending":
                    w.awaiting.append((at, _fewer_before(was - 1)))
            await asyncio.sleep(args.every)

    rss = 0

    async def sample_rss() -> None:
        nonlocal rss
        while time.perf_counter() < t_end:
            rss = max(rss, _tree_rss(args.server_pid))
            await asyncio.sleep(2.0)

    await asyncio.gather(drive(), sample_rss())
    await until(t2)  # the last changes reach their pages
    missed = sum(len(w.awaiting) for w in watchers)
    held = sum(w.streaming for w in watchers)

    # 3. capacity, the streams still open (the probe's)
    await asyncio.to_thread(prober.wait)
    r.stop = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    db.dispose()
    found = {k: Tally(**v) for k, v in json.loads(out.read_text()).items()}
    r.loads = found["loads"]
    report(
        r,
        found["cap_hello"],
        found["cap_page"],
        found["load_under"],
        found["hello_under"],
        (open_streams, held),
        missed,
        rss,
    )


def report(
    r: Run,
    cap_hello: Tally,
    cap_page: Tally,
    load_under: Tally,
    hello_under: Tally,
    streams: tuple[int, int],
    missed: int,
    rss_kb: int,
) -> None:
    a = r.args

    def row(name: str, t: Tally, rate: bool = True) -> str:
        p50, p99 = pct(t.ms, 0.5), pct(t.ms, 0.99)
        span = t.ended - t.started
        per_s = f"{len(t.ms) / span:6.0f} req/s" if rate and span > 0 else " " * 12
        return f"  {name:24s} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  {per_s}  errors {t.errors}"

    print(
        f"web bench: {a.watchers} watchers over {a.ramp:g} s, {a.workers} server process(es), "
        f"a stop delivered every {a.every:g} s for {a.seconds:g} s, then {a.requests} requests "
        f"of each kind; load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{streams[0]} streams open after the arrivals, {streams[1]} at the end:")
    print(row("page load (arrivals)", r.loads, rate=False))
    tenth = max(1, len(r.loads.ms) // 10)
    print(
        f"    the first {tenth}: p99 {pct(r.loads.ms[:tenth], 0.99):.1f} ms; "
        f"the rest: p99 {pct(r.loads.ms[tenth:], 0.99):.1f} ms"
    )
    if r.polls.ms or r.polls.errors:
        print(row("status poll (refused)", r.polls, rate=False))
    print(f"while the fleet drives, {a.rate:g} new pages and {a.rate:g} hellos a second:")
    print(row("page load", load_under))
    print(row("hello world", hello_under))
    print(f"  page / hello p99: {ratio(load_under, hello_under)}")
    if r.delays:
        d = sorted(r.delays)
        print(
            f"  update delay             p50 {pct(d, 0.5):7.2f} s   p99 {pct(d, 0.99):7.2f} s   "
            f"({len(d)} page updates, {missed} not seen, {r.events} events, "
            f"{r.streams.errors} stream resets)"
        )
    else:
        print(f"  update delay: none seen ({missed} not seen, {r.streams.errors} stream resets)")
    print(f"capacity, streams open (closed loop, {a.concurrency} in flight):")
    print(row("hello world", cap_hello))
    print(row("page load", cap_page))
    print(f"  page / hello p99: {ratio(cap_page, cap_hello)}")
    print(f"  server RSS {rss_kb / 1024:.0f} MB (all its processes)")
    page_p99 = max(pct(r.loads.ms, 0.99), pct(load_under.ms, 0.99))
    goal = page_p99 < 200 and r.delays and pct(sorted(r.delays), 0.99) < 2
    print(f"goal (p99 page load < 200 ms, update < 2 s): {'met' if goal else 'NOT met'}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def ratio(a: Tally, b: Tally) -> str:
    pa, pb = pct(a.ms, 0.99), pct(b.ms, 0.99)
    return "n/a" if math.isnan(pa) or math.isnan(pb) or not pb else f"{pa / pb:.1f}x"


def _delivered(w: Watcher) -> bool:
    return w.status == "done"


def _fewer_before(n: int) -> Callable[[Watcher], bool]:
    """The page shows at most ``n`` stops before the customer (one was delivered)."""
    return lambda w: w.before is not None and w.before <= n


def _deliver(db: Any, stop_id: int) -> None:
    from dispatcher.clock import system_now
    from dispatcher.persistence.orm import Stop

    with db.session() as s:
        stop = s.get(Stop, stop_id)
        stop.status, stop.pod_ref, stop.completed_at = "done", f"POD-{stop_id}", system_now()


def _route_order(links: list[tuple[int, int, str]]) -> dict[int, list[int]]:
    """Route id → its stop ids in route order (``links`` keeps it within a route)."""
    ahead: dict[int, list[int]] = {}
    for sid, rid, _ in links:
        ahead.setdefault(rid, []).append(sid)
    return ahead


def _tree_rss(pid: int) -> int:
    """RSS (kB) of ``pid`` and its children (the worker processes)."""
    total, pids = 0, {pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    pids.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--watchers", type=int, default=1000, help="customers holding a page open (1000)")
    add("--workers", type=int, default=0, help="server processes (default: serve's, per core)")
    add("--ramp", type=float, default=10, help="seconds over which the watchers arrive (10)")
    add("--seconds", type=float, default=30, help="how long the fleet drives (30)")
    add("--every", type=float, default=0.5, help="a stop is delivered every this many s (0.5)")
    add("--rate", type=float, default=20, help="new page loads (and hellos) a second (20)")
    add("--requests", type=int, default=2000, help="requests of each kind, capacity (2000)")
    add("--concurrency", type=int, default=20, help="in flight in the capacity phase (20)")
    add("--poll", type=float, default=15, help="poll interval of a page refused a stream (15)")
    add("--serve", nargs=3, metavar=("DB", "PORTFILE", "N"), help=argparse.SUPPRESS)
    add("--probe", metavar="PARAMS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe)
        return
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return
    if args.workers <= 0:
        from dispatcher.web.settings import default_workers

        args.workers = default_workers("serve")
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    args.db = f"sqlite:///{tmp / 'bench.sqlite3'}"
    port_file = tmp / "port"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", args.db, str(port_file), str(args.workers)], env=env
    )
    args.server_pid = child.pid
    try:
        deadline = time.monotonic() + 120
        while not port_file.exists() and time.monotonic() < deadline:
            if child.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        base = port_file.read_text()
        links = _links(args.db)
        asyncio.run(run(args, base, links))
    finally:
        child.terminate()
        child.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def _links(db_url: str) -> list[tuple[int, int, str]]:
    """(stop id, route id, token) of every routed stop, route by route in stop order."""
    from dispatcher.clock import system_now
    from dispatcher.persistence import fleet_repo
    from dispatcher.persistence.database import Database
    from dispatcher.persistence.web_repo import routed_stops_of_day
    from dispatcher.web.links import TRACK
    from dispatcher.web.signing import LinkSigner

    db = Database(db_url, migrate=False)
    try:
        signer = LinkSigner(db)
        with db.session() as s:
            day = fleet_repo.latest_service_date(s)
        assert day is not None, "the demo day has no routes"
        routes = routed_stops_of_day(db, day)
        expires = system_now() + timedelta(days=2)
        # Interleaved (first stops of every route, then the second ones...): the fleet
        # delivers in this order, as vans do in parallel.
        width = max(map(len, routes.values()))
        return [
            (sids[i], rid, signer.sign(TRACK, sids[i], expires))
            for i in range(width)
            for rid, sids in routes.items()
            if i < len(sids)
        ]
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
