"""The driver app's routes: ``/driver/`` (the PWA) and ``/driver/api/…`` (docs/driver.md).

The page and its files are static (``resources/web/driver``); everything the phone shows
comes from the JSON API, which authenticates each request by the pairing token in the
``Authorization: Bearer`` header (:meth:`DriverService.authenticate`). Refusals are JSON
``{"error": code, "reason": text}`` — the app shows ``reason`` to the driver as it is — with
401 (the phone may not use the app), 422 (this action is refused; do not retry) or 503
(the database is away: keep it queued and retry).

The driver pages widen two of the web front's defaults, for themselves only: the camera and
geolocation (Permissions-Policy) and a bigger request body for the POD upload.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dispatcher.driver.service import MAX_PHOTOS, DeviceRefused, DriverService, Identity, as_json
from dispatcher.driver.settings import driver_service as driver_service_for
from dispatcher.errors import DatabaseError
from dispatcher.model.driver import ActionRefused
from dispatcher.package_data import resources_dir
from dispatcher.web.app import CSP
from dispatcher.web.context import WebContext
from dispatcher.web.driver_push import sheet_json, stream_routes
from dispatcher.web.links import TRACK

log = logging.getLogger(__name__)

PAGE_CSP = CSP.replace(
    "default-src 'none'", "default-src 'none'; manifest-src 'self'; worker-src 'self'"
)
PAGE_HEADERS = {
    "content-security-policy": PAGE_CSP,
    "permissions-policy": "geolocation=(self), camera=(self), microphone=()",
    "cache-control": "no-cache",
}
FILES = {
    "app.js": "text/javascript",
    "app.css": "text/css",
    "sw.js": "text/javascript",
    "manifest.webmanifest": "application/manifest+json",
    "icon.svg": "image/svg+xml",
}
MAX_JSON = 16 * 1024


def driver_service(ctx: WebContext) -> DriverService:
    """The context's driver service (made from ``[driver]`` on first use)."""
    service = ctx.services.get("driver")
    if service is None:
        service = driver_service_for(ctx.settings, ctx.db, ctx.clock)
        ctx.services["driver"] = service
    assert isinstance(service, DriverService)
    return service


def routes(ctx: WebContext) -> list[BaseRoute]:
    service = driver_service(ctx)
    limits = ctx.services.setdefault("body_limits", {})
    limits["/driver/api/actions"] = (MAX_PHOTOS + 1) * service.store.max_bytes + 256 * 1024
    folder = resources_dir("web", "driver")
    zone = ZoneInfo(ctx.timezone)

    def today() -> date:
        return ctx.clock.now().astimezone(zone).date()

    async def page(request: Request) -> Response:
        return FileResponse(folder / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in FILES:  # a fixed list: no path reaches the file system
            return JSONResponse({"error": "not_found"}, 404)
        headers = dict(PAGE_HEADERS)
        if name == "sw.js":
            headers["service-worker-allowed"] = "/driver/"
        return FileResponse(folder / name, media_type=FILES[name], headers=headers)

    async def who(request: Request) -> Identity:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        return await ctx.run(service.authenticate, token)

    async def sheet(request: Request) -> Response:
        async def work() -> Response:
            phone = await who(request)
            return JSONResponse(await sheet_json(ctx, service, phone, today()))

        return await _answer(work)

    async def messages(request: Request) -> Response:
        async def work() -> Response:
            phone = await who(request)
            if request.method == "GET":
                after = request.query_params.get("after", "0")
                after_id = int(after) if after.isdigit() else 0
                found = await ctx.run(service.messages_for, phone, after_id)
                return JSONResponse({"messages": as_json(found)})
            body = await _json(request)
            message_id = await ctx.run(
                service.reply,
                phone,
                str(body.get("key", "")),
                str(body.get("body", "")),
                body.get("stop") if isinstance(body.get("stop"), str) else None,
            )
            return JSONResponse({"ok": True, "id": message_id})

        return await _answer(work)

    async def position(request: Request) -> Response:
        async def work() -> Response:
            phone = await who(request)
            await ctx.run(service.submit_position, phone, await request.body())
            return JSONResponse({"ok": True})

        return await _answer(work)

    async def actions(request: Request) -> Response:
        async def work() -> Response:
            phone = await who(request)
            form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=4)
            try:
                raw = form.get("action")
                payload = raw.encode() if isinstance(raw, str) else b""
                photos = [
                    await f.read() for f in form.getlist("photo") if isinstance(f, UploadFile)
                ]
                sig = form.get("signature")
                signature = await sig.read() if isinstance(sig, UploadFile) else None
            finally:
                await form.close()
            result = await ctx.run(
                lambda: service.submit_action(phone, payload, photos=photos, signature=signature)
            )
            return JSONResponse({"ok": True, **as_json(result)})

        return await _answer(work)

    return [
        *_tracking_routes(ctx, service),
        Route("/driver", page),
        Route("/driver/", page),
        Route("/driver/api/sheet", sheet),
        *stream_routes(ctx, service, today, who, _answer),
        Route("/driver/api/messages", messages, methods=["GET", "POST"]),
        Route("/driver/api/position", position, methods=["POST"]),
        Route("/driver/api/actions", actions, methods=["POST"]),
        Route("/driver/{name}", asset),
    ]


def _tracking_routes(ctx: WebContext, service: DriverService) -> list[BaseRoute]:
    """What the customer's tracking page shows of the proof of delivery."""

    async def tracking_photo(request: Request) -> Response:
        """The delivery photo on the customer's tracking page: only under a valid link,
        only a photo of that very stop (never its signature, never another stop's)."""
        stop_id = ctx.signer.verify(TRACK, request.path_params["token"], ctx.clock.now())
        name = request.path_params["name"]
        found = None if stop_id is None else await ctx.run(service.tracking_photo, stop_id, name)
        if found is None:
            return Response("not found", 404)
        data, media = found
        return Response(data, media_type=media, headers={"cache-control": "private, max-age=3600"})

    return [Route("/t/{token}/pod/{name}", tracking_photo)]


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_JSON:
        raise ActionRefused("too_large", "the message is too long")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ActionRefused("malformed_json", "the app sent something unreadable") from None
    if not isinstance(body, dict):
        raise ActionRefused("not_an_object", "the app sent something unreadable")
    return body


async def _answer(work: Any) -> Response:
    """Run a handler; refusals become the JSON the app shows (see the module)."""
    try:
        response: Response = await work()
        return response
    except DeviceRefused as exc:
        return JSONResponse({"error": "device", "reason": exc.reason}, 401)
    except ActionRefused as exc:
        return JSONResponse({"error": exc.code, "reason": exc.reason}, 422)
    except DatabaseError as exc:
        log.warning("driver app: database unavailable: %s", exc)
        return JSONResponse(
            {"error": "unavailable", "reason": "the desk's database is away: kept, will retry"},
            503,
        )
