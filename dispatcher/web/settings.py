"""The ``[web]`` section: where the web front listens, the address links use, its look.

Example::

    [web]
    listen = "127.0.0.1:8700"                 # also `dispatcher serve --web HOST:PORT`
    public_url = "https://track.example.com"  # what links in messages start with
    link_days = 7            # a tracking link works until delivery + this many days
    near_stops = 3           # show the van once the customer is this many stops away
    brand_color = "#1565c0"
    max_body_kb = 64         # bigger request bodies are refused (413)
    poll_s = 15              # how often an open tracking page asks for news
    per_ip_per_min = 600     # requests a minute from one address (a phone network's NAT
    per_link_per_min = 60    # shares one among many customers), and per link (429 beyond)
    low_rating = 2           # a customer's rating at or below this raises an exception (0: never)
    streams = 5000           # open tracking pages listening for updates, per worker (beyond:
    streams_per_ip = 500     # they poll), and per client address
    workers = 0              # processes serving it (also `serve --web-workers N`); 0: automatic,
                             # one for a console, one per core (at most 4) for `serve`

Without ``listen`` the console serves nothing; ``dispatcher serve`` serves when given
``--web``. Without ``public_url`` links use ``http://<listen>`` (fine on a LAN, a test or a
reverse proxy that rewrites nothing).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dispatcher.errors import ConfigError

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_WORKERS = 32


@dataclass(frozen=True, slots=True)
class WebSettings:
    listen: str = ""
    public_url: str = ""
    link_days: int = 7
    near_stops: int = 3
    brand_color: str = "#1565c0"
    max_body_kb: int = 64
    poll_s: int = 15
    per_ip_per_min: int = 600
    per_link_per_min: int = 60
    low_rating: int = 2
    streams: int = 5000
    streams_per_ip: int = 500
    workers: int = 0

    @classmethod
    def from_sections(
        cls, sections: Mapping[str, Mapping[str, Any]], *, listen: str | None = None
    ) -> WebSettings:
        """Read ``[web]``; ``listen`` (the command line's ``--web``) wins over the file's."""
        raw = dict(sections.get("web") or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"[web]: unknown key(s) {', '.join(unknown)}")
        values = cls(**raw) if raw else cls()
        if listen is not None:
            values = cls(**{**{f: getattr(values, f) for f in known}, "listen": listen})
        values.check()
        return values

    def check(self) -> None:
        if self.listen:
            parse_listen(self.listen)
        if self.public_url and not re.match(r"https?://[^\s/]+", self.public_url):
            raise ConfigError(f"[web] public_url {self.public_url!r} is not an http(s) URL")
        for name in (
            "link_days",
            "near_stops",
            "max_body_kb",
            "poll_s",
            "per_ip_per_min",
            "per_link_per_min",
            "streams",
            "streams_per_ip",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
                raise ConfigError(f"[web] {name} must be a whole number 0..1000000, not {value!r}")
        if not isinstance(self.workers, int) or isinstance(self.workers, bool):
            raise ConfigError(f"[web] workers must be a whole number 0..{MAX_WORKERS}")
        if not 0 <= self.workers <= MAX_WORKERS:
            raise ConfigError(f"[web] workers must be 0..{MAX_WORKERS}, not {self.workers!r}")
        if not isinstance(self.low_rating, int) or not 0 <= self.low_rating <= 5:
            raise ConfigError(f"[web] low_rating must be 0..5, not {self.low_rating!r}")
        if not _COLOR.fullmatch(str(self.brand_color)):
            raise ConfigError(f"[web] brand_color {self.brand_color!r} is not #rrggbb")

    def worker_count(self, role: str) -> int:
        """How many processes serve: ``workers``, or the role's default when it is 0."""
        return self.workers or default_workers(role)

    def base_url(self, bound: tuple[str, int] | None = None) -> str:
        """What links start with: ``public_url``, else the address actually listened on."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host, port = bound or parse_listen(self.listen or "127.0.0.1:8700")
        return f"http://{host}:{port}"


def default_workers(role: str) -> int:
    """``[web] workers = 0``: one process for a console (its web front serves a few pages
    beside the GUI), one per core for ``dispatcher serve`` (at most 4: past that the
    database, not Python, is what a page waits for). On the 2-core reference machine a
    second process halves the tail latency at 1,000 open pages (docs/web.md, Measured)."""
    if role != "serve":
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def parse_listen(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``[::1]:8700`` for IPv6) → ``(host, port)``; port 0 picks a free one."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"web address {text!r} is not HOST:PORT")
    return host, int(port)
