"""The live telemetry service: broker connection, ingest, fleet state, batched storage.

Composes the telemetry room's pieces for both front ends: the console calls :meth:`tick`
from a GUI timer, ``dispatcher serve`` from a headless loop. Optionally it owns an embedded
broker (standalone use) and the simulated fleet (the demo).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from dispatcher.broker import EmbeddedBroker
from dispatcher.clock import Clock, system_monotonic
from dispatcher.config import Settings
from dispatcher.devices.desk import DeviceDesk
from dispatcher.devices.embedded import CredentialWatcher, start_app_broker
from dispatcher.devices.registry import DeviceRegistry, RegistryFlusher
from dispatcher.devices.sink import RegistrySink
from dispatcher.events import ConsoleNote, EventBus
from dispatcher.fleet.state import FleetConfig, FleetState
from dispatcher.fleet_settings import FleetSettings
from dispatcher.history.settings import HistorySettings
from dispatcher.history.thinning import ThinningSink
from dispatcher.model.devices import DeviceSighting, QuarantinedMessage, RegistryLimits
from dispatcher.persistence import device_profile_repo, device_repo, fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.routing.router import Router
from dispatcher.simulator.from_db import load_simulated_fleet_later
from dispatcher.simulator.roads import SimRoads
from dispatcher.simulator.runner import FleetSimulator
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import build_decoder
from dispatcher.telemetry.ingest import DrainResult, IngestPipeline, tune_switch_interval
from dispatcher.telemetry.mqtt_client import ConnectionState, MqttSettings, TelemetryClient
from dispatcher.telemetry.profile_store import load_device_profiles, profiles_from_rows
from dispatcher.telemetry.profiles import ProfileBook
from dispatcher.telemetry.settings import TelemetrySettings
from dispatcher.telemetry.sharing import shared_subscriptions
from dispatcher.telemetry.sink import BatchWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The broker connection changed (connected, refused, lost...), with paho's reason.

    Published on the core's bus from :meth:`LiveTelemetry.tick`, in the order paho reported
    the changes, so handlers run on the tick's thread like every other event; ``dispatcher
    serve`` prints them (:class:`~dispatcher.telemetry.recorder_status.BrokerStatusReporter`).
    """

    state: ConnectionState
    reason: str


def workstation_id(role: str = "console") -> str:
    """``<role>-<host>-<user>`` with only characters safe in MQTT client ids and topics."""
    import getpass
    import re
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "user"
    raw = f"{role}-{socket.gethostname()}-{user}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)[:64]


def load_bindings(db: Database, bindings: DeviceBindings) -> None:
    """Replace the live table with the database's bindings and known vehicle ids."""
    with db.session() as session:
        table = fleet_repo.device_bindings(session)
        vehicles = device_repo.known_vehicle_ids(session)
    bindings.replace(table, vehicles)


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """How one process appears on the broker: its id and whether its session persists."""

    console_id: str
    persistent: bool


def client_identity(role: str, instance: str = "") -> ClientIdentity:
    """The recorder: ``serve-<host>-<user>``, a persistent session (the broker queues the QoS 1
    events while it restarts); ``serve-<host>-<user>-<instance>`` when several recorders run
    under one account on one host (``[recorder] instance``), each with a session of its own.
    A console: ``console-<host>-<user>-<pid>-<random>``, a clean
    session. Two consoles under one account on one host used to share ``console-<host>-<user>``
    and knock each other off the broker (28 times each in 58 s, each hearing half the fixes);
    a console stores nothing for the broker to queue, so it needs no session to resume.
    """
    import os
    import uuid

    base = workstation_id(role)
    if role == "serve":
        return ClientIdentity(f"{base[:48]}-{instance}" if instance else base, persistent=True)
    return ClientIdentity(f"{base[:48]}-{os.getpid()}-{uuid.uuid4().hex[:4]}", persistent=False)


