"""A geocoding provider on loopback that answers in Nominatim's and Photon's real formats.

Nominatim: ``GET /search?q=…&format=json`` → a JSON list of places (``lat``/``lon`` as strings,
``display_name``); Photon: ``GET /api?q=…`` → a GeoJSON FeatureCollection. Known addresses
are in Manchester (a fleet that is not the demo); ``script`` makes the next answers fail.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

#: Manchester: the fleet that is not the demo.
PLACES = {
    "1 piccadilly manchester m1 1aa": (53.4794892, -2.2451148),
    "45 deansgate manchester m3 2ay": (53.4808, -2.2494),
    "10 oxford road manchester m1 5qa": (53.4741, -2.2401),
    "2 portland street manchester m1 3bs": (53.4787, -2.2367),
}


def _place(query: str) -> tuple[float, float] | None:
    return PLACES.get(" ".join(query.casefold().replace(",", " ").split()))


@dataclass
class Provider:
    """What the fake provider knows, and what it was asked."""

    url: str = ""
    queries: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # statuses to answer first

    def answer(self, path: str) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(path)
        query = parse_qs(parts.query).get("q", [""])[0]
        self.queries.append(query)
        if self.script:
            status = self.script.pop(0)
            return status, {"Retry-After": "2"}, {"error": f"scripted {status}"}
        place = _place(query)
        if parts.path == "/search":  # Nominatim, format=json
            found = [] if place is None else [_nominatim(query, *place)]
            return 200, {}, found
        if parts.path == "/api":  # Photon: GeoJSON
            features = [] if place is None else [_photon(*place)]
            return 200, {}, {"type": "FeatureCollection", "features": features}
        return 404, {}, {"error": "no such endpoint"}


def _nominatim(query: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "place_id": 2914,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. https://osm.org/copyright",
        "osm_type": "way",
        "osm_id": 4242,
        "lat": str(lat),
        "lon": str(lon),
        "class": "building",
        "type": "yes",
        "place_rank": 30,
        "importance": 0.00001,
        "addresstype": "building",
        "name": "",
        "display_name": f"{query.title()}, Greater Manchester, England, United Kingdom",
        "boundingbox": [str(lat - 0.001), str(lat + 0.001), str(lon - 0.001), str(lon + 0.001)],
    }


def _photon(lat: float, lon: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "osm_type": "W",
            "osm_id": 4242,
            "country": "United Kingdom",
            "city": "Manchester",
            "countrycode": "GB",
            "postcode": "M1 1AA",
            "type": "house",
            "housenumber": "1",
            "street": "Piccadilly",
        },
    }


class _Server(ThreadingHTTPServer):
    """A local HTTP server in front of one fake provider."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.provider = provider


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, _Server)
        provider = self.server.provider
        provider.agents.append(self.headers.get("User-Agent", ""))
        status, headers, body = provider.answer(self.path)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read the provider's records."""


@pytest.fixture
def provider() -> Iterator[Provider]:
    fake = Provider()
    server = _Server(fake)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def closed_url() -> str:
    """A loopback URL where nothing listens: connection refused, like a provider that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"
