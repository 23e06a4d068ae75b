"""The app's own broker: never open, and reachable by phones over TLS when configured.

Everything lives in ``<user data dir>/broker`` (mode 0700): the passwords of the two system
users (``console`` for workstations, ``recorder`` for ``dispatcher serve``) in
``secrets.json`` (0600), the CA and server certificate (``pki.py``), and the password file and
ACL generated from the device credentials in the database (``access.py``). Mosquitto always
runs with ``allow_anonymous false`` and that ACL, on a plain loopback listener for this
machine's own clients, plus ``[broker] listen`` with TLS for phones.

A credential change is applied by whoever makes it (``devices`` commands, the console's
phone dialog: :meth:`BrokerHome.sync` rewrites the files and sends SIGHUP to the Mosquitto
named by the pid file) and, for changes made on another workstation, by the broker's owner,
which checks the database every ``interval_s`` (:class:`CredentialWatcher`).

amqtt cannot read Mosquitto's password hashes nor reload an ACL, so without Mosquitto the
broker is anonymous and loopback-only, says so in the log, and refuses ``listen``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dispatcher.broker import BrokerAuth, EmbeddedBroker, TlsListener, find_mosquitto, is_loopback
from dispatcher.config import BrokerSettings, user_data_dir
from dispatcher.devices.access import (
    SYSTEM_USERS,
    BrokerUser,
    acl_file,
    hash_secret,
    new_secret,
    password_file,
)
from dispatcher.devices.pki import TlsFiles, ensure_server_cert, local_names, write_private
from dispatcher.errors import ConfigError
from dispatcher.persistence import credentials_repo
from dispatcher.persistence.database import Database

log = logging.getLogger(__name__)

#: Seconds between the two reload signals (longer than Mosquitto takes to reload).
RELOAD_SETTLE_S = 0.5
#: Above this size the broker's log is moved aside when the broker starts.
LOG_MAX_BYTES = 5_000_000


def parse_listen(value: str) -> tuple[str, int]:
    """``"0.0.0.0:8883"`` → (host, port); ``"[::]:8883"`` for IPv6."""
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"[broker] listen = {value!r}: expected HOST:PORT, e.g. 0.0.0.0:8883")
    return host, int(port)


class BrokerHome:
    """The embedded broker's directory: system secrets, TLS material, auth files, pid file."""

    def __init__(self, directory: Path | None = None, *, prefix: str = "fleet") -> None:
        self.dir = directory or user_data_dir() / "broker"
        self.prefix = prefix

    @property
    def passwd(self) -> Path:
        return self.dir / "passwd"

    @property
    def acl(self) -> Path:
        return self.dir / "acl"

    @property
    def pid_file(self) -> Path:
        return self.dir / "mosquitto.pid"

    def _ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)

    def system_secret(self, user: str) -> str:
        """The password of ``console`` or ``recorder``, generated on first use."""
        return self._system()[user]["password"]

    def _system(self) -> dict[str, dict[str, str]]:
        self._ensure_dir()
        path = self.dir / "secrets.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        if not all(isinstance(data.get(u), dict) and data[u].get("hash") for u in SYSTEM_USERS):
            for user in SYSTEM_USERS:
                entry = data.get(user)
                if not isinstance(entry, dict) or not entry.get("password"):
                    secret = new_secret()
                    data[user] = {"password": secret, "hash": hash_secret(secret)}
                elif not entry.get("hash"):
                    entry["hash"] = hash_secret(entry["password"])
            write_private(path, json.dumps(data, indent=2).encode())
        return {u: data[u] for u in SYSTEM_USERS}

    def users(self, db: Database) -> list[BrokerUser]:
        """System users, then one user per live device credential."""
        users = [BrokerUser(u, v["hash"]) for u, v in self._system().items()]
        with db.session() as session:
            creds = credentials_repo.live_credentials(session)
        return users + [BrokerUser(c.username, c.secret_hash, c.device_key) for c in creds]

    def write_auth(self, db: Database) -> bool:
        """(Re)write the password file and ACL from the database; True if they changed."""
        users = self.users(db)
        changed = False
        for path, text in (
            (self.passwd, password_file(users)),
            (self.acl, acl_file(users, self.prefix)),
        ):
            data = text.encode()
            try:
                same = path.read_bytes() == data
            except OSError:
                same = False
            if not same:
                write_private(path, data)
                changed = True
        return changed

    def sync(self, db: Database) -> bool:
        """Apply the database's credentials to the running broker (if any); True if reloaded."""
        if not self.write_auth(db):
            return False
        return self.reload_running()

    def reload_running(self, settle_s: float = RELOAD_SETTLE_S) -> bool:
        """SIGHUP the Mosquitto of this home, if its pid file names a live one.

        Twice, ``settle_s`` apart: Mosquitto clears its reload flag only after reading the
        files, so a signal that arrives while it reloads for an earlier change is lost, and
        that reload may have read the files before this change. The second signal comes
        after any reload in progress has finished, and reads the files as they are now.
        The process is checked through ``/proc`` (Linux); elsewhere the broker's owner
        applies the change with its :class:`CredentialWatcher`.
        """
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return False
        if b"mosquitto" not in cmdline or str(self.dir).encode() not in cmdline:
            return False  # a stale pid file: that process is somebody else now
        try:
            os.kill(pid, signal.SIGHUP)
            time.sleep(settle_s)
            os.kill(pid, signal.SIGHUP)
        except OSError:
            return False
        log.info("broker %d reloaded its credentials", pid)
        return True

    def rotate_log(self, max_bytes: int = LOG_MAX_BYTES) -> None:
        """Keep one previous Mosquitto log: the directory outlives every run."""
        log_file = self.dir / "mosquitto.log"
        try:
            if log_file.stat().st_size > max_bytes:
                os.replace(log_file, self.dir / "mosquitto.log.1")
        except OSError:
            pass

    def tls(self, listen_host: str, public_host: str = "") -> TlsFiles:
        """The CA (made on first use) and a server certificate for this machine's names."""
        self._ensure_dir()
        return ensure_server_cert(self.dir, local_names([listen_host, public_host]))


