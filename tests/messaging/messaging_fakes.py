"""Stand-ins for the outside world, all real servers on loopback (imported by conftest.py).

The gateway is a real HTTP server (``http.server`` in a thread on 127.0.0.1, free port) that
can be scripted to fail, and that deduplicates on ``Idempotency-Key`` like a good gateway:
a repeat of an accepted key answers 200 with the first message's id and records nothing new.
The SMTP inbox is an aiosmtpd handler that keeps every envelope it receives.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class GatewayRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeGateway:
    """What the tests script and inspect. ``script`` is consumed one status per request."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    requests: list[GatewayRequest] = field(default_factory=list)
    delivered: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if headers.get("content-type", "").startswith("application/json"):
            body = json.loads(raw)
        else:
            body = dict(urllib.parse.parse_qsl(raw.decode()))
        with self.lock:
            self.requests.append(GatewayRequest(path, headers, body))
            status = self.script.pop(0) if self.script else 200
            if status != 200:
                return status, {"error": f"scripted {status}"}
            key = headers.get("idempotency-key", "")
            if key in self.delivered:
                first = self.delivered[key]["_id"]
                return 200, {"id": first, "sid": first}
            provider_id = f"gw-{len(self.delivered) + 1}"
            self.delivered[key] = {**body, "_id": provider_id}
            return 200, {"id": provider_id, "sid": provider_id}


class _Server(ThreadingHTTPServer):
    """A local HTTP server in front of one fake gateway."""

    def __init__(self, gateway: FakeGateway) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.gateway = gateway


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        assert isinstance(self.server, _Server)
        status, answer = self.server.gateway.handle(self.path, headers, raw)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests inspect the gateway's records instead."""


@contextmanager
def running_gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway()
    server = _Server(fake)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpInbox:
    host: str
    port: int
    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@contextmanager
def running_smtp() -> Iterator[SmtpInbox]:
    from aiosmtpd.controller import Controller

    inbox = SmtpInbox("127.0.0.1", free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
