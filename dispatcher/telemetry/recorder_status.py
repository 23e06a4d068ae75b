"""What ``dispatcher serve`` says about its broker connection, and its exit code.

A recorder that cannot reach its broker used to run, receive nothing and exit 0 without a
word. Under systemd (docs/mqtt.md) the recorder should instead: say on stderr (the journal)
each time the connection changes — connected, refused, cannot reach, lost — so an operator
sees why nothing is recorded; keep retrying (paho's backoff) rather than exit, because the
broker is often started after it or restarted under it; and, when stopped, exit 1 if it never
connected at all, so ``systemctl status`` shows the unit as failed instead of a clean stop.
"""

from __future__ import annotations

import threading
from typing import TextIO

from dispatcher.telemetry.mqtt_client import ConnectionState


class BrokerStatusReporter:
    """Prints connection changes: ``serve`` calls it for each ``live.ConnectionChanged``.

    Called on the tick's thread, and once at start; a repeated (state, reason) is printed once.
    """

    def __init__(self, url: str, err: TextIO) -> None:
        self.url = url
        self.err = err
        self.ever_connected = False
        self._last: tuple[ConnectionState, str] | None = None
        self._lock = threading.Lock()

    def __call__(self, state: ConnectionState, reason: str) -> None:
        with self._lock:
            if state is ConnectionState.CONNECTED:
                self.ever_connected = True
            quiet = (ConnectionState.CONNECTING, ConnectionState.STOPPED)  # said elsewhere
            if (state, reason) == self._last or state in quiet:
                return
            self._last = (state, reason)
            print(f"dispatcher serve: broker {state.value}: {reason}", file=self.err, flush=True)

    def exit_code(self) -> int:
        """0 when the recorder was connected at some point, else 1 (with a sentence)."""
        if self.ever_connected:
            return 0
        print(
            f"dispatcher serve: never connected to the MQTT broker at {self.url}; "
            "nothing was recorded",
            file=self.err,
            flush=True,
        )
        return 1
