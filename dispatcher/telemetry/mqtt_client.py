"""The paho-mqtt adapter: the only module that talks to the broker.

Connects to ``mqtt://host:port`` or ``mqtts://host:port`` (TLS with a CA file and optional
client certificate), with a password from the environment or the OS keyring. paho runs its own
network thread; reconnection uses paho's backoff, and subscriptions are (re)made in
``on_connect`` so every reconnect resubscribes. The recorder's session is persistent (clean
session off, stable client id) so QoS 1 delivery events sent while it was away are queued by
the broker; a console's is clean, with an id of its own per instance. QoS 1 messages arrive
with ``manual_ack=True`` and are acknowledged only when the storage committed them (the ack
callable handed to ``on_message``).

Connection changes go to ``on_state`` (paho thread: marshal to the GUI yourself). A
connection dropped again and again in a short time says why it may be (another program with
our client id: the broker drops the older of two connections with one id).

While connected, a connection holds ``<prefix>/console/<console_id>/status`` = online
(retained); on a clean stop and, through the last will, on a crash, that retained message is
deleted (an empty retained publish), so the broker keeps no status of processes long gone.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.clock import system_monotonic
from dispatcher.errors import ConfigError
from dispatcher.telemetry.buffered import BufferedClient
from dispatcher.telemetry.credentials import DEFAULT_ENV, DEFAULT_SERVICE, resolve_password
from dispatcher.telemetry.topics import NativeTopics

log = logging.getLogger(__name__)

Ack = Callable[[], None]
MessageHandler = Callable[[str, bytes, Ack | None], object]


class ConnectionState(enum.StrEnum):
    """What the status bar shows."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


