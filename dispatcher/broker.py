"""An MQTT broker owned by the app, for standalone use (one laptop, phones on the LAN).

Mosquitto is preferred when installed. The app's broker (``dispatcher/devices/embedded.py``)
hands it a password file and an ACL generated from the device credentials in the database
(one user per device, each confined to its own topics) and, for phones on the LAN, a TLS
listener; :meth:`EmbeddedBroker.reload` makes a running Mosquitto read them again (SIGHUP).
Given plain ``users`` instead (tests, benchmarks), the password file is hashed with
``mosquitto_passwd -U`` (no password on a command line) and the ACL confines each device user
to ``<prefix>/vehicles/<user>/#`` and ``owntracks/<user>/#``.

Without users or auth files the broker is anonymous, which is refused on anything but
loopback. amqtt (pure Python, in a background thread) is the fallback when Mosquitto is not
installed: anonymous, so loopback only, and never with credentials or TLS.

The broker stops with the app (context manager, or :meth:`EmbeddedBroker.stop`).
"""

from __future__ import annotations

import asyncio
import getpass
import ipaddress
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from dispatcher.clock import system_monotonic
from dispatcher.errors import ConfigError, DispatcherError
from dispatcher.extras import require

log = logging.getLogger(__name__)

Backend = Literal["auto", "mosquitto", "amqtt"]
_MOSQUITTO_PATHS = (
    "/usr/sbin/mosquitto",
    "/usr/local/sbin/mosquitto",
    "/opt/homebrew/sbin/mosquitto",
)


_ANONYMOUS_PLUGIN = "amqtt.plugins.authentication.AnonymousAuthPlugin"


class BrokerError(DispatcherError):
    """The embedded broker could not be started."""


@dataclass(frozen=True, slots=True)
class BrokerAuth:
    """Ready-made Mosquitto password file (``user:$7$...``) and ACL file."""

    password_file: Path
    acl_file: Path


@dataclass(frozen=True, slots=True)
class TlsListener:
    """A second listener with TLS (phones on the LAN), next to the plain loopback one."""

    host: str
    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path


def is_loopback(host: str) -> bool:
    """True for ``127.x``, ``::1`` and ``localhost``: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def find_mosquitto() -> str | None:
    """Path of the mosquitto executable, or ``None``."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in _MOSQUITTO_PATHS if os.access(p, os.X_OK)), None)