@dataclass(frozen=True, slots=True)
class AppBroker:
    """The running broker, and how this process's own clients log in to it."""

    broker: EmbeddedBroker
    username: str | None
    password: str | None
    home: BrokerHome


def start_app_broker(
    settings: BrokerSettings, db: Database, *, user: str = "console", home: BrokerHome | None = None
) -> AppBroker:
    """Start the embedded broker: authenticated always, TLS on ``settings.listen`` if set."""
    home = home or BrokerHome(prefix=settings.prefix)
    if find_mosquitto() is None:
        if settings.listen:
            raise ConfigError(
                "[broker] listen needs Mosquitto (phones must log in with their own "
                "credentials, which the pure-Python fallback broker cannot check); install it"
            )
        log.warning(
            "Mosquitto is not installed: the embedded broker is amqtt, anonymous, and "
            "listens on loopback only (no phones)"
        )
        return AppBroker(EmbeddedBroker(prefer="amqtt").start(), None, None, home)
    if user not in SYSTEM_USERS:
        raise ConfigError(f"unknown broker system user {user!r}")
    home.write_auth(db)
    home.rotate_log()
    tls = None
    if settings.listen:
        host, port = parse_listen(settings.listen)
        files = home.tls(host, settings.public_host)
        tls = TlsListener(host, port, files.ca_cert, files.server_cert, files.server_key)
        if not is_loopback(host):
            log.info("embedded broker accepts devices with TLS on %s:%d", host, port)
    broker = EmbeddedBroker(
        prefix=settings.prefix,
        prefer="mosquitto",
        auth=BrokerAuth(home.passwd, home.acl),
        tls=tls,
        workdir=home.dir,
    ).start()
    return AppBroker(broker, user, home.system_secret(user), home)


class CredentialWatcher:
    """Applies credential changes made elsewhere: checks the database every ``interval_s``."""

    def __init__(self, app: AppBroker, db: Database, *, interval_s: float = 15.0) -> None:
        self._app = app
        self._db = db
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="broker-credentials", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if self._app.home.write_auth(self._db):
                    self._app.home.reload_running()
            except Exception as exc:  # the database may be briefly unreachable
                log.warning("could not refresh broker credentials: %s", exc)