StateCallback = Callable[[ConnectionState, str], None]


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Connection settings (the config layer fills these; the password is never one of them).

    Attributes:
        url: ``mqtt://host[:1883]`` or ``mqtts://host[:8883]``.
        console_id: names this workstation (client id, status topic).
        client_id: explicit MQTT client id; default ``dispatcher-<console_id>`` (stable, so the
            broker keeps our session and queued QoS 1 events across restarts).
        password_env / keyring_service: where :func:`resolve_password` looks.
    """

    url: str = "mqtt://127.0.0.1:1883"
    console_id: str = "console"
    client_id: str = ""
    username: str | None = None
    password_env: str | None = DEFAULT_ENV
    keyring_service: str | None = DEFAULT_SERVICE
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive_s: int = 30
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30
    clean_session: bool = False
    prefix: str = "fleet"
    #: Hold a retained "online" at the console status topic while connected.
    status: bool = True
    #: The retained topic the broker clears if we vanish (default: the status topic).
    will_topic: str = ""


#: This many drops within ``FLAP_WINDOW_S`` make the reason say that someone shares our id.
FLAP_COUNT = 3
FLAP_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """A parsed broker URL."""

    host: str
    port: int
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://host:port`` / ``mqtts://host:port`` → address; anything else is a ConfigError."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(
            f"broker URL {url!r} must look like mqtt://host:1883 or mqtts://host:8883"
        )
    if parts.username or parts.password:
        raise ConfigError("put the MQTT user in the settings and the password in the keyring")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"broker URL {url!r} has an invalid port") from None
    tls = parts.scheme == "mqtts"
    return BrokerAddress(parts.hostname, port or (8883 if tls else 1883), tls)


class TelemetryClient:
    """One MQTT connection of the console: subscribe, hand messages on, publish to vehicles.

    Args:
        settings: where and how to connect.
        on_message: ``(topic, payload, ack)``, called on the paho thread; ``ack`` is set for
            QoS 1 messages and must be called exactly once (after the commit).
        subscriptions: ``(topic filter, qos)`` pairs, e.g. ``Decoder.subscriptions()``.
        on_state: connection state changes with a human-readable reason.
        password: overrides the env/keyring lookup (tests, a password typed at start).
    """

    def __init__(
        self,
        settings: MqttSettings,
        on_message: MessageHandler,
        *,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_state: StateCallback | None = None,
        password: str | None = None,
    ) -> None:
        self.settings = settings
        self.address = parse_broker_url(settings.url)
        self.topics = NativeTopics(settings.prefix)
        self._handler = on_message
        self._subscriptions = list(subscriptions)
        self._on_state = on_state
        self._state = ConnectionState.STOPPED
        self._connected = threading.Event()
        self._drops: deque[float] = deque(maxlen=FLAP_COUNT)
        self._client = self._make_client(password)

    @property
    def client_id(self) -> str:
        """The MQTT client id in use."""
        return self.settings.client_id or f"dispatcher-{self.settings.console_id}"

    @property
    def state(self) -> ConnectionState:
        """The current connection state."""
        return self._state

    def start(self) -> None:
        """Connect in the background (non-blocking); paho retries with backoff until stopped."""
        self._set_state(ConnectionState.CONNECTING, f"connecting to {self.settings.url}")
        self._client.connect_async(
            self.address.host, self.address.port, keepalive=self.settings.keepalive_s
        )
        self._client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        """Clear our retained status, disconnect and join the network thread."""
        if self._state is ConnectionState.STOPPED:
            return
        self._state = ConnectionState.STOPPED  # a drop from here on is ours, not a flap
        if self._connected.is_set() and self.settings.status:
            info = self._client.publish(
                self.topics.console_status(self.settings.console_id), b"", qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._set_state(ConnectionState.STOPPED, "stopped")

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed (True) or ``timeout`` (False)."""
        return self._connected.wait(timeout)

    # -- publishing -----------------------------------------------------------------------
    def publish_route(self, vehicle_id: str, route: Mapping[str, Any]) -> mqtt.MQTTMessageInfo:
        """Publish a vehicle's current stop sequence, retained, QoS 1."""
        payload = {"v": 1, "vehicle_id": vehicle_id, **route}
        return self._publish_json(self.topics.route(vehicle_id), payload, qos=1, retain=True)

    def clear_route(self, vehicle_id: str) -> mqtt.MQTTMessageInfo:
        """Remove the retained route (an empty retained message deletes it)."""
        return self._client.publish(self.topics.route(vehicle_id), b"", qos=1, retain=True)

    def publish_sync(self, change: Mapping[str, Any]) -> mqtt.MQTTMessageInfo:
        """Tell the other workstations that something changed (QoS 1)."""
        payload = {"v": 1, "console_id": self.settings.console_id, **change}
        return self._publish_json(self.topics.sync, payload, qos=1, retain=False)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish raw bytes (the simulated fleet speaks through this)."""
        self._client.publish(topic, payload, qos=qos, retain=retain)

    def _publish_json(
        self, topic: str, payload: Mapping[str, Any], *, qos: int, retain: bool
    ) -> mqtt.MQTTMessageInfo:
        data = json.dumps(payload, separators=(",", ":"), default=str).encode()
        return self._client.publish(topic, data, qos=qos, retain=retain)

    # -- paho plumbing --------------------------------------------------------------------
    def _make_client(self, password: str | None) -> mqtt.Client:
        s = self.settings
        client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=s.clean_session,
            manual_ack=True,
        )
        if s.username:
            secret = password
            if secret is None:
                secret = resolve_password(
                    s.username, env_var=s.password_env, keyring_service=s.keyring_service
                )
            client.username_pw_set(s.username, secret)
        if self.address.tls:
            client.tls_set(ca_certs=s.ca_file, certfile=s.cert_file, keyfile=s.key_file)
        will = s.will_topic or (self.topics.console_status(s.console_id) if s.status else "")
        if will:  # an empty retained will deletes what we held: nothing stale stays behind
            client.will_set(will, None, qos=1, retain=True)
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: Any,
        properties: object,
    ) -> None:
        if reason.is_failure:
            self._set_state(ConnectionState.DISCONNECTED, f"refused: {reason}")
            return
        if self._subscriptions:
            client.subscribe(self._subscriptions)  # on every (re)connect
        else:
            self._connected.set()
        if self.settings.status:
            self._publish_json(
                self.topics.console_status(self.settings.console_id),
                {"v": 1, "state": "online"},
                qos=1,
                retain=True,
            )
        resumed = " (session resumed)" if flags.session_present else ""
        self._set_state(ConnectionState.CONNECTED, f"connected to {self.settings.url}{resumed}")

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        """No TCP/TLS connection at all (nothing listening, unreachable host): paho retries
        with backoff; without this the state would say "connecting" for ever."""
        if self._state is not ConnectionState.STOPPED:
            self._set_state(
                ConnectionState.DISCONNECTED,
                f"cannot reach the broker at {self.settings.url} (retrying)",
            )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[Any],
        properties: object,
    ) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            log.warning("broker refused %d subscription(s): %s", len(refused), refused)
        self._connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: Any,
        properties: object,
    ) -> None:
        self._connected.clear()
        if self._state is not ConnectionState.STOPPED:
            self._set_state(ConnectionState.DISCONNECTED, self._drop_reason(reason))

    @property
    def flapping(self) -> str:
        """A warning while the connection was dropped ``FLAP_COUNT`` times within
        ``FLAP_WINDOW_S`` (the status bar shows it); "" otherwise."""
        drops = list(self._drops)
        if len(drops) < FLAP_COUNT or system_monotonic() - drops[0] > FLAP_WINDOW_S:
            return ""
        return (
            f"dropped {FLAP_COUNT} times in {drops[-1] - drops[0]:.0f} s: is another"
            f" program connected with client id {self.client_id!r}?"
        )

    def _drop_reason(self, reason: object) -> str:
        """``disconnected: <reason>``, and a warning when it keeps happening."""
        self._drops.append(system_monotonic())
        text = f"disconnected: {reason}"
        warning = self.flapping
        if warning:
            text += f" — {warning}"
            log.warning("MQTT %s", text)
        return text

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = msg._topic.decode("utf-8", "replace")
        ack: Ack | None = None
        if msg.qos > 0:
            mid, qos = msg.mid, msg.qos

            def ack() -> None:
                client.ack(mid, qos)

        try:
            self._handler(topic, bytes(msg.payload), ack)
        except Exception:
            # A bug downstream must not kill paho's network thread, nor stall the broker.
            log.exception("telemetry handler failed on %r", topic[:120])
            if ack is not None:
                ack()

    def _set_state(self, state: ConnectionState, reason: str) -> None:
        self._state = state
        log.info("MQTT %s: %s", state, reason)
        if self._on_state is not None:
            try:
                self._on_state(state, reason)
            except Exception:
                log.exception("connection state callback failed")
