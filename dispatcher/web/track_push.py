"""The tracking pages' shared views and their push channel, ``GET /t/<token>/stream``.

**Shared views.** A thousand open tracking pages are a few hundred orders on a dozen routes.
:class:`TrackHub` keeps one :class:`~dispatcher.web.tracking.TrackingView` per order (and its
JSON, encoded once), shared by the page, the status JSON and every open stream of that order.
Views are computed in batches: the orders asked for while a batch is read wait for the next
one, and a batch reads each route once (:func:`~dispatcher.web.tracking.tracking_views`) and
keeps the views of all its orders, so a cold start of a thousand pages costs a walk per
route, not per page.

**Freshness.** While anyone looks, ONE watcher per web front (one task, whatever the number
of pages) reads the change markers of the routes in view every ``poll_s`` (0.5 s; see
:func:`~dispatcher.persistence.track_repo.track_marks`: whichever process saved the change)
and re-reads the routes that changed, and every route at least every ``refresh_s`` (the ETA
drifts with time). A view is trusted while the watcher runs; without it (nobody looked for a
while) for ``ttl_s`` (2 s), as before.

**Streams.** An open page listens on ``/t/<token>/stream`` (server-sent events): the view at
once, then each time its JSON changes, a comment every ``heartbeat_s``. A held stream holds no
database connection (it waits on an :class:`asyncio.Event` the watcher sets) and is not a
request per tick: opening it is one request of the rate limits. Bounds: ``per_link`` streams
per link (a new one closes the oldest: a phone that lost signal reconnects before the server
noticed), ``per_ip`` per address and ``total`` per web front (beyond either: 429/503 and the
page polls instead). A stream ends with ``gone`` when the link expires or the order
disappears (the page stops listening), with ``bye`` after ``max_age_s`` or when the server
stops (the browser reconnects by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from dispatcher.clock import system_monotonic
from dispatcher.errors import DatabaseError
from dispatcher.persistence.track_repo import TrackMarks, some_stop, track_marks
from dispatcher.web.context import WebContext
from dispatcher.web.tracking import FRESH_FIX, TrackingView, tracking_snapshot, tracking_views
from dispatcher.web.wakeup import Wakeup

log = logging.getLogger(__name__)
STREAM_HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


@dataclass(eq=False, slots=True)
class Entry:
    """One order's shared view: ``None`` when the order is gone."""

    view: TrackingView | None
    json: bytes
    at: float
    route_id: int | None
    vehicle_id: str | None
    used: float


@dataclass(eq=False)
class TrackStream(Wakeup):
    """One open stream; ``pending`` says what woke it (a flag and a list, not a queue)."""

    stop_id: int
    token: str
    ip: str


