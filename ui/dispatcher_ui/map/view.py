"""The map widget: a QWebEngineView on the shared ``dmap:`` profile, plus the page bridge.

Python → page: :meth:`MapView.send` runs ONE ``DispatcherMap.apply(batch)`` per call and
measures its round trip; while a batch is in flight the next one waits (the controller keeps
accumulating), so a slow page coalesces updates instead of queueing them without end.
Page → Python: the QWebChannel object ``bridge`` (:class:`MapBridge`) turns clicks into signals.
"""

from __future__ import annotations

import atexit
import logging
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtWebChannel import QWebChannel
from PySide6.QtWebEngineCore import QWebEnginePage
from PySide6.QtWebEngineWidgets import QWebEngineView

from dispatcher.maps.jsbridge import call
from dispatcher_ui.map.page import PageOptions, page_html
from dispatcher_ui.map.web import map_profile, scheme_handler

log = logging.getLogger(__name__)


def batch_interval_ms(vehicles: int) -> float:
    """Least time between two batches for a fleet this big.

    Every batch makes the page redraw its canvas and QtWebEngine hand a new frame to the
    widget, partly on the GUI thread. Up to 1,000 vehicles every UI tick goes through; beyond,
    the interval grows with the fleet (5,000: 0.3 s, 10,000: 0.7 s, never above 1 s) and
    changes coalesce meanwhile — each vehicle is sent once with its latest position.
    """
    return min(1000.0, max(0.0, (vehicles - 1000) * 0.075))


class MapBridge(QObject):
    """The channel object ``bridge``: slot names are what the page calls; arguments are checked."""

    ready = Signal()
    vehicle_clicked = Signal(str)
    stop_clicked = Signal(int, str)
    #: Pick mode (resources/map/pick.js): where the dispatcher clicked, or that they gave up.
    position_picked = Signal(float, float)
    pick_cancelled = Signal()

    @Slot()
    def pageReady(self) -> None:
        self.ready.emit()

    @Slot(str)
    def vehicleClicked(self, vehicle_id: str) -> None:
        if isinstance(vehicle_id, str) and vehicle_id:
            self.vehicle_clicked.emit(vehicle_id[:200])

    @Slot(int, str)
    def stopClicked(self, stop_id: int, vehicle_id: str) -> None:
        if isinstance(stop_id, int):
            self.stop_clicked.emit(stop_id, str(vehicle_id or "")[:200])

    @Slot(float, float)
    def positionPicked(self, lat: float, lon: float) -> None:
        """A number each, or nothing: the range is the core's to judge (dispatcher/geo.py)."""
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            self.position_picked.emit(float(lat), float(lon))

    @Slot()
    def pickCancelled(self) -> None:
        self.pick_cancelled.emit()


_PAGES: weakref.WeakSet[MapPage] = weakref.WeakSet()


@atexit.register
def _delete_pages() -> None:
    """Delete pages still alive at exit before QtWebEngine releases its profile.

    Otherwise QtWebEngine warns "Release of profile requested but WebEnginePage still not
    deleted" and may crash on the way out (windows a test or a crash left undeleted).
    """
    for page in list(_PAGES):
        if shiboken6.isValid(page):
            shiboken6.delete(page)


class MapPage(QWebEnginePage):
    """Routes the page's console to our log; keeps the last errors for tests and bug reports."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(map_profile(), parent)
        self.errors: deque[str] = deque(maxlen=50)
        _PAGES.add(self)

    def javaScriptConsoleMessage(
        self,
        level: QWebEnginePage.JavaScriptConsoleMessageLevel,
        message: str,
        line: int,
        source: str,
    ) -> None:
        if level == QWebEnginePage.JavaScriptConsoleMessageLevel.ErrorMessageLevel:
            self.errors.append(f"{source}:{line}: {message}")
            log.warning("map page: %s (%s:%d)", message, source, line)
        else:
            log.debug("map page: %s", message)


class MapView(QWebEngineView):
    """The page, its bridge, and the batched, measured hand-over of updates."""

    #: Emitted when the page (re)loaded and its bridge is connected: send everything again.
    pageReady = Signal()
    #: Emitted when the page finished a batch (the next one may go).
    applied = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.map_page = MapPage(self)
        self.setPage(self.map_page)
        self.bridge = MapBridge(self)
        self.channel = QWebChannel(self)
        self.channel.registerObject("bridge", self.bridge)
        self.map_page.setWebChannel(self.channel)
        self.bridge.ready.connect(self._on_ready)
        self.ready = False
        self.in_flight = False
        self.sent_at = 0.0
        #: Round trips of the last batches, in milliseconds (for the benchmark and the bar).
        self.round_trips: deque[float] = deque(maxlen=2000)
        #: Time the page itself spent in each batch (the rest is transport and waiting).
        self.page_ms: deque[float] = deque(maxlen=2000)
        self.batches = 0
        self._token = uuid.uuid4().hex

    def load_page(self, options: PageOptions) -> None:
        """(Re)build the page; updates wait until its bridge says it is ready."""
        self.ready = False
        self.in_flight = False
        url = scheme_handler().add_page(self._token, page_html(options))
        self.load(QUrl(url))

    def _on_ready(self) -> None:
        self.ready = True
        self.pageReady.emit()

    def can_send(self, vehicles: int = 0) -> bool:
        """Whether a batch may go now: page ready, none in flight, and for a big fleet the
        page's frame budget respected (see :func:`batch_interval_ms`)."""
        if not self.ready or self.in_flight:
            return False
        elapsed = (time.perf_counter() - self.sent_at) * 1000.0
        return elapsed >= batch_interval_ms(vehicles)

    def send(self, batch: dict[str, Any]) -> bool:
        """Hand one batch to the page; False (not sent) while the previous one is in flight."""
        if not self.ready or self.in_flight:
            return False
        self.in_flight = True
        self.sent_at = time.perf_counter()
        self.batches += 1
        self.map_page.runJavaScript(call("DispatcherMap.apply", batch), 0, self._applied)
        return True

    def _applied(self, result: object) -> None:
        self.in_flight = False
        self.round_trips.append((time.perf_counter() - self.sent_at) * 1000.0)
        if isinstance(result, int | float):
            self.page_ms.append(float(result))
        self.applied.emit()

    def run(self, function: str, *args: Any, callback: Callable[[Any], None] | None = None) -> None:
        """Call one of the page's own functions (user actions: fit, follow)."""
        if not self.ready:
            return
        source = call(function, *args)
        if callback is None:
            self.map_page.runJavaScript(source, 0)
        else:
            self.map_page.runJavaScript(source, 0, callback)

    def closeEvent(self, event: Any) -> None:
        scheme_handler().pages.pop(self._token, None)
        super().closeEvent(event)
