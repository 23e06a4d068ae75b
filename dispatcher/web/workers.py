"""More than one process serving the web front: ``[web] workers`` / ``serve --web-workers N``.

One Python process answers a couple of thousand small requests a second, on one core. With
``workers = N`` the process that serves (the recorder, or a standalone console) binds the
listening socket itself, serves on it from its own thread as before (worker 0, with every
service of its core), and starts N-1 **worker processes** (``spawn``: nothing of the parent's
threads or connections is copied) that accept on the same socket; the kernel hands each new
connection to whichever process is waiting.

A worker builds what a request needs from the same settings: its own :class:`Core` (no
telemetry, no recording: ``[console] recorder`` is set to external, so it never relays the
outbox or sends automatic messages: it queues messages, the serving process sends them), its
own database pool, link signer (the keys are in the database, so every worker verifies every
link), tracking views and streams (:mod:`dispatcher.web.track_push`: one watcher per worker).

**Per process** (say so when sizing): the rate limits (``per_ip_per_min``...: a client may
get up to N times its budget when its connections land on different workers), the stream
caps (``streams``, ``streams_per_ip``), and the shared views (each worker reads a route once
per change). Exceptions a request raises in a worker are announced on the serving process's
event bus (the console's queue reloads) through a queue. A worker ends with its parent: when
the serving process stops, or dies without saying so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import multiprocessing
import os
import queue
import socket
import threading
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from typing import Any

from dispatcher.clock import system_monotonic
from dispatcher.config import Settings

log = logging.getLogger(__name__)


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The listening socket every worker accepts on (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


class Workers:
    """The extra worker processes of one web front, and the exceptions they raised."""

    def __init__(
        self,
        count: int,
        sock: socket.socket,
        settings: Settings,
        base_url: str,
        *,
        main: Callable[..., None],
        messaging: bool = True,
    ) -> None:
        """``main(sock, settings, base_url, raised, parent_pid, messaging, ready)`` runs in
        each worker (:func:`dispatcher.app.serve_web_worker`: the composition lives there)."""
        ctx = multiprocessing.get_context("spawn")
        self.raised: Any = ctx.Queue()
        self.ready: list[Any] = [ctx.Event() for _ in range(count)]
        self.processes: list[SpawnProcess] = [
            ctx.Process(
                target=main,
                args=(sock, settings, base_url, self.raised, os.getpid(), messaging, self.ready[i]),
                name=f"web-worker-{i + 1}",
                daemon=True,
            )
            for i in range(count)
        ]
        for process in self.processes:
            process.start()

    def take_alerts(self) -> set[int]:
        taken: set[int] = set()
        with contextlib.suppress(queue.Empty, OSError, ValueError):
            while True:
                taken.add(int(self.raised.get_nowait()))
        return taken

    def wait_ready(self, timeout_s: float = 60.0) -> bool:
        """Wait until every worker accepts (spawning imports the app: seconds); True if so.
        A bench waits, so the workers' start-up is not measured; a server need not."""
        deadline = system_monotonic() + timeout_s
        return all(e.wait(max(0.0, deadline - system_monotonic())) for e in self.ready)

    def alive(self) -> int:
        return sum(p.is_alive() for p in self.processes)

    def stop(self, timeout_s: float = 5.0) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # uvicorn's graceful exit: open streams end
        for process in self.processes:
            process.join(timeout_s)
            if process.is_alive():
                log.warning("web worker %s did not stop: killed", process.name)
                process.kill()
                process.join(1)
        self.raised.close()


def worker_settings(settings: Settings) -> Settings:
    """The settings of a worker: the same, but it records nothing (the parent does)."""
    sections = {**settings.sections, "console": {"recorder": "external"}}
    return dataclasses.replace(settings, sections=sections)


def serve_app(app: Any, sock: socket.socket, parent: int, ready: Any = None) -> None:
    """Run ``app`` on uvicorn on ``sock`` in a worker process until SIGTERM or its parent
    goes away; ``ready`` (an Event) is set as it starts accepting."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=2,
        )
    )

    def orphaned() -> None:  # the parent died without stopping us: stop too
        while os.getppid() == parent:
            threading.Event().wait(1.0)
        server.should_exit = True

    threading.Thread(target=orphaned, name="web-worker-parent", daemon=True).start()
    tune_collector()
    if ready is not None:
        ready.set()  # the socket is bound already: connections wait in its backlog
    server.run(sockets=[sock])


#: Allocations between two collections of the youngest generation (see tune_collector).
GC_YOUNG = 20_000


def tune_collector() -> tuple[int, int, int]:
    """Keep the garbage collector's pauses out of the pages' latency.

    A full collection walks every live object, and no request is answered meanwhile: in a
    process holding a thousand open pages they took 150-350 ms on the reference machine, and
    the bench's p99 page load was that pause. So what start-up built (modules, the ORM's
    mappings, the app) is frozen out of every later collection (it is never garbage), and
    the youngest generation is collected every 20,000 allocations instead of 700 (a few
    milliseconds each, a few megabytes more at most): during the bench's minute no full
    collection ran at all. Process-wide, and never lowers a threshold someone raised;
    returns the thresholds it found (:func:`untune_collector` puts them back).
    """
    gc.collect()
    gc.freeze()
    before = gc.get_threshold()
    gen0, gen1, gen2 = before
    if gen0 and gen0 < GC_YOUNG:
        gc.set_threshold(GC_YOUNG, max(gen1, 50), max(gen2, 100))
    return before


def untune_collector(before: tuple[int, int, int]) -> None:
    """The collector as :func:`tune_collector` found it (the web front stopped; tests
    start many)."""
    gc.unfreeze()
    gc.set_threshold(*before)
