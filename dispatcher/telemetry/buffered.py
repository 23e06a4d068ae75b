"""A paho client that reads its socket through a buffer instead of byte by byte.

paho-mqtt 2.x reads every incoming packet with three or four ``recv`` calls (the command
byte, each byte of the remaining length, then the body). Each call is a system call that
releases and re-takes the GIL; in a console whose GUI thread and database writer want the
GIL too, every one of those hand-overs can cost the network thread a switch interval. Reading
up to :data:`READ_SIZE` bytes at a time and serving paho's small reads from memory cuts that
to about one system call per few hundred positions (``bench/ingest.py`` has the figures).

Two paho internals are involved, both stable across 2.x (the dependency is pinned below 3):
``_sock_recv`` (the one place paho reads the socket) and ``_create_socket`` (where a new
connection starts, so the buffer never mixes bytes of two connections). ``loop_read`` keeps
parsing while bytes are buffered, because ``select`` only reports data still in the kernel.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

READ_SIZE = 65_536
"""Bytes asked of the kernel per read: a few hundred position messages."""


class BufferedClient(mqtt.Client):
    """``paho.mqtt.client.Client`` with buffered socket reads; otherwise unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            data = super()._sock_recv(READ_SIZE)  # raises what paho expects (BlockingIOError…)
            if len(data) <= bufsize:  # b"" (closed) or a read that fits: no buffering needed
                return data
            self._rbuf, buf, pos = data, data, 0
        end = pos + bufsize
        self._rpos = end
        return buf[pos:end]

    def buffered_bytes(self) -> int:
        """Bytes read from the socket that paho has not consumed yet."""
        return max(0, len(self._rbuf) - self._rpos)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        ok = MQTTErrorCode.MQTT_ERR_SUCCESS
        rc = super().loop_read(max_packets)
        while rc == ok and self._sock is not None and self.buffered_bytes():
            rc = super().loop_read(max_packets)
        return rc

    def _create_socket(self) -> Any:
        self._rbuf, self._rpos = b"", 0
        return super()._create_socket()
