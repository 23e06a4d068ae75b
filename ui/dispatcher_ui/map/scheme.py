"""The ``dmap:`` scheme: the map page, its scripts and its tiles, all served by the app.

URLs:

* ``dmap://app/page/<token>.html`` — a page built by :mod:`dispatcher_ui.map.page`;
* ``dmap://app/static/leaflet/<file>`` — Leaflet from the ``xstatic-leaflet`` package;
* ``dmap://app/static/map/<file>`` — our bridge script and styles (``resources/map``);
* ``dmap://app/static/qwebchannel.js`` — Qt's channel script, from Qt's own resources;
* ``dmap://tiles/<source>/<z>/<x>/<y>`` — an MBTiles file, or an XYZ source through the disk
  cache (fetched once, then served from disk, also when the network is down).

Nothing outside those folders can be reached: file names are checked against the folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import xstatic.pkg.leaflet as xstatic_leaflet
from PySide6.QtCore import QBuffer, QByteArray, QFile, QIODevice, QObject, QUrl
from PySide6.QtNetwork import QNetworkAccessManager, QNetworkReply, QNetworkRequest
from PySide6.QtWebEngineCore import QWebEngineUrlRequestJob, QWebEngineUrlSchemeHandler

from dispatcher import __version__
from dispatcher.maps.mbtiles import MBTilesReader
from dispatcher.maps.settings import TileSource
from dispatcher.maps.tile_cache import TileCache
from dispatcher.package_data import resources_dir

log = logging.getLogger(__name__)

RESOURCES = resources_dir("map")
LEAFLET_DIR = Path(xstatic_leaflet.BASE_DIR)
_STATIC = {"leaflet": LEAFLET_DIR, "map": RESOURCES}
_MIME = {
    ".js": b"text/javascript",
    ".css": b"text/css",
    ".png": b"image/png",
    ".svg": b"image/svg+xml",
    ".html": b"text/html",
}
USER_AGENT = f"Dispatcher/{__version__} (fleet dispatch console; tiles cached on disk)"


@dataclass
class _Online:
    source: TileSource
    cache: TileCache


class MapSchemeHandler(QWebEngineUrlSchemeHandler):
    """Serves ``dmap:`` requests on the GUI thread (reads are small; fetches are async)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pages: dict[str, bytes] = {}
        self.mbtiles: dict[str, MBTilesReader] = {}
        self.online: dict[str, _Online] = {}
        self._net: QNetworkAccessManager | None = None
        self.served = 0

    # -- registration ---------------------------------------------------------------------
    def add_page(self, token: str, html: str) -> str:
        self.pages[token] = html.encode()
        return f"dmap://app/page/{token}.html"

    def add_mbtiles(self, key: str, reader: MBTilesReader) -> str:
        self.mbtiles[key] = reader
        return f"dmap://tiles/{key}/{{z}}/{{x}}/{{y}}"

    def add_online(self, source: TileSource, cache: TileCache) -> str:
        self.online[source.key] = _Online(source, cache)
        return f"dmap://tiles/{source.key}/{{z}}/{{x}}/{{y}}"

    # -- requests -------------------------------------------------------------------------
    def requestStarted(self, job: QWebEngineUrlRequestJob) -> None:
        url = job.requestUrl()
        host, parts = url.host(), [p for p in url.path().split("/") if p]
        try:
            if host == "app":
                self._app(job, parts)
            elif host == "tiles":
                self._tile(job, parts)
            else:
                job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)
        except Exception:
            log.exception("map request %s failed", url.toString())
            job.fail(QWebEngineUrlRequestJob.Error.RequestFailed)

    def _app(self, job: QWebEngineUrlRequestJob, parts: list[str]) -> None:
        if len(parts) == 2 and parts[0] == "page" and parts[1].endswith(".html"):
            html = self.pages.get(parts[1].removesuffix(".html"))
            if html is not None:
                self._reply(job, b"text/html", html)
                return
        elif parts == ["static", "qwebchannel.js"]:
            file = QFile(":/qtwebchannel/qwebchannel.js")
            if file.open(QIODevice.OpenModeFlag.ReadOnly):
                self._reply(job, b"text/javascript", bytes(file.readAll().data()))
                return
        elif len(parts) >= 3 and parts[0] == "static" and parts[1] in _STATIC:
            path = _safe_file(_STATIC[parts[1]], parts[2:])
            if path is not None:
                self._reply(
                    job, _MIME.get(path.suffix, b"application/octet-stream"), path.read_bytes()
                )
                return
        job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)

    def _tile(self, job: QWebEngineUrlRequestJob, parts: list[str]) -> None:
        zxy = _zxy(parts[1:]) if len(parts) == 4 else None
        if zxy is None:
            job.fail(QWebEngineUrlRequestJob.Error.UrlInvalid)
            return
        key = parts[0]
        reader = self.mbtiles.get(key)
        if reader is not None:
            data = reader.tile(*zxy)
            if data is None:
                job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)
            else:
                self._reply(job, reader.mime_type.encode(), data)
            return
        online = self.online.get(key)
        if online is None:
            job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)
            return
        cached = online.cache.get(key, *zxy)
        if cached is not None and cached.age_s < online.cache.max_age_s:
            self._reply(job, _sniff(cached.data), cached.data)
            return
        self._fetch(job, online, zxy, None if cached is None else cached.data)

    def _fetch(
        self,
        job: QWebEngineUrlRequestJob,
        online: _Online,
        zxy: tuple[int, int, int],
        stale: bytes | None,
    ) -> None:
        if self._net is None:
            self._net = QNetworkAccessManager(self)
        request = QNetworkRequest(QUrl(online.source.tile_url(*zxy)))
        request.setHeader(QNetworkRequest.KnownHeaders.UserAgentHeader, USER_AGENT)
        request.setTransferTimeout(15000)
        reply = self._net.get(request)
        pending = {"job": True, "reply": True}

        def job_gone() -> None:  # the page went away: stop fetching for it
            pending["job"] = False
            if pending["reply"]:
                reply.abort()

        job.destroyed.connect(job_gone)

        def done() -> None:
            pending["reply"] = False
            reply.deleteLater()
            if not pending["job"]:
                return
            ok = reply.error() == QNetworkReply.NetworkError.NoError
            data = bytes(reply.readAll().data()) if ok else b""
            if ok and data:
                online.cache.put(online.source.key, *zxy, data)
                self._reply(job, _sniff(data), data)
            elif stale is not None:
                self._reply(job, _sniff(stale), stale)
            else:
                log.debug("tile %s: %s", zxy, reply.errorString())
                job.fail(QWebEngineUrlRequestJob.Error.RequestFailed)

        reply.finished.connect(done)

    def _reply(self, job: QWebEngineUrlRequestJob, mime: bytes, data: bytes) -> None:
        buffer = QBuffer(job)
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        job.reply(QByteArray(mime), buffer)
        self.served += 1


def _safe_file(root: Path, parts: list[str]) -> Path | None:
    """``root/parts`` if it is an existing file inside ``root`` (no ``..`` escapes)."""
    path = root.joinpath(*parts).resolve()
    if not path.is_file() or not path.is_relative_to(root.resolve()):
        return None
    return path


def _zxy(parts: list[str]) -> tuple[int, int, int] | None:
    try:
        z, x, y = (int(p.split(".")[0]) for p in parts)
    except ValueError:
        return None
    if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
        return None
    return z, x, y


def _sniff(data: bytes) -> bytes:
    if data.startswith(b"\x89PNG"):
        return b"image/png"
    if data.startswith(b"\xff\xd8"):
        return b"image/jpeg"
    if data[8:12] == b"WEBP":
        return b"image/webp"
    return b"application/octet-stream"
