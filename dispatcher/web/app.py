"""The web front's ASGI app: one Starlette app, a route group per audience.

:func:`build_app` mounts what every audience shares — the offline Leaflet files
(``/static/leaflet``, the same ``xstatic-leaflet`` the console's map uses), our own files
(``/static/web``, ``resources/web/static``), ``/healthz`` — then each group listed in
:data:`dispatcher.web.groups.GROUPS` (the customer's tracking pages and webhooks, the
driver's app...). A group is a function ``routes(ctx) -> list[BaseRoute]``; adding an
audience is one line there.

Every response carries a strict Content-Security-Policy (no inline script, nothing from
another origin: the pages work with no internet), ``nosniff``, no framing and no referrer
(a tracking link must not leak to a tile server or an analytics host). Request bodies over
``[web] max_body_kb`` are refused with 413 before a handler reads them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path

import xstatic.pkg.leaflet as xstatic_leaflet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatcher.package_data import resources_dir
from dispatcher.web.context import WebContext

RouteGroup = Callable[[WebContext], Sequence[BaseRoute]]

LEAFLET_DIR = Path(xstatic_leaflet.BASE_DIR)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
]


def load_groups(names: Sequence[str]) -> list[RouteGroup]:
    """``"package.module:function"`` strings → the route-group functions."""
    groups: list[RouteGroup] = []
    for name in names:
        module, _, attr = name.partition(":")
        groups.append(getattr(importlib.import_module(module), attr))
    return groups


def build_app(ctx: WebContext, groups: Sequence[RouteGroup] | None = None) -> Starlette:
    """The app for ``ctx``: shared routes, then each group's (default: every audience)."""
    if groups is None:
        from dispatcher.web.groups import GROUPS

        groups = load_groups(GROUPS)
    routes: list[BaseRoute] = [
        Route("/healthz", _healthz),
        Route("/brand.css", _brand_css),
        Mount("/static/leaflet", StaticFiles(directory=LEAFLET_DIR), name="leaflet"),
        Mount("/static/web", StaticFiles(directory=resources_dir("web", "static")), name="web"),
    ]
    for group in groups:
        routes.extend(group(ctx))
    app = Starlette(routes=routes)
    app.state.ctx = ctx
    # A group may allow bigger bodies under its own prefix (the driver app's photos):
    # ``ctx.services["body_limits"] = {"/prefix/": bytes}``.
    app.add_middleware(
        Guard, max_body=ctx.web.max_body_kb * 1024, larger=ctx.services.get("body_limits", {})
    )
    return app


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _brand_css(request: Request) -> Response:
    """The company's colour as a style sheet (the CSP allows no inline style)."""
    color = request.app.state.ctx.web.brand_color  # checked as #rrggbb by WebSettings
    return Response(f":root {{ --brand: {color}; }}\n", media_type="text/css")


class Guard:
    """Security headers on every response; oversized bodies refused (413) unread."""

    def __init__(self, app: ASGIApp, max_body: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        max_body = next(
            (n for prefix, n in self.larger.items() if path.startswith(prefix)), self.max_body
        )
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body):
            await PlainTextResponse("request too large", 413)(scope, receive, _secured(send))
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_body:  # chunked without a length: stop reading
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, _secured(send))
        except BodyTooLarge:
            await PlainTextResponse("request too large", 413)(scope, receive, _secured(send))


class BodyTooLarge(Exception):
    """A request body grew past the limit while a handler read it."""


def _secured(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            headers = list(message.get("headers") or [])
            own = {name.lower() for name, _ in headers}  # a page may widen one (driver app)
            message["headers"] = headers + [h for h in SECURITY_HEADERS if h[0] not in own]
        await send(message)

    return wrapped
