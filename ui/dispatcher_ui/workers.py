"""The one way to run work off the GUI thread: a QRunnable whose result comes back by signal.

Database batches, imports, solver runs and network sends go through :func:`run_in_background`
so the GUI thread never waits on them; the callbacks run on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from dispatcher.errors import DispatcherError

log = logging.getLogger(__name__)


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.fn = fn
        self.signals = _Signals()
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn()
        except DispatcherError as exc:  # the core's refusal: the callback says it in words
            log.debug("background job refused: %s", exc)
            self._emit(self.signals.failed, exc)
        except Exception as exc:  # a bug: the callback still runs, and the log says where
            log.exception("background job %r failed", self.fn)
            self._emit(self.signals.failed, exc)
        else:
            self._emit(self.signals.done, result)

    def _emit(self, signal: Any, value: object) -> None:
        """Deliver ``value``, unless the application is already gone.

        A job that outlived :func:`drain`'s wait at close (a 500-vehicle day's first KPI load
        can take longer) finds its signals' C++ side deleted with the application: PySide
        raises ``RuntimeError: Signal source has been deleted``. Nobody is left to show the
        result, so it is dropped quietly instead of ending the worker thread with a traceback.
        """
        try:
            signal.emit(value)
        except RuntimeError:
            log.debug("background job %r finished after the window closed", self.fn)


_live_jobs: set[_Signals] = set()


def run_in_background(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[Exception], None],
    pool: QThreadPool | None = None,
) -> None:
    """Run ``fn`` in the thread pool; call ``on_done(result)`` or ``on_error(exc)`` on the GUI
    thread."""
    job = _Job(fn)
    signals = job.signals
    _live_jobs.add(signals)  # keep the QObject alive until a signal has been delivered

    def finished_ok(result: Any) -> None:
        _live_jobs.discard(signals)
        on_done(result)

    def finished_err(exc: Any) -> None:
        _live_jobs.discard(signals)
        on_error(exc)

    signals.done.connect(finished_ok)
    signals.failed.connect(finished_err)
    (pool or QThreadPool.globalInstance()).start(job)


def drain(timeout_ms: int = 10_000, pool: QThreadPool | None = None) -> bool:
    """Wait up to ``timeout_ms`` for the pool's running jobs; True when none is left.

    Called before the core closes its database (``Core.before_close``): a job still holding a
    pooled connection when the engine is disposed would leave that connection to the garbage
    collector, still open. A job stuck longer (a stalled server) is logged and left behind.
    """
    target = pool or QThreadPool.globalInstance()
    if target.waitForDone(timeout_ms):
        return True
    log.warning("%d background job(s) still running at close", target.activeThreadCount())
    return False
