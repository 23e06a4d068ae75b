"""Run the web front on uvicorn in a thread of its own, as a service of the core.

The console (standalone, ``[web] listen`` set) and ``dispatcher serve --web`` both add a
:class:`WebServer` (:func:`add_web`): uvicorn's event loop runs in a daemon thread, so the GUI
thread never waits on a request, and the core's tick loop is untouched. Port 0 binds a free
port (tests); :attr:`WebServer.base_url` says where it ended up. With ``[web] workers`` above
1 this process also starts the extra worker processes (:mod:`dispatcher.web.workers`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

from dispatcher.alerts.events import AlertsChanged
from dispatcher.errors import DispatcherError
from dispatcher.web.app import RouteGroup, build_app
from dispatcher.web.context import WebContext
from dispatcher.web.settings import parse_listen
from dispatcher.web.workers import Workers, bind, tune_collector, untune_collector

log = logging.getLogger(__name__)


class WebServer:
    """uvicorn serving :func:`build_app` for ``ctx`` on ``listen`` until :meth:`stop`."""

    name = "web front"

    def __init__(
        self,
        ctx: WebContext,
        listen: str,
        groups: Sequence[RouteGroup] | None = None,
        *,
        workers: int = 1,
        worker_main: Callable[..., None] | None = None,
    ) -> None:
        """``workers`` above 1 needs ``worker_main``, what a worker process runs
        (:func:`dispatcher.app.serve_web_worker`)."""
        self.ctx = ctx
        self.workers_wanted = workers if worker_main is not None else 1
        self.worker_main = worker_main
        self.workers: Workers | None = None
        self._sock: socket.socket | None = None
        host, port = parse_listen(listen)
        self.app = build_app(ctx, groups)
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.bound: tuple[str, int] | None = None
        self._collector: tuple[int, int, int] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Bind and serve in the background; raise if it could not bind in ``timeout_s``."""
        if self.workers_wanted > 1:  # the socket is ours, to share with the workers
            config = self._server.config
            try:
                self._sock = bind(config.host, config.port)
            except OSError as exc:
                raise DispatcherError(
                    f"the web front could not listen on {config.host}:{config.port} ({exc})"
                ) from exc
        self._thread = threading.Thread(target=self._run, name="web-front", daemon=True)
        self._thread.start()
        waited = 0.0
        while not self._server.started and waited < timeout_s:
            if not self._thread.is_alive():
                break
            threading.Event().wait(0.02)
            waited += 0.02
        if not self._server.started:
            self.stop()
            raise DispatcherError(
                f"the web front could not listen on {self._server.config.host}:"
                f"{self._server.config.port} (address in use or not allowed?)"
            )
        sock = self._server.servers[0].sockets[0]
        addr: Any = sock.getsockname()
        self.bound = (self._server.config.host, int(addr[1]))
        if not self.ctx.web.public_url:
            self.ctx.base_url = self.ctx.web.base_url(self.bound)
        if self._sock is not None and self.worker_main is not None:
            self.workers = Workers(
                self.workers_wanted - 1,
                self._sock,
                self.ctx.settings,
                self.ctx.base_url,
                main=self.worker_main,
                messaging=self.ctx.services.get("messaging") is not None,
            )
        self._collector = tune_collector()
        log.info("web front at %s (%d process(es))", self.ctx.base_url, self.workers_wanted)

    def _run(self) -> None:
        try:
            sockets = [self._sock] if self._sock is not None else None
            asyncio.run(self._server.serve(sockets=sockets))
        except (OSError, SystemExit) as exc:  # bind failure: start() reports it
            log.warning("web front stopped: %s", exc)

    @property
    def base_url(self) -> str:
        return self.ctx.base_url

    def tick(self) -> None:
        """Announce, on the loop's thread, the exceptions requests raised (the console's queue
        reloads); the requests themselves are served on the server's own thread."""
        raised = self.ctx.take_alerts()
        if self.workers is not None:
            raised |= self.workers.take_alerts()
        bus = self.ctx.services.get("bus")
        if raised and bus is not None:
            ids = frozenset(raised)
            bus.publish(AlertsChanged(alert_ids=ids, raised_ids=ids))

    def stop(self) -> None:
        for close in self.ctx.services.get("closers", []):  # long-lived streams end now
            close()
        self._server.should_exit = True
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._collector is not None:
            untune_collector(self._collector)
            self._collector = None
