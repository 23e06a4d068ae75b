"""The tracking page's HTML, rendered once per link and view and reused until either changes.

A page is the shared view (:mod:`dispatcher.web.track_push`) put into ``track.html`` with
what belongs to the link: its URLs, the form's CSRF token and the fixed message after a form
(``?m=``). Rendering it again for every request of a thousand open pages would cost more than
everything else the request does, so it is rendered once per ``(order, message)`` with a
placeholder where the link's token goes (the token is 39 URL-safe characters, never escaped,
so putting it in afterwards is a plain replacement) and again only when the view's JSON
changed or the CSRF token is an hour old (it is valid for 12: a page rendered from the cache
still carries a token good for 11 hours at least). Orders' pages, never links', are shared:
a page only ever holds its own order's view.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from dispatcher.clock import system_monotonic
from dispatcher.web.context import WebContext
from dispatcher.web.feedback import MAX_COMMENT
from dispatcher.web.tracking import TrackingView

CSRF = "csrf-track"
CSRF_VALID = timedelta(hours=12)
CSRF_REUSE_S = 3600.0
MAX_PAGES = 20_000
#: Where the link's token goes in a cached page (no token, no text of a page contains it).
_SLOT = b"\x00token\x00"


class TrackPages:
    """Rendered tracking pages by ``(token, message key)`` (bounded, oldest dropped first)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self._pages: OrderedDict[tuple[int, str], tuple[bytes, str, bytes]] = OrderedDict()
        self._csrf: dict[int, tuple[float, datetime, str]] = {}
        self._template = ctx.templates.get_template("track.html")

    def csrf(self, stop_id: int) -> str:
        """The order's form token: signed anew when the cached one is an hour old."""
        now, clock = system_monotonic(), self.ctx.clock.now()
        hit = self._csrf.get(stop_id)
        fresh = hit is not None and now - hit[0] < CSRF_REUSE_S
        if hit is not None and fresh and timedelta(0) <= clock - hit[1] < timedelta(hours=1):
            return hit[2]  # (a fake clock may step back in tests: signed anew then)
        token = self.ctx.signer.sign(CSRF, stop_id, clock + CSRF_VALID)
        if len(self._csrf) > MAX_PAGES:
            self._csrf.clear()
        self._csrf[stop_id] = (now, clock, token)
        return token

    def html(
        self,
        stop_id: int,
        token: str,
        message: str,
        flash: tuple[str, str],
        view_json: bytes,
        view: TrackingView,
    ) -> bytes:
        csrf = self.csrf(stop_id)
        key = (stop_id, message)
        hit = self._pages.get(key)
        if hit is not None and hit[0] == view_json and hit[1] == csrf:
            self._pages.move_to_end(key)
            return hit[2].replace(_SLOT, token.encode())
        base = f"/t/{_SLOT.decode()}"
        body = self._template.render(
            view=view,
            status_url=f"{base}/status",
            stream_url=f"{base}/stream",
            slots_url=f"{base}/slots",
            action_base=base,
            csrf=csrf,
            poll_s=self.ctx.web.poll_s,
            flash=flash[0],
            flash_kind=flash[1],
            max_comment=MAX_COMMENT,
        ).encode()
        self._pages[key] = (view_json, csrf, body)
        self._pages.move_to_end(key)
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        return body.replace(_SLOT, token.encode())
