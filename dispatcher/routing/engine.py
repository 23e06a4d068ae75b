"""An ``osrm-routed`` child serving one profile of a dataset on loopback.

The console talks to it exactly as to a remote OSRM server (its HTTP table and route
services), so one provider covers both, and a crash of the C++ engine is a failed request
(straight lines for a while), never a crashed console.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from dispatcher.clock import system_monotonic
from dispatcher.routing.tools import OsrmTools, RoutingEngineError

log = logging.getLogger(__name__)

#: Largest table the child answers; the provider asks in blocks of at most this many places.
MAX_TABLE = 1000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RoutedProcess:
    """Start with :meth:`start`, ask :attr:`url`, end with :meth:`stop` (idempotent)."""

    def __init__(self, tools: OsrmTools, base: Path, *, ready_timeout_s: float = 30.0) -> None:
        self.tools, self.base, self.ready_timeout_s = tools, base, ready_timeout_s
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Run ``osrm-routed`` on a free loopback port and wait until it answers."""
        if self.running:
            return self.url
        if not Path(f"{self.base}.properties").is_file():
            raise RoutingEngineError(f"no OSRM dataset at {self.base} (run dispatcher roads build)")
        port = _free_port()
        self._log = tempfile.TemporaryFile(prefix="osrm-routed-")  # noqa: SIM115 (lives with the child)
        cmd = [
            str(self.tools.program("osrm-routed")),
            "--algorithm=mld",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--max-table-size={MAX_TABLE}",
            "--threads=2",
            str(self.base),
        ]
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            self._close_log()
            raise RoutingEngineError(f"osrm-routed could not start: {exc}") from exc
        self.url = f"http://127.0.0.1:{port}"
        deadline = system_monotonic() + self.ready_timeout_s
        while system_monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self._tail()
                self.stop()
                raise RoutingEngineError(f"osrm-routed ended at start-up:\n{tail}")
            if self._answers():
                log.info("osrm-routed serves %s at %s", self.base, self.url)
                return self.url
            time.sleep(0.05)
        tail = self._tail()
        self.stop()
        raise RoutingEngineError(
            f"osrm-routed did not answer in {self.ready_timeout_s:.0f} s:\n{tail}"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/nearest/v1/x/0,0", timeout=1.0) as resp:
                return bool(resp.status)
        except urllib.error.HTTPError:
            return True  # it answered, with "no segment here"
        except OSError:
            return False

    def _tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return "\n".join(self._log.read().decode("utf-8", "replace").strip().splitlines()[-5:])

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
