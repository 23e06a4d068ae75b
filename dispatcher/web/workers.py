"""More than one process serving the web front: ``[web] workers`` / ``serve --web-workers N``.

One Python process answers a few thousand small requests a second, on one core. With
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
import logging
import multiprocessing
import os
import queue
import socket
import threading
from multiprocessing.context import SpawnProcess
from typing import Any

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
        messaging: bool = True,
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.raised: Any = ctx.Queue()
        self.processes: list[SpawnProcess] = [
            ctx.Process(
                target=serve_worker,
                args=(sock, settings, base_url, self.raised, os.getpid(), messaging),
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


def serve_worker(
    sock: socket.socket,
    settings: Settings,
    base_url: str,
    raised: Any,
    parent: int,
    with_messaging: bool,
) -> None:
    """A worker process: the web front's app on ``sock`` until told to stop (SIGTERM)."""
    import uvicorn

    from dispatcher.app import add_messaging
    from dispatcher.core import Core
    from dispatcher.web.app import build_app
    from dispatcher.web.context import WebContext
    from dispatcher.web.server import tune_collector
    from dispatcher.web.settings import WebSettings
    from dispatcher.web.signing import LinkSigner

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s web worker %(message)s")
    core = Core(worker_settings(settings), role="console")
    web = WebSettings.from_sections(settings.sections)
    messaging = add_messaging(core, start=False) if with_messaging else None

    class WorkerContext(WebContext):
        def note_alert(self, alert_id: int) -> None:  # to the parent's bus, via its tick
            raised.put(alert_id)

    ctx = WorkerContext(
        db=core.db,
        clock=core.clock,
        settings=core.settings,
        web=web,
        signer=LinkSigner(core.db),
        timezone=core.fleet.timezone,
        company=messaging.settings.company_name if messaging else "Dispatcher",
        services={"messaging": messaging, "bus": core.bus, "provider": core.routing.provider()},
        base_url=base_url,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(ctx),
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
    try:
        server.run(sockets=[sock])
    finally:
        for close in ctx.services.get("closers", []):
            close()
        core.close()