class BindingsRefresher:
    """Reloads the device-binding table from the database in its own thread.

    A dispatcher binds a phone on another workstation (or ``dispatcher simulate`` binds its
    phones) while this console runs: the table is reloaded every ``interval_s`` seconds, at
    once when that workstation's sync note (``entity`` ``binding`` or ``vehicle``) arrives,
    and when an unbound device speaks (at most every ``min_gap_s``), so its next message is
    accepted. Neither the paho thread nor the GUI thread ever waits on the database.
    """

    def __init__(
        self,
        db: Database,
        bindings: DeviceBindings,
        *,
        interval_s: float = 15.0,
        min_gap_s: float = 2.0,
        profiles: ProfileBook | None = None,
    ) -> None:
        self._db = db
        self._bindings = bindings
        self._profiles = profiles
        self._interval = interval_s
        self._min_gap = min_gap_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bindings-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request(self, _key: str = "") -> None:
        """Ask for a reload soon (called from the paho thread on an unknown device)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                load_bindings(self._db, self._bindings)
                if self._profiles is not None:
                    with self._db.session() as session:
                        rows = device_profile_repo.device_profiles(session)
                    self._profiles.replace(profiles_from_rows(rows))
            except Exception as exc:  # the database may be briefly unreachable: try again later
                log.warning("could not reload device bindings: %s", exc)
            self._stop.wait(self._min_gap)


@dataclass(frozen=True, slots=True)
class LiveStats:
    """What the status bar shows about the live feed."""

    state: ConnectionState
    reason: str
    broker_url: str
    messages_per_s: float
    received: int
    rejected: int
    vehicles: int
    #: Set while the broker keeps dropping us (e.g. another program with our client id).
    warning: str = ""


def _drop_registry_batch(_sightings: object, _messages: object) -> None:
    """The registry's flush in a process that does not record (see :class:`LiveTelemetry`)."""


