"""The customer's pages: ``/t/<token>`` (tracking), its status JSON, slots and the forms.

Every route starts by checking the token (:mod:`dispatcher.web.signing`); anything wrong
— forged, changed, expired, revoked, an order gone or finished long ago — gets the same 404
page, with nothing about any order. Forms carry a CSRF token bound to the order, are refused
from another origin, and answer with a redirect (so a reload never posts twice). Messages
shown after a form come from a fixed list: nothing the visitor typed is reflected.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from dispatcher import display
from dispatcher.errors import (
    ConflictError,
    DatabaseError,
    DispatcherError,
    NotFoundError,
    ValidationError,
)
from dispatcher.web.context import WebContext
from dispatcher.web.feedback import submit_feedback
from dispatcher.web.links import TRACK
from dispatcher.web.requests import CustomerRequests
from dispatcher.web.throttle import Throttle
from dispatcher.web.track_pages import CSRF, TrackPages
from dispatcher.web.track_push import STREAM_HEADERS, StreamRefused, TrackHub, hub_of

log = logging.getLogger(__name__)

#: What a form's outcome may say (``?m=<key>``): fixed texts, never the visitor's input.
FLASH = {
    "instructions": ("Thank you: your instructions are saved and your driver will see them.", ""),
    "slot": ("Thank you: your request is with our dispatcher. We will confirm by message.", ""),
    "not_home": ("Thank you: a dispatcher will re-plan your delivery and confirm by message.", ""),
    "invalid": ("Sorry, that did not work. Please check and try again.", "error"),
    "taken": ("That slot is no longer available; please pick another.", "error"),
    "duplicate": ("We already have this request; a dispatcher is looking at it.", "error"),
    "limit": ("Too many requests for this delivery today; please contact us.", "error"),
    "feedback": ("Thank you for your feedback! It helps us deliver better.", ""),
    "feedback_twice": ("We already have your feedback for this delivery. Thank you!", "error"),
    "rating": ("Please choose a rating from 1 to 5 stars.", "error"),
    "long": ("Your comment is too long; please shorten it.", "error"),
}

Handler = Callable[[Request, int], Awaitable[Response]]


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The customer's tracking page and self-service, under ``/t/``."""
    per_ip = Throttle(limit=ctx.web.per_ip_per_min, window_s=60)
    per_token = Throttle(limit=ctx.web.per_link_per_min, window_s=60)
    requests = _requests(ctx)
    hub = hub_of(ctx)
    pages = TrackPages(ctx)

    def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            token = str(request.path_params.get("token", ""))
            if not per_ip.allow(_ip(request)) or not per_token.allow(token[:40]):
                return Response("slow down", 429, headers={"Retry-After": "30"})
            stop_id = ctx.signer.verify(TRACK, token, ctx.clock.now())
            if stop_id is None:
                return not_found(ctx, request)
            if request.method == "POST" and not await _form_allowed(ctx, request, stop_id):
                return Response("forbidden", 403)
            try:
                return await handler(request, stop_id)
            except NotFoundError:
                return not_found(ctx, request)
            except DatabaseError as exc:  # the order could not be read: try again soon
                log.warning("tracking page: %s", exc)
                return Response("busy, please try again", 503, headers={"Retry-After": "10"})

        return endpoint

    async def slots(request: Request, stop_id: int) -> Response:
        view = await hub.view(stop_id)
        if view is None:
            return not_found(ctx, request)
        base = f"/t/{request.path_params['token']}"
        offered = await ctx.run(requests.offer_slots, stop_id) if view.may_change else []
        days: dict[str, list[tuple[str, str]]] = {}
        for choice in offered:
            start = choice.start.astimezone(_zone(ctx))
            end = choice.end.astimezone(_zone(ctx))
            shown = display.current()  # the fleet's locale ([fleet] locale)
            days.setdefault(shown.long_day(start.date()), []).append(
                (choice.key, f"{shown.clock(start)}-{shown.clock(end)}")
            )
        return ctx.templates.TemplateResponse(
            request,
            "slots.html",
            {
                "order_ref": view.order_ref,
                "slots": list(days.items()),
                "action_base": base,
                "back_url": base,
                "csrf": pages.csrf(stop_id),
            },
            headers={"Cache-Control": "no-store"},
        )

    def action(kind: str) -> Handler:
        async def post(request: Request, stop_id: int) -> Response:
            form = request.state.form
            view = await hub.view(stop_id)
            base = f"/t/{request.path_params['token']}"
            if view is None:
                return not_found(ctx, request)
            if not view.may_change:
                return RedirectResponse(f"{base}?m=invalid", 303)
            try:
                if kind == "instructions":
                    await ctx.run(
                        requests.submit_instruction,
                        stop_id,
                        view.order_ref,
                        str(form.get("kind", "")),
                        str(form.get("text", "")),
                    )
                elif kind == "slot":
                    await ctx.run(
                        requests.submit_slot, stop_id, view.order_ref, str(form.get("slot", ""))
                    )
                else:
                    await ctx.run(requests.submit_not_home, stop_id, view.order_ref)
            except ConflictError:
                return RedirectResponse(f"{base}?m=duplicate", 303)
            except ValidationError as exc:
                code = (
                    "limit" if "too many" in str(exc) else "taken" if kind == "slot" else "invalid"
                )
                return RedirectResponse(f"{base}?m={code}", 303)
            hub.forget(stop_id)  # the change shows at once
            return RedirectResponse(f"{base}?m={kind}", 303)

        return post

    return [
        Route("/t/{token}", guarded(_page(ctx, hub, pages))),
        Route("/t/{token}/feedback", guarded(_feedback(ctx, hub)), methods=["POST"]),
        Route("/t/{token}/status", guarded(_status(hub))),
        Route("/t/{token}/stream", guarded(_stream(ctx, hub))),
        Route("/t/{token}/slots", guarded(slots)),
        Route("/t/{token}/instructions", guarded(action("instructions")), methods=["POST"]),
        Route("/t/{token}/slot", guarded(action("slot")), methods=["POST"]),
        Route("/t/{token}/not-home", guarded(action("not_home")), methods=["POST"]),
    ]