class StreamRefused(Exception):
    """No stream now; ``status`` is the answer (429 this address, 503 the server)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class TrackHub:
    """Views shared by every page of one web front and the streams they feed (see module)."""

    def __init__(
        self,
        ctx: WebContext,
        *,
        poll_s: float = 0.5,
        refresh_s: float = 30.0,
        ttl_s: float = 2.0,
        keep_s: float = 120.0,
        heartbeat_s: float = 15.0,
        max_age_s: float = 1800.0,
        per_link: int = 3,
        per_ip: int | None = None,
        total: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.poll_s, self.refresh_s, self.ttl_s, self.keep_s = poll_s, refresh_s, ttl_s, keep_s
        self.heartbeat_s, self.max_age_s = heartbeat_s, max_age_s
        self.per_link = per_link
        self.per_ip = ctx.web.streams_per_ip if per_ip is None else per_ip
        self.total = ctx.web.streams if total is None else total
        self.entries: dict[int, Entry] = {}
        self.streams: dict[int, list[TrackStream]] = {}
        self.by_ip: dict[str, int] = {}
        self.count = 0
        self._marks: dict[tuple[str, Any], Any] = {}
        self._wanted: set[int] = set()
        self._batch: asyncio.Future[None] | None = None
        self._loader: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watched_at = -1e9  # when the watcher last read the markers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._trouble = False

    # -- shared views ----------------------------------------------------------------------
    async def entry(self, stop_id: int) -> Entry:
        """The order's shared view, read (in a batch) when missing or no longer trusted."""
        now = system_monotonic()  # machine time: a fake clock stands still in tests
        hit = self.entries.get(stop_id)
        if hit is not None and now - hit.at < self._trust(now):
            hit.used = now
            return hit
        for _ in range(2):  # a batch already under way may have started before this ask
            await self._load([stop_id])
            found = self.entries.get(stop_id)
            if found is not None and found is not hit:
                found.used = system_monotonic()
                self._ensure_watcher()
                return found
        raise DatabaseError("the order could not be read (database trouble?)")

    async def view(self, stop_id: int) -> TrackingView | None:
        return (await self.entry(stop_id)).view

    def forget(self, stop_id: int) -> None:
        """The order changed here (a form): read it again at its next request."""
        hit = self.entries.get(stop_id)
        if hit is not None:
            hit.at = -1e9

    def _trust(self, now: float) -> float:
        watching = self._watcher is not None and not self._watcher.done()
        fresh = now - self._watched_at < max(2.0, 4 * self.poll_s)
        return self.refresh_s if watching and fresh else self.ttl_s

    async def _load(self, stop_ids: list[int]) -> None:
        """Read ``stop_ids`` in the next batch (one runs at a time; see module)."""
        self._loop = asyncio.get_running_loop()
        self._wanted.update(stop_ids)
        if self._batch is None or self._batch.done():
            self._batch = self._loop.create_future()
        batch = self._batch
        if self._loader is None or self._loader.done():
            self._loader = asyncio.create_task(self._load_batches())
        await asyncio.shield(batch)

    async def _load_batches(self) -> None:
        while self._wanted:
            wanted, self._wanted = self._wanted, set()
            batch, self._batch = self._batch, None
            try:
                await self._refresh(wanted)
            except Exception:  # a bug: said loudly, the waiting requests answered (503)
                log.exception("tracking pages: reading the orders failed")
            finally:
                if batch is not None and not batch.done():
                    batch.set_result(None)

    async def _refresh(self, stop_ids: set[int]) -> set[int]:
        """Read ``stop_ids`` (and the other known orders of their routes); returns the ids
        whose JSON changed. A database error keeps the old views (absent: 'gone')."""
        routes = {e.route_id for sid in stop_ids if (e := self.entries.get(sid)) is not None}
        ids = set(stop_ids) | {
            sid
            for sid, e in self.entries.items()
            if e.route_id is not None and e.route_id in routes
        }
        ctx = self.ctx
        now = ctx.clock.now()
        provider = ctx.services.get("provider")
        try:
            views, marks = await ctx.run(
                lambda: tracking_snapshot(
                    ctx.db,
                    ids,
                    now,
                    ctx.timezone,
                    near_stops=ctx.web.near_stops,
                    provider=provider,
                    whole_routes=True,
                )
            )
        except DatabaseError as exc:  # the old views stay; new ones are not made up
            log.warning("tracking pages: cannot read the orders: %s", exc)
            return set()
        if marks is not None:  # what these views show: the watcher's next look compares
            self._marks.update({("route", rid): m for rid, m in marks.routes.items()})
            self._marks.update({("stop", sid): m for sid, m in marks.loose.items()})
            vans = {v.vehicle_id for v in views.values() if v is not None and v.vehicle_id}
            self._marks.update({("van", vid): marks.fixes.get(vid) for vid in vans})
        at = system_monotonic()
        changed: set[int] = set()
        for sid in ids | set(views):  # the route's other orders came with it
            view = views.get(sid)
            data = _encode(view)
            old = self.entries.get(sid)
            if old is None or old.json != data:
                changed.add(sid)
            contact_route = _route_of(view, old)
            self.entries[sid] = Entry(
                view=view,
                json=data,
                at=at,
                route_id=contact_route[0],
                vehicle_id=contact_route[1],
                used=old.used if old is not None else at,
            )
        if len(self.entries) > 50_000:  # bounded: a flood of valid links cannot grow it
            self._evict(at, force=True)
        return changed

    # -- the watcher -----------------------------------------------------------------------
    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watched_at = -1e9
            self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while self.entries:
            started = system_monotonic()
            try:
                await self._tick()
            except DatabaseError as exc:
                if not self._trouble:
                    log.warning("tracking pages: cannot read the change markers: %s", exc)
                self._trouble = True
            except Exception:  # a bug: said loudly; the pages fall back to short-lived views
                log.exception("tracking pages: the watcher failed")
                return
            else:
                self._trouble = False
            self._evict(system_monotonic())
            await asyncio.sleep(max(0.05, self.poll_s - (system_monotonic() - started)))

    async def _tick(self) -> None:
        routes: dict[int, list[int]] = {}
        loose: list[int] = []
        vans: dict[str, int] = {}
        for sid, e in self.entries.items():
            if e.route_id is not None:
                routes.setdefault(e.route_id, []).append(sid)
                view = e.view
                before = view.stops_before if view is not None else None
                if e.vehicle_id and before is not None and before <= self.ctx.web.near_stops:
                    vans[e.vehicle_id] = e.route_id  # the van is shown: its fixes matter
            elif e.view is not None:
                loose.append(sid)
        since = self.ctx.clock.now() - FRESH_FIX
        marks: TrackMarks = await self.ctx.run(
            track_marks, self.ctx.db, list(routes), loose, list(vans), since
        )
        self._watched_at = system_monotonic()
        stale: set[int] = set()
        seen: set[tuple[str, Any]] = set()

        def moved(key: tuple[str, Any], value: Any) -> bool:
            seen.add(key)
            before = self._marks.get(key, _UNSEEN)
            self._marks[key] = value
            return before is not value and before != value  # a first sight counts: the
            # view may have been read just before a change this read already shows

        for rid, sids in routes.items():
            if moved(("route", rid), marks.routes.get(rid)):
                stale.update(sids)
        for sid in loose:
            if moved(("stop", sid), marks.loose.get(sid)):
                stale.add(sid)
        for vid, rid in vans.items():
            if moved(("van", vid), marks.fixes.get(vid)):
                stale.update(routes.get(rid, ()))
        for key in set(self._marks) - seen:
            del self._marks[key]
        old = self._watched_at - self.refresh_s
        stale.update(sid for sid, e in self.entries.items() if e.at < old)
        if stale:
            for sid in await self._refresh(stale):
                for stream in self.streams.get(sid, ()):
                    stream.notify("view")

    def _evict(self, now: float, *, force: bool = False) -> None:
        keep = 0.0 if force else self.keep_s
        for sid in [s for s, e in self.entries.items() if now - e.used > keep]:
            if sid not in self.streams:
                del self.entries[sid]

    # -- streams (on the server's event loop) ----------------------------------------------
    def open(self, stop_id: int, token: str, ip: str) -> TrackStream:
        own = [s for s in self.streams.get(stop_id, ()) if s.token == token]
        replaced = own[: max(0, len(own) - self.per_link + 1)]
        if self.by_ip.get(ip, 0) - len(replaced) >= self.per_ip:
            raise StreamRefused(429, "too many open pages from this address")
        if self.count - len(replaced) >= self.total:
            raise StreamRefused(503, "too many open pages: polling instead")
        for old in replaced:
            self._release(old)
            old.notify("replaced")
        stream = TrackStream(stop_id, token, ip)
        self.streams.setdefault(stop_id, []).append(stream)
        self.by_ip[ip] = self.by_ip.get(ip, 0) + 1
        self.count += 1
        self._loop = asyncio.get_running_loop()
        self._ensure_watcher()
        return stream

    def _release(self, stream: TrackStream) -> None:
        group = self.streams.get(stream.stop_id)
        if group is None or stream not in group:
            return
        group.remove(stream)
        if not group:
            del self.streams[stream.stop_id]
        self.count -= 1
        left = self.by_ip.get(stream.ip, 1) - 1
        if left > 0:
            self.by_ip[stream.ip] = left
        else:
            self.by_ip.pop(stream.ip, None)

    def close_all(self) -> None:
        """End every stream (the web front stops); safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def close() -> None:
            for group in list(self.streams.values()):
                for stream in list(group):
                    self._release(stream)
                    stream.notify("closing")

        with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
            loop.call_soon_threadsafe(close)

    async def events(self, stream: TrackStream, valid: Callable[[], bool]) -> AsyncIterator[bytes]:
        """The SSE bytes of one stream; ``valid()`` says whether its link still works."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + self.max_age_s
        sent = b""
        try:
            yield b"retry: 5000\n\n"
            while True:
                if not valid():
                    yield _GONE
                    return
                entry = await self.entry(stream.stop_id)
                if entry.view is None:
                    yield _GONE
                    return
                if entry.json != sent:
                    sent = entry.json
                    yield b"event: view\ndata: " + sent + b"\n\n"
                while True:
                    left = ends - loop.time()
                    if left <= 0:
                        yield b'event: bye\ndata: {"reason":"reconnect"}\n\n'
                        return
                    try:
                        await asyncio.wait_for(stream.woken.wait(), min(self.heartbeat_s, left))
                    except TimeoutError:
                        if not valid():
                            yield _GONE
                            return
                        yield b": ping\n\n"
                        continue
                    break
                kinds = stream.take()
                if "gone" in kinds:  # the browser went away
                    return
                end = next((k for k in kinds if k in ("closing", "replaced")), None)
                if end is not None:
                    yield b'event: bye\ndata: {"reason":"' + end.encode() + b'"}\n\n'
                    return
        finally:
            self._release(stream)


