"""The driver app's push channel: ``GET /driver/api/stream`` (server-sent events).

When the desk edits a route, the phone of that vehicle gets the new run sheet within about
one ``poll_s`` (0.25 s) instead of at its next poll. The desk and the web front may be different
processes (a console beside ``dispatcher serve --web``), so the signal is what every save
writes to the database anyway: the route's version (see
:mod:`dispatcher.persistence.driver_push_repo`). One watcher per web front reads those
markers for every open stream at once (three indexed queries per tick, whatever the number
of phones) and wakes only the streams whose vehicle changed; each then reads its sheet and
sends it if its fingerprint changed.

**Who may listen.** The stream is authenticated like every driver API call (the pairing
token in ``Authorization: Bearer``; the app reads it with ``fetch``, since ``EventSource``
cannot send a header and a token in the URL would end up in logs). The vehicle is the one
the desk paired the phone with: a phone can only ever hear its own vehicle's sheet.

**Bounds.** At most ``per_device`` streams per phone (a new one closes that phone's oldest:
a phone that lost signal reconnects before the server noticed the old one is gone) and
``total`` per web front (over it: 503, the app keeps polling). A comment line every
``heartbeat_s`` keeps proxies from closing an idle stream and tells the phone it is alive;
a stream ends after ``max_age_s`` (the app reconnects) and at once when the phone is
unpaired (an ``unpaired`` event, then the end) or the web front stops.

**Fallback.** The app polls the sheet every 3 s while it has no stream, and every 30 s
while it has one (statuses set by another phone of the same vehicle are not route edits).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from dispatcher import display
from dispatcher.driver.service import DriverService, Identity, as_json
from dispatcher.errors import DatabaseError
from dispatcher.persistence import driver_push_repo
from dispatcher.persistence.driver_push_repo import PushMarks
from dispatcher.telemetry.adapters.driverapp import FAILURE_REASONS
from dispatcher.web.context import WebContext
from dispatcher.web.wakeup import Wakeup

log = logging.getLogger(__name__)
STREAM = {"cache-control": "no-store", "x-accel-buffering": "no"}


class StreamRefused(Exception):
    """No stream now (too many open); the app keeps polling."""


@dataclass(eq=False)
class Stream(Wakeup):
    """One open stream: whose it is, and what woke it (``sheet``, ``messages``, ``unpaired``,
    ``closing``, ``replaced``, ``gone``; see :class:`Wakeup`)."""

    device_id: str
    vehicle_id: str


class PushHub:
    """The open streams of one web front and the watcher that wakes them (see module)."""

    def __init__(
        self,
        ctx: WebContext,
        service: DriverService,
        today: Callable[[], date],
        *,
        poll_s: float = 0.25,
        heartbeat_s: float = 15.0,
        per_device: int = 2,
        total: int = 200,
        max_age_s: float = 1800.0,
    ) -> None:
        self.ctx = ctx
        self.service = service
        self.today = today
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.per_device = per_device
        self.total = total
        self.max_age_s = max_age_s
        self.streams: list[Stream] = []
        self._known: dict[str, tuple[int | None, int]] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._trouble = False

    # -- opening and closing (on the server's event loop) ----------------------------------
    def open(self, who: Identity) -> Stream:
        own = [s for s in self.streams if s.device_id == who.device_id]
        replaced = own[: max(0, len(own) - self.per_device + 1)]
        if len(self.streams) - len(replaced) >= self.total:
            raise StreamRefused("the desk's server has too many open streams: polling instead")
        for old in replaced:
            self._release(old)
            old.notify("replaced")
        stream = Stream(who.device_id, who.vehicle_id)
        self.streams.append(stream)
        self._loop = asyncio.get_running_loop()
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())
        return stream

    def _release(self, stream: Stream) -> None:
        with contextlib.suppress(ValueError):
            self.streams.remove(stream)

    def close_all(self) -> None:
        """End every stream (the web front stops); safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def close() -> None:
            for stream in list(self.streams):
                self._release(stream)
                stream.notify("closing")

        with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
            loop.call_soon_threadsafe(close)

    # -- the watcher -----------------------------------------------------------------------
    async def _watch(self) -> None:
        while self.streams:
            vids = {s.vehicle_id for s in self.streams}
            devs = {s.device_id for s in self.streams}
            try:
                marks = await self.ctx.run(self._read, vids, devs)
            except DatabaseError as exc:
                if not self._trouble:
                    log.warning("driver push: cannot read the change markers: %s", exc)
                self._trouble = True
            else:
                self._trouble = False
                self._dispatch(marks, vids, devs)
            await asyncio.sleep(self.poll_s)

    def _read(self, vids: set[str], devs: set[str]) -> PushMarks:
        with self.ctx.db.session() as session:
            return driver_push_repo.push_marks(session, self.today(), vids, devs)

    def _dispatch(self, marks: PushMarks, vids: set[str], devs: set[str]) -> None:
        woken: dict[str, list[str]] = {}
        for vid in vids:
            now = (marks.routes.get(vid), marks.messages.get(vid, 0))
            before = self._known.get(vid)
            self._known[vid] = now
            kinds = woken.setdefault(vid, [])
            if before is None:  # its baseline: a change between the stream's first sheet
                kinds.append("sheet")  # and this read is caught (sent only if it differs)
                continue
            if now[0] != before[0]:
                kinds.append("sheet")
            if now[1] > before[1]:
                kinds.append("messages")
        for stream in list(self.streams):
            if stream.device_id in devs and stream.device_id not in marks.live:
                self._release(stream)
                stream.notify("unpaired")
                continue
            for kind in woken.get(stream.vehicle_id, ()):
                stream.notify(kind)

    # -- one stream's events ---------------------------------------------------------------
    async def events(
        self, stream: Stream, who: Identity, first: dict[str, Any]
    ) -> AsyncIterator[str]:
        """The SSE text of one stream: its sheet now, then what changes, heartbeats between."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + self.max_age_s
        version = first.get("version")
        try:
            yield "retry: 3000\n" + _event("sheet", first)
            while True:
                left = ends - loop.time()
                if left <= 0:
                    yield _event("bye", {"reason": "reconnect"})
                    return
                try:
                    await asyncio.wait_for(stream.woken.wait(), min(self.heartbeat_s, left))
                except TimeoutError:
                    yield ": ping\n\n"
                    continue
                kinds = stream.take()
                if "gone" in kinds:  # the phone went away
                    return
                end = next((k for k in kinds if k in ("unpaired", "closing", "replaced")), None)
                if end == "unpaired":
                    reason = "the desk unpaired this phone: ask the dispatcher for a new QR code"
                    yield _event("unpaired", {"reason": reason})
                    return
                if end is not None:
                    yield _event("bye", {"reason": end})
                    return
                if "sheet" in kinds:
                    sheet = await self._sheet(who)
                    if sheet is not None and sheet["version"] != version:
                        version = sheet["version"]
                        yield _event("sheet", sheet)
                if "messages" in kinds:
                    yield _event("messages", {})
        finally:
            self._release(stream)

    async def _sheet(self, who: Identity) -> dict[str, Any] | None:
        try:
            return await sheet_json(self.ctx, self.service, who, self.today())
        except DatabaseError:
            return None  # the next change or the app's poll brings it


async def sheet_json(
    ctx: WebContext, service: DriverService, who: Identity, day: date
) -> dict[str, Any]:
    """The run sheet as the app reads it (``GET sheet`` and the stream's ``sheet`` event)."""
    run = await ctx.run(service.run_sheet, who, day)
    return {
        "vehicle": run.vehicle_id,
        "vehicle_name": run.vehicle_name,
        "day": run.day.isoformat(),
        "version": run.version,
        "stops": as_json(list(run.stops)),
        "reasons": FAILURE_REASONS,
        "requires": {k: sorted(v) for k, v in service.policy.required.items()},
        "timezone": ctx.timezone,
        # the app formats times with Intl.DateTimeFormat(locale): a BCP 47 tag (fi-FI)
        "locale": display.language_tag(ctx.locale),
    }


def stream_routes(
    ctx: WebContext,
    service: DriverService,
    today: Callable[[], date],
    who: Callable[[Request], Awaitable[Identity]],
    answer: Callable[[Callable[[], Awaitable[Response]]], Awaitable[Response]],
) -> list[BaseRoute]:
    """``GET /driver/api/stream`` and its hub (``ctx.services["driver_push"]``; options from
    ``ctx.services["driver_push_options"]``, the PushHub's keyword arguments)."""
    hub = PushHub(ctx, service, today, **ctx.services.get("driver_push_options", {}))
    ctx.services["driver_push"] = hub
    ctx.services.setdefault("closers", []).append(hub.close_all)

    async def stream(request: Request) -> Response:
        async def work() -> Response:
            phone = await who(request)
            first = await sheet_json(ctx, service, phone, today())
            try:
                opened = hub.open(phone)
            except StreamRefused as exc:
                return JSONResponse({"error": "busy", "reason": str(exc)}, 503)

            async def watch_disconnect() -> None:
                while (await request.receive())["type"] != "http.disconnect":
                    pass
                opened.notify("gone")

            watcher = asyncio.create_task(watch_disconnect())

            async def body() -> AsyncIterator[str]:
                try:
                    async for chunk in hub.events(opened, phone, first):
                        yield chunk
                finally:
                    watcher.cancel()

            return StreamingResponse(body(), media_type="text/event-stream", headers=STREAM)

        return await answer(work)

    return [Route("/driver/api/stream", stream)]


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