#: Ports :meth:`EmbeddedBroker.start` tries when it picks them itself and one is taken.
PORT_ATTEMPTS = 3


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 5.0) -> bool:
    """True as soon as something accepts TCP connections on ``host:port``."""
    deadline = system_monotonic() + timeout
    while system_monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class EmbeddedBroker:
    """Start/stop an MQTT broker on ``host:port`` (``port=0`` picks a free one).

    Args:
        host: listen address; loopback by default, ``0.0.0.0`` to let phones on the LAN in.
        port: TCP port, 0 for any free port (kept across :meth:`start` after :meth:`kill`).
        users: username → password of devices and consoles; without users (or ``auth``)
            the broker is anonymous, which is refused on anything but loopback.
        console_users: users allowed everywhere (the consoles); others are device users.
        prefix: the native fleet prefix, for the device ACL.
        prefer: ``"auto"`` (Mosquitto if installed, else amqtt), ``"mosquitto"`` or ``"amqtt"``.
        persistence_dir: Mosquitto persistence (sessions, retained and queued messages survive
            a restart); ``None`` keeps everything in memory.
        extra_config: raw Mosquitto configuration lines (tuning, e.g. in the benchmark).
        auth: generated password and ACL files (the app's broker); replaces ``users``.
        tls: an extra TLS listener (needs ``users`` or ``auth``).
        workdir: where configuration, log and pid file go; default a private temporary
            directory removed on stop.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: Mapping[str, str] | None = None,
        console_users: Sequence[str] = (),
        prefix: str = "fleet",
        prefer: Backend = "auto",
        persistence_dir: Path | None = None,
        extra_config: Sequence[str] = (),
        auth: BrokerAuth | None = None,
        tls: TlsListener | None = None,
        workdir: Path | None = None,
    ) -> None:
        if not users and auth is None and (tls is not None or not is_loopback(host or "0.0.0.0")):
            raise ConfigError(
                f"an MQTT broker without users may only listen on loopback, not {host or '*'}"
            )
        self.host = host
        self.port = port
        self._users = dict(users or {})
        self._consoles = tuple(console_users)
        self._prefix = prefix
        self._prefer = prefer
        self._persistence = persistence_dir
        self._extra = tuple(extra_config)
        self._auth = auth
        self._tls = tls
        self._workdir = workdir
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._amqtt: _AmqttThread | None = None
        self.backend: str | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the running broker."""
        return f"mqtt://{_dial(self.host)}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the broker process/thread is alive."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self._amqtt is not None and self._amqtt.is_alive()

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return self
        picked = self.port == 0
        if picked:
            self.port = free_port(self.host or "127.0.0.1")
        mosquitto = find_mosquitto()
        if self._prefer == "mosquitto" and mosquitto is None:
            raise BrokerError("mosquitto is not installed")
        if mosquitto is not None and self._prefer != "amqtt":
            for attempt in range(PORT_ATTEMPTS):
                try:
                    self._start_mosquitto(mosquitto)
                    break
                except BrokerError as exc:
                    # A port the OS called free can be taken before mosquitto binds it (an
                    # outgoing connection's ephemeral port): one we picked, we pick again.
                    taken = "Address already in use" in str(exc)
                    if not (picked and taken) or attempt == PORT_ATTEMPTS - 1:
                        raise
                    log.info("port %s was taken meanwhile; trying another", self.port)
                    self.port = free_port(self.host or "127.0.0.1")
        else:
            if self._users or self._auth is not None or self._tls is not None:
                raise ConfigError(
                    "per-device credentials and TLS need Mosquitto; please install it"
                )
            require("amqtt", "broker", "The embedded broker without Mosquitto")
            self._amqtt = _AmqttThread(self.host, self.port)
            self._amqtt.start_and_wait()
            self.backend = "amqtt"
        return self

    def stop(self) -> None:
        """Stop the broker (gracefully, then forcefully) and remove its temporary files."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
            self._reap()
            if self.pid_file is not None:
                self.pid_file.unlink(missing_ok=True)
        if self._amqtt is not None:
            self._amqtt.stop()
            self._amqtt = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def reload(self) -> bool:
        """Make Mosquitto read its password file and ACL again (SIGHUP); False if not running.

        Mosquitto re-checks the connected clients against the new files, so a revoked
        device is disconnected, and refused when it tries again.
        """
        if self._proc is None or self._proc.poll() is not None:
            return False
        self._proc.send_signal(signal.SIGHUP)
        return True

    @property
    def pid_file(self) -> Path | None:
        """Where Mosquitto writes its process id (another process reloads it through this)."""
        return None if self._workdir is None else self._workdir / "mosquitto.pid"

    def kill(self) -> None:
        """Crash the broker (SIGKILL, no goodbye): for tests of reconnection."""
        if self._proc is None:
            raise BrokerError("only a Mosquitto broker can be killed")
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(5)
        self._reap()

    def _reap(self) -> None:
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()
        self._proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- mosquitto ------------------------------------------------------------------------
    def _start_mosquitto(self, exe: str) -> None:
        if self._workdir is not None:
            work = self._workdir
            work.mkdir(parents=True, exist_ok=True, mode=0o700)
        else:
            if self._dir is None:
                self._dir = tempfile.TemporaryDirectory(prefix="dispatcher-broker-")
            work = Path(self._dir.name)
        conf = work / "mosquitto.conf"
        conf.write_text("\n".join(self._config_lines(work)) + "\n", encoding="utf-8")
        log_file = work / "mosquitto.log"
        self._proc = subprocess.Popen(
            [exe, "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        ports = [(self.host or "127.0.0.1", self.port)]
        if self._tls is not None:
            ports.append((_dial(self._tls.host), self._tls.port))
        up = all(wait_for_port(h, p) for h, p in ports)
        if not up or self._proc.poll() is not None:
            detail = _tail(log_file) or self._stderr()
            self.stop()
            raise BrokerError(f"mosquitto did not start on {self.host}:{self.port}: {detail}")
        self.backend = "mosquitto"
        log.info("embedded mosquitto listening on %s", self.url)

    def _config_lines(self, work: Path) -> list[str]:
        lines = [
            f"listener {self.port} {self.host}",
            f"user {getpass.getuser()}",
            f"log_dest file {work / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.pid_file is not None:
            lines.append(f"pid_file {self.pid_file}")
        if self._tls is not None:
            t = self._tls
            lines += [
                f"listener {t.port} {t.host}",
                f"cafile {t.ca_file}",
                f"certfile {t.cert_file}",
                f"keyfile {t.key_file}",
                "tls_version tlsv1.2",
            ]
        if self._auth is not None:
            lines += [
                "allow_anonymous false",
                f"password_file {self._auth.password_file}",
                f"acl_file {self._auth.acl_file}",
            ]
        elif self._users:
            _write_passwords(work / "passwd", self._users)
            (work / "acl").write_text(self._acl(), encoding="utf-8")
            lines += [
                "allow_anonymous false",
                f"password_file {work / 'passwd'}",
                f"acl_file {work / 'acl'}",
            ]
        else:
            lines.append("allow_anonymous true")
        if self._persistence is not None:
            self._persistence.mkdir(parents=True, exist_ok=True)
            lines += [
                "persistence true",
                f"persistence_location {self._persistence}/",
                "autosave_on_changes true",
                "autosave_interval 1",
            ]
        return lines + list(self._extra)

    def _acl(self) -> str:
        """Consoles read and write everything; a device only its own subtrees."""
        lines = [
            f"pattern readwrite {self._prefix}/vehicles/%u/#",
            "pattern readwrite owntracks/%u/#",
            "",
        ]
        for console in self._consoles:
            lines += [f"user {console}", "topic readwrite #", ""]
        return "\n".join(lines)

    def _stderr(self) -> str:
        if self._proc is None or self._proc.stderr is None or self._proc.poll() is None:
            return ""
        return self._proc.stderr.read().decode("utf-8", "replace")[-500:]


def _write_passwords(path: Path, users: Mapping[str, str]) -> None:
    """Write ``user:password`` lines, then hash them in place with ``mosquitto_passwd -U``."""
    for name, password in users.items():
        if ":" in name or "\n" in name or "\n" in password:
            raise ConfigError(f"MQTT user name {name!r} or its password has a forbidden character")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(f"{name}:{password}\n" for name, password in users.items())
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    done = subprocess.run([tool, "-U", str(path)], capture_output=True, check=False, timeout=30)
    if done.returncode != 0:
        raise BrokerError(f"mosquitto_passwd failed: {done.stderr.decode(errors='replace')}")


def _dial(host: str) -> str:
    """The address to test a listener on: a wildcard listener is reached on loopback."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def _tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-500:]
    except OSError:
        return ""


class _AmqttThread(threading.Thread):
    """amqtt's asyncio broker in a daemon thread with its own event loop."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(name="embedded-amqtt", daemon=True)
        self._host = host
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    def start_and_wait(self, timeout: float = 10.0) -> None:
        self.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise BrokerError(f"amqtt did not start: {self._error!r}")

    def run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        from amqtt.broker import Broker

        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self._host}:{self._port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._stopped = asyncio.Event()
        try:
            broker = Broker(config)
            await broker.start()
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        await broker.shutdown()

    def stop(self, timeout: float = 10.0) -> None:
        stopped = self._stopped
        if stopped is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(stopped.set)
        self.join(timeout)
