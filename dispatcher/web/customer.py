"""The customer's pages: ``/t/<token>`` (tracking) — filled in by issue 19's work."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dispatcher.web.context import WebContext

PURPOSE = "track"


def routes(ctx: WebContext) -> list[BaseRoute]:
    async def track(request: Request) -> Response:
        return not_found(ctx, request)

    return [Route("/t/{token}", track)]


def not_found(ctx: WebContext, request: Request) -> Response:
    """The one answer to a bad, tampered, expired or revoked link: 404, nothing about it."""
    return ctx.templates.TemplateResponse(request, "not_found.html", status_code=404)