def _page(ctx: WebContext, hub: TrackHub, pages: TrackPages) -> Handler:
    """``/t/<token>``: the page, from the shared view and the rendered-page cache."""

    async def page(request: Request, stop_id: int) -> Response:
        entry = await hub.entry(stop_id)
        if entry.view is None:
            return not_found(ctx, request)
        token = str(request.path_params["token"])
        m = request.query_params.get("m", "")
        m = m if m in FLASH else ""
        return Response(
            pages.html(stop_id, token, m, FLASH.get(m, ("", "")), entry.json, entry.view),
            media_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    return page


def _status(hub: TrackHub) -> Handler:
    """``/t/<token>/status``: the shared view's JSON (the page's fallback when it polls)."""

    async def status(request: Request, stop_id: int) -> Response:
        entry = await hub.entry(stop_id)
        if entry.view is None:
            return JSONResponse({"error": "not found"}, 404)
        return Response(
            entry.json, media_type="application/json", headers={"Cache-Control": "no-store"}
        )

    return status


def _stream(ctx: WebContext, hub: TrackHub) -> Handler:
    """``/t/<token>/stream``: the page's updates as server-sent events (track_push.py)."""

    async def stream(request: Request, stop_id: int) -> Response:
        entry = await hub.entry(stop_id)
        if entry.view is None:
            return not_found(ctx, request)
        token = str(request.path_params["token"])
        try:
            opened = hub.open(stop_id, token, _ip(request))
        except StreamRefused as exc:
            return JSONResponse(
                {"error": "busy", "reason": str(exc)}, exc.status, headers={"Retry-After": "60"}
            )

        def valid() -> bool:
            return ctx.signer.verify(TRACK, token, ctx.clock.now()) == stop_id

        return StreamingResponse(
            hub.events(opened, valid), media_type="text/event-stream", headers=STREAM_HEADERS
        )

    return stream


def _feedback(ctx: WebContext, hub: TrackHub) -> Handler:
    """The feedback step (dispatcher/web/feedback.py): once per order, after the visit."""

    async def feedback(request: Request, stop_id: int) -> Response:
        form = request.state.form
        view = await hub.view(stop_id)
        base = f"/t/{request.path_params['token']}"
        if view is None:
            return not_found(ctx, request)
        try:
            await ctx.run(
                lambda: submit_feedback(
                    ctx.db,
                    ctx.clock,
                    stop_id,
                    view.status,
                    form.get("rating", ""),
                    form.get("comment", ""),
                    low_rating=ctx.web.low_rating,
                    on_raised=ctx.note_alert,
                )
            )
        except ConflictError:
            return RedirectResponse(f"{base}?m=feedback_twice", 303)
        except ValidationError as exc:
            code = (
                "long" if "too long" in str(exc) else "rating" if view.ask_feedback else "invalid"
            )
            return RedirectResponse(f"{base}?m={code}", 303)
        hub.forget(stop_id)
        return RedirectResponse(f"{base}?m=feedback", 303)

    return feedback


def not_found(ctx: WebContext, request: Request) -> Response:
    """The one answer to a bad, tampered, expired or revoked link: 404, nothing about it."""
    return ctx.templates.TemplateResponse(
        request, "not_found.html", status_code=404, headers={"Cache-Control": "no-store"}
    )


def _ip(request: Request) -> str:
    return request.client.host if request.client else "?"


async def _form_allowed(ctx: WebContext, request: Request, stop_id: int) -> bool:
    """Same origin (when the browser says) and a CSRF token bound to this order."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        return False
    try:
        form = await request.form(max_files=0, max_fields=20)
    except Exception:  # malformed body: refused, not a crash
        return False
    request.state.form = form
    token = str(form.get("csrf", ""))
    return ctx.signer.verify(CSRF, token, ctx.clock.now()) == stop_id


def _zone(ctx: WebContext) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(ctx.timezone)


def _requests(ctx: WebContext) -> CustomerRequests:
    found = ctx.services.get("requests")
    if isinstance(found, CustomerRequests):
        return found
    made = CustomerRequests(
        ctx.db,
        ctx.clock,
        ctx.timezone,
        messaging=ctx.services.get("messaging"),
        provider=ctx.services.get("provider"),
        on_raised=ctx.note_alert,
    )
    ctx.services["requests"] = made
    return made


__all__ = ["DispatcherError", "not_found", "routes"]
