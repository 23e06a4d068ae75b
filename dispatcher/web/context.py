"""What every page of the web front shares: the database, the clock, settings, link signer.

One :class:`WebContext` per server; each audience's routes (``dispatcher/web/groups.py``)
receive it. Handlers are ``async`` but the database is not: they call
:meth:`WebContext.run` which runs the work on the server's thread pool, never on the event
loop (and never on the console's GUI thread: the server has a thread of its own).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.templating import Jinja2Templates

from dispatcher.clock import Clock
from dispatcher.config import Settings
from dispatcher.package_data import resources_dir
from dispatcher.persistence.database import Database
from dispatcher.web.settings import WebSettings
from dispatcher.web.signing import LinkSigner

T = TypeVar("T")


@dataclass
class WebContext:
    db: Database
    clock: Clock
    settings: Settings
    web: WebSettings
    signer: LinkSigner
    #: The fleet's IANA zone name (times on pages are shown in it).
    timezone: str = "UTC"
    #: The fleet's ``[fleet] locale`` (``fi_FI``), None for the console's own conventions:
    #: pages that format times in the browser (the driver app) are told it.
    locale: str | None = None
    company: str = "Dispatcher"
    #: Services an audience needs (the messaging service, the event bus...), by name.
    services: dict[str, Any] = field(default_factory=dict)
    templates: Jinja2Templates = field(init=False)
    #: Set by the server once bound: what links start with.
    base_url: str = ""

    _raised: set[int] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def note_alert(self, alert_id: int) -> None:
        """An exception raised by a request handler: announced on the core's loop thread
        (:meth:`~dispatcher.web.server.WebServer.tick`), never from the server's."""
        with self._lock:
            self._raised.add(alert_id)

    def take_alerts(self) -> set[int]:
        with self._lock:
            taken, self._raised = self._raised, set()
        return taken

    def __post_init__(self) -> None:
        self.templates = Jinja2Templates(directory=str(resources_dir("web", "templates")))
        self.templates.env.autoescape = True  # every value escaped, also in .txt partials
        self.templates.env.auto_reload = False  # shipped files: no stat() per page rendered
        self.templates.env.globals.update(company=self.company, brand_color=self.web.brand_color)
        if not self.base_url:
            self.base_url = self.web.base_url()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker thread (database work never blocks the event loop)."""
        return await run_in_threadpool(fn, *args)