class LiveTelemetry:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        bus: EventBus,
        clock: Clock,
        *,
        console_id: str = "console",
        persistent: bool = True,
        record: bool = True,
        share_group: str = "",
    ) -> None:
        """``record=False``: a console next to a recorder keeps the live view and stores
        nothing (QoS 1 events are acknowledged at once: the recorder's session has them).
        ``share_group``: a recorder that shares ingest with the others of that group
        (telemetry/sharing.py); "" hears everything itself."""
        self._settings = settings
        self._db = db
        self._clock = clock
        self.broker: EmbeddedBroker | None = None
        self._watcher: CredentialWatcher | None = None
        #: Password of this process's broker user on the embedded broker (never configured:
        #: generated, see dispatcher/devices/embedded.py); None means env/keyring as usual.
        self.client_password: str | None = None
        self.simulator: FleetSimulator | None = None
        self._sim_client: TelemetryClient | None = None
        telemetry = TelemetrySettings.from_settings(settings)
        self.bindings = DeviceBindings(
            clock=clock, on_unknown=self._unknown_device, max_unknown=telemetry.limits.max_unknown
        )
        load_bindings(db, self.bindings)
        #: Per-device profiles (battery/speed units); the bind step sets them.
        self.profiles = ProfileBook(telemetry.profiles, load_device_profiles(db))
        self._refresher = BindingsRefresher(db, self.bindings, profiles=self.profiles)
        #: Unknown devices, quarantine and health per device (docs/mqtt.md), flushed in batches.
        self.registry = DeviceRegistry(telemetry.limits)
        limits = telemetry.limits
        # A console next to a recorder hears the same messages as the recorder, which stores
        # the sightings: its own flushes added each device's messages again (the count grew
        # by one per console) and stored each rejected payload once more, and at 500
        # vehicles they were a tenth of that console's Python time (bench/console.py).
        # It keeps its registry in memory and drops the batches.
        self._registry_flusher = RegistryFlusher(
            self.registry,
            (lambda sightings, messages: self._flush_registry(sightings, messages, limits))
            if record
            else _drop_registry_batch,
        )
        self.decoder = build_decoder(
            prefix=settings.broker.prefix,
            bindings=self.bindings,
            clock=clock,
            telemetry=telemetry,
            profiles=self.profiles,
            registry=self.registry,
        )
        self.fleet = FleetState(FleetConfig(evict_after_s=telemetry.evict_after_s))
        #: Positions are thinned on the writer thread before they reach SQL (docs/history.md).
        sql = SqlTelemetrySink(db)
        self.thinning = ThinningSink(sql, HistorySettings.from_settings(settings).thinning)
        self.sink = RegistrySink(
            self.thinning,
            self.registry,
            clock,
            evictables=(self.thinning, sql),
            evict_after_s=telemetry.evict_after_s,
        )
        #: Records the database refuses are kept with the rejected messages (docs/history.md).
        self.writer: BatchWriter | None = None
        if record:
            self.writer = BatchWriter(self.sink, quarantine=self.decoder.quarantine, clock=clock)
        self.pipeline = IngestPipeline(self.decoder, self.fleet, bus, clock, writer=self.writer)
        self.client: TelemetryClient | None = None
        self._console_id = console_id
        self._persistent = persistent
        self.share_group = share_group
        self._state = ConnectionState.STOPPED
        self._reason = "not started"
        #: Whether the broker ever accepted this connection (set on paho's thread, read at
        #: exit: a stop that comes before the next tick must not lose the fact).
        self.ever_connected = False
        #: Other warnings for the status bar (e.g. no recorder heard: dispatcher/site.py).
        self.warnings: list[Callable[[], str]] = []
        self._rate: deque[tuple[float, int]] = deque(maxlen=25)
        self._lock = threading.Lock()
        self._bus = bus
        #: Connection changes heard on paho's thread, published at the next tick (bounded:
        #: a process that never ticks must not grow it while paho retries for days).
        self._changes: deque[ConnectionChanged] = deque(maxlen=256)
        self._unsubscribe = bus.subscribe(ConsoleNote, self._on_note)

    def device_desk(self) -> DeviceDesk:
        """A desk whose binds take effect in this process at once and are announced."""
        client = self.client
        return DeviceDesk(
            self._db,
            bindings=self.bindings,
            registry=self.registry,
            announce=None if client is None else client.publish_sync,
            profiles=self.profiles,
        )

    def _flush_registry(
        self,
        sightings: list[DeviceSighting],
        messages: list[QuarantinedMessage],
        limits: RegistryLimits,
    ) -> None:
        with self._db.session() as session:
            device_repo.flush(session, sightings, messages, limits)

    def _on_note(self, note: ConsoleNote) -> None:
        """Another workstation bound a device or changed a vehicle: reload the table now."""
        if note.entity in ("binding", "vehicle"):
            self._refresher.request(note.id)

    def start(self, *, embedded_broker: bool = False, broker_user: str = "console") -> None:
        """Start the writer, the broker (if embedded) and the MQTT connection (non-blocking).

        The embedded broker always authenticates: this process logs in as ``broker_user``
        (``console``, or ``recorder`` for ``dispatcher serve``) with its generated password.
        """
        tune_switch_interval()
        if self.writer is not None:
            self.writer.start()
        self._refresher.start()
        self._registry_flusher.start()
        b = self._settings.broker
        url, username = b.url, b.username or None
        if embedded_broker:
            app = start_app_broker(b, self._db, user=broker_user)
            self.broker = app.broker
            url, username, self.client_password = self.broker.url, app.username, app.password
            if app.username is not None:
                self._watcher = CredentialWatcher(app, self._db)
                self._watcher.start()
            log.info("embedded %s broker on %s", self.broker.backend, url)
        self.client = TelemetryClient(
            MqttSettings(
                url=url,
                console_id=self._console_id,
                client_id=b.client_id,
                clean_session=not self._persistent,
                username=username,
                password_env=b.password_env,
                ca_file=b.ca_file or None,
                cert_file=b.cert_file or None,
                key_file=b.key_file or None,
                keepalive_s=b.keepalive,
                prefix=b.prefix,
            ),
            self.pipeline.on_message,
            subscriptions=self.subscriptions(),
            on_state=self._state_changed,
            password=self.client_password,
        )
        self.client.start()

    def subscriptions(self) -> list[tuple[str, int]]:
        """What the adapters need, as a member of the shared group when there is one."""
        subs = self.decoder.subscriptions()
        if not self.share_group:
            return subs
        return shared_subscriptions(subs, self.share_group, self._settings.broker.prefix)

    def start_simulator(self, seed: int, router: Router | None = None) -> int:
        """Drive the day's routes over MQTT (demo); returns the number of vehicles driven.

        With ``router`` on a road engine the vans drive its roads (their legs are fetched on
        the simulator's thread before its first step, not here on the console's)."""
        assert self.client is not None, "start() first"
        # Trouble right after the start, so a demo shows every kind of exception early.
        zone = FleetSettings.from_settings(self._settings).timezone
        roads = SimRoads.of(router)
        vehicles, scripts = load_simulated_fleet_later(
            self._db, seed, zone, self._clock.now(), roads
        )
        load_bindings(self._db, self.bindings)
        sim_client = TelemetryClient(
            dataclasses.replace(
                self.client.settings,
                console_id=f"{self._console_id}-sim",
                client_id="",
                clean_session=True,
            ),
            lambda *_: None,
            password=self.client_password,
        )
        sim_client.start()
        self._sim_client = sim_client
        console = self.client

        def ready(timeout: float) -> bool:  # both ends connected, the console subscribed
            return sim_client.wait_connected(timeout) and console.wait_connected(timeout)

        self.simulator = FleetSimulator(
            vehicles,
            {} if roads else scripts(),
            sim_client.publish,
            self._clock,
            prefix=self._settings.broker.prefix,
            ready=ready,
            prepare=scripts if roads else None,
        )
        self.simulator.start()
        return len(vehicles)

    def tick(self) -> DrainResult:
        """Apply what arrived since the last tick (GUI timer or headless loop)."""
        result = self.pipeline.drain()
        with self._lock:
            self._rate.append((system_monotonic(), self.pipeline.stats.received))
        self._announce_changes()
        return result

    def _announce_changes(self) -> None:
        changes = self._changes
        for _ in range(len(changes)):  # popleft is atomic; paho may append meanwhile
            self._bus.publish(changes.popleft())

    def stats(self) -> LiveStats:
        with self._lock:
            rate = 0.0
            if len(self._rate) >= 2:
                (t0, n0), (t1, n1) = self._rate[0], self._rate[-1]
                rate = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
        s = self.pipeline.stats
        url = self.client.settings.url if self.client else self._settings.broker.url
        return LiveStats(
            self._state,
            self._reason,
            url,
            rate,
            s.received,
            s.rejected,
            len(self.fleet.vehicle_ids()),
            self._warning(),
        )

    def _warning(self) -> str:
        texts = [self.client.flapping if self.client else "", *(w() for w in self.warnings)]
        return "; ".join(t for t in texts if t)

    def _unknown_device(self, key: str) -> None:
        # Set in __init__ before the refresher exists; messages only flow after start().
        refresher = getattr(self, "_refresher", None)
        if refresher is not None:
            refresher.request(key)

    def _state_changed(self, state: ConnectionState, reason: str) -> None:
        """Remember the connection state for :meth:`stats` and queue a :class:`ConnectionChanged`.

        Runs on paho's thread, so the event waits for the next tick: the bus's handlers run on
        the tick's thread (dispatcher/events.py). This replaced a listener list of its own.
        """
        self._state, self._reason = state, reason
        if state is ConnectionState.CONNECTED:
            self.ever_connected = True
        self._changes.append(ConnectionChanged(state, reason))

    def stop(self) -> None:
        """Stop everything in reverse order; queued telemetry is flushed to the database."""
        if self.simulator:
            self.simulator.stop()
        if self._sim_client:
            self._sim_client.stop()
        if self.client:
            self.client.stop()
        self.pipeline.drain()
        if self.writer is not None:
            self.writer.stop()
        self._refresher.stop()
        if self._watcher:
            self._watcher.stop()
        self._registry_flusher.stop()
        self._unsubscribe()
        if self.broker:
            self.broker.stop()