_UNSEEN = object()
_GONE = b'event: gone\ndata: {"reason":"this link is no longer valid"}\n\n'


def _encode(view: TrackingView | None) -> bytes:
    if view is None:
        return b""
    return json.dumps(view.as_json(), separators=(",", ":")).encode()


def _route_of(view: TrackingView | None, old: Entry | None) -> tuple[int | None, str | None]:
    if view is None:
        return (None, None) if old is None else (old.route_id, old.vehicle_id)
    return view.route_id, view.vehicle_id


def warm_up(ctx: WebContext) -> None:
    """Read one route as a page would, before a fresh worker process takes requests: its
    first pages would otherwise pay for compiling the queries and importing what they use.
    Never on a GUI thread; nothing is kept; a failure only means a cold start."""
    try:
        stop_id = some_stop(ctx.db)
        if stop_id is None:
            return
        now = ctx.clock.now()
        views = tracking_views(
            ctx.db,
            [stop_id],
            now,
            ctx.timezone,
            near_stops=ctx.web.near_stops,
            provider=ctx.services.get("provider"),
            whole_routes=True,
        )
        routes = {v.route_id for v in views.values() if v.route_id is not None}
        vans = {v.vehicle_id for v in views.values() if v.vehicle_id}
        track_marks(ctx.db, routes, [stop_id], vans, now - FRESH_FIX)
    except DatabaseError as exc:
        log.info("tracking pages: no warm-up (%s)", exc)


def hub_of(ctx: WebContext) -> TrackHub:
    """The web front's hub, one per context (``ctx.services["track_push_options"]``: its
    keyword arguments)."""
    hub = ctx.services.get("track_push")
    if not isinstance(hub, TrackHub):
        hub = TrackHub(ctx, **ctx.services.get("track_push_options", {}))
        ctx.services["track_push"] = hub
        ctx.services.setdefault("closers", []).append(hub.close_all)
    return hub


__all__ = ["StreamRefused", "TrackHub", "TrackStream", "hub_of", "warm_up"]
