"""Buffered socket reads: the same packets as paho's byte-by-byte reads, however bytes arrive."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.telemetry.buffered import READ_SIZE, BufferedClient


def publish_packet(topic: str, payload: bytes) -> bytes:
    """An MQTT 3.1.1 PUBLISH at QoS 0: fixed header, remaining length, topic, payload."""
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + payload
    length, n = b"", len(body)
    while True:
        byte, n = n % 128, n // 128
        length += bytes([byte | (128 if n else 0)])
        if not n:
            break
    return bytes([0x30]) + length + body


@pytest.fixture
def wired() -> Iterator[tuple[BufferedClient, socket.socket, list[tuple[str, bytes | bytearray]]]]:
    """A client reading one end of a socket pair; the test writes broker bytes to the other."""
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client = BufferedClient(CallbackAPIVersion.VERSION2, client_id="t")
    got: list[tuple[str, bytes | bytearray]] = []
    client.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    client._sock = ours
    yield client, broker, got
    client._sock = None
    ours.close()
    broker.close()


def test_one_read_delivers_every_buffered_message(wired):
    client, broker, got = wired
    sent = [(f"fleet/vehicles/V{i}/position", b'{"v":1,"i":%d}' % i) for i in range(300)]
    broker.sendall(b"".join(publish_packet(t, p) for t, p in sent))
    # paho alone parses one packet per readable socket; the buffered client drains its buffer.
    assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
    assert got == sent
    assert client.buffered_bytes() == 0


def test_large_payload_spanning_several_reads(wired):
    client, broker, got = wired
    big = bytes(range(256)) * (3 * READ_SIZE // 256)
    # The packet is larger than some kernels' socket-pair buffer: a writer thread sends it
    # while the client reads, as a broker would (a plain sendall here can block for ever).
    writer = threading.Thread(
        target=broker.sendall, args=(publish_packet("fleet/vehicles/V1/position", big),)
    )
    writer.start()
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        client.loop_read()
    writer.join(timeout=5)
    assert got == [("fleet/vehicles/V1/position", big)]


@settings(max_examples=60, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=20),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=30),
)
def test_any_split_of_the_stream_gives_the_same_messages(payloads, cuts):
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client = BufferedClient(CallbackAPIVersion.VERSION2, client_id="t")
    got: list[bytes | bytearray] = []
    client.on_message = lambda c, u, m: got.append(m.payload)
    client._sock = ours
    try:
        stream = b"".join(publish_packet("a/b", p) for p in payloads)
        pos = 0
        for cut in [*cuts, len(stream)]:  # bytes arrive in arbitrary pieces
            piece = stream[pos : pos + cut]
            pos += len(piece)
            if piece:
                broker.sendall(piece)
            client.loop_read()
        assert got == payloads
    finally:
        client._sock = None
        ours.close()
        broker.close()


def test_closed_connection_is_reported_and_buffer_reset_on_new_socket(wired):
    client, broker, _ = wired
    packet = publish_packet("a/b", b"x" * 50)
    broker.sendall(packet + packet[:10])  # one whole packet, then a fragment
    client.loop_read()
    assert client.buffered_bytes() == 0  # the fragment waits inside paho, not in our buffer
    broker.close()
    assert client._sock_recv(1) == b""  # EOF is passed through for paho to see
    client._rbuf, client._rpos = b"stale", 0
    with pytest.raises(OSError):  # nothing listens there; the buffer is reset first
        client.connect("127.0.0.1", 9, keepalive=5)
    assert client.buffered_bytes() == 0
