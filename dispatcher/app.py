"""The one place that builds a working core: for the console, ``dispatcher serve`` and tests.

:func:`build_core` opens the :class:`~dispatcher.core.Core` and adds each room's services in
one order, so both front ends run the same thing and no service installs itself on first use:

1. history retention and proof-of-delivery retention, when this process records for the
   site (dispatcher/site.py);
2. live telemetry (broker, ingest, fleet state), when asked for;
3. the alert rules, with the election between processes when there is a broker
   (:func:`add_alert_services`: a ``serve`` holds the lease before any console);
4. messaging: the composer and, when this process records, the outbox relay
   (:func:`add_messaging`).

Code that needs a service asks the core for it by type (``core.service(MessagingService)``),
which raises :class:`~dispatcher.services.ServiceMissing` on a bare core instead of building
one. A bare ``Core(settings)`` (no services) stays what tests of one room want; tests that
compose step by step call :func:`add_alert_services` and :func:`add_messaging` themselves.

The rooms below (alerts, messaging) take their parts, never a ``Core``: naming the
composition is this module's job only.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from dispatcher.alerts.live_facts import LiveFacts
from dispatcher.alerts.runner import AlertRunner, Leadership, RunnerSettings
from dispatcher.alerts.sync import CONSOLE_PRIORITY, SERVE_PRIORITY, AlertsSync, Election
from dispatcher.clock import Clock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.errors import DispatcherError
from dispatcher.history.retention import RetentionService
from dispatcher.messaging.auto import AutoNotifier, AutoSettings
from dispatcher.messaging.channels import PublishFn
from dispatcher.messaging.failures import alert_failure_sink
from dispatcher.messaging.service import MessagingService
from dispatcher.messaging.settings import MessagingSettings, build_channels, messaging_settings
from dispatcher.persistence.alert_repo import alert_store
from dispatcher.site import RecorderWatch, Role, warn_if_recorder_heard
from dispatcher.telemetry.sharing import RecorderSettings

if TYPE_CHECKING:
    from dispatcher.web.server import WebServer
    from dispatcher.web.signing import LinkSigner

log = logging.getLogger(__name__)

#: The name under which :attr:`Core.not_started` reports alert rules that could not start.
ALERT_RULES = "alert rules"
#: ... and the web front (``[web] listen`` taken by another program, say).
WEB_FRONT = "web front"


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """How to start live telemetry: a broker of the app's own, the demo's simulated fleet, and
    for a recorder, the shared-subscription group it belongs to (docs/deploy.md)."""

    embedded_broker: bool = False
    simulate_seed: int | None = None
    recorder: RecorderSettings | None = None


def build_core(
    settings: Settings,
    role: Role = "console",
    *,
    clock: Clock | None = None,
    live: LiveOptions | None = None,
    messaging: Callable[[MessagingSettings], MessagingSettings] | None = None,
    prepare: Callable[[Core], object] | None = None,
    web: str | None = None,
) -> Core:
    """The core with every service of ``role``; ``live`` None builds it without a broker.

    A console whose alert rules cannot start (a bad ``[alerts]`` table) still opens: the
    reason is kept in :attr:`Core.not_started` and the exception queue shows it. A recorder
    (``role="serve"``) has nothing to show it on and raises, as does any other failure; the
    core is closed before the error leaves. ``messaging`` adjusts the ``[messaging]`` settings
    (the demo's channels write a capture file only). ``prepare`` runs on the opened core
    before any service starts (the demo stores its day before the simulator drives it).
    ``web`` (``serve --web HOST:PORT``) serves the web front there; else ``[web] listen``
    does, for a process that records for the site (:func:`add_web`).
    """
    core = Core(settings, clock=clock, role=role)
    try:
        if prepare is not None:
            prepare(core)
        if core.site.records:  # a console next to a recorder never prunes (the recorder does)
            core.add_service(RetentionService(core.db, core.clock, core.history_settings))
            add_pod_retention(core, serve=role == "serve")
        if live is not None:
            core.start_live(
                embedded_broker=live.embedded_broker,
                simulate_seed=live.simulate_seed,
                role=role,
                recorder=live.recorder,
            )
        try:
            add_alert_services(core, serve=role == "serve")
        except DispatcherError as exc:
            if role == "serve":
                raise
            log.warning("alert rules not started: %s", exc)
            core.not_started[ALERT_RULES] = str(exc)
        add_messaging(core, configure=messaging)
        try:
            add_web(core, listen=web)
        except DispatcherError as exc:  # a port in use must not keep the console shut
            if role == "serve":
                raise
            log.warning("web front not started: %s", exc)
            core.not_started[WEB_FRONT] = str(exc)
        if role == "console":  # the boards' ETAs, for the flight recorder (docs/support.md)
            from dispatcher.support.eta_log import EtaRecorder

            core.add_service(EtaRecorder(core.db, core.bus, core.clock))
    except BaseException:
        core.close()
        raise
    return core


def add_pod_retention(core: Core, *, serve: bool) -> None:
    """Delete proof-of-delivery files past ``[driver] pod_retention_days`` (docs/driver.md).
    A bad ``[driver]`` table stops a recorder; a console opens and says why in the log."""
    from dispatcher.driver.settings import pod_retention

    try:
        service = pod_retention(core.settings, core.db, core.clock)
    except DispatcherError as exc:
        if serve:
            raise
        log.warning("POD retention not started: %s", exc)
        return
    if service is not None:
        core.add_service(service)


# -- alert rules -----------------------------------------------------------------------------


def node_id(kind: str) -> str:
    """Unique per process, readable in a broker log: ``console-desk2-4711-3fa2``."""
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0][:20]) or "host"
    return f"{kind}-{host}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def add_alert_services(core: Core, *, serve: bool = False) -> AlertRunner:
    """Add the rule runner (and, with a broker, the sync service) to ``core``'s services.

    With a broker, an :class:`~dispatcher.alerts.sync.AlertsSync` on a connection of its own
    announces changes and holds the rules' lease (so with several consoles and a serve, the
    serve raises the alerts; without a serve, one console does). Without a broker the runner
    simply runs: a console alone has nobody to share with.
    """
    settings = RunnerSettings.from_mapping(core.settings.sections.get("alerts", {}))
    settings = dataclasses.replace(settings, timezone=core.fleet.timezone)
    live = core.live
    leadership: Leadership | None = None
    if live is not None and live.client is not None:
        leadership = _start_sync(core, serve=serve)
    facts = LiveFacts(
        core.db,
        live.fleet if live is not None else None,
        timezone=settings.timezone,
        provider=core.routing.fleet(),
        router=core.routing,
    )
    runner = AlertRunner(
        core.clock,
        core.bus,
        facts,
        partial(alert_store, core.db),
        settings=settings,
        leadership=leadership,
    )
    core.add_service(runner)
    return runner


def _start_sync(core: Core, *, serve: bool) -> Election:
    from dispatcher.telemetry.mqtt_client import TelemetryClient

    live = core.live
    assert live is not None and live.client is not None
    me = node_id("serve" if serve else "console")
    election = Election(me, SERVE_PRIORITY if serve else CONSOLE_PRIORITY)
    base = live.client.settings
    sync = AlertsSync(
        core.bus,
        election,
        prefix=base.prefix,
        on_serve=lambda owner: warn_if_recorder_heard(core.site, owner),
        sweep=serve,  # the recorder deletes older versions' retained leftovers
    )
    # No status topic of its own; its last will clears its lease (a killed leader's lease
    # goes at once, and no lease of a process long gone stays retained on the broker).
    settings = dataclasses.replace(
        base,
        console_id=f"alerts-{me}",
        client_id="",
        clean_session=True,
        status=False,
        will_topic=sync.my_lease_topic,
    )
    client = TelemetryClient(
        settings,
        sync.on_message,
        subscriptions=sync.subscriptions,
        password=live.client_password,  # the embedded broker's generated one, if any
    )
    sync.attach(client.publish, client.stop)
    client.start()
    core.add_service(sync)
    if not core.site.records:  # say when nobody records for this console
        watch = RecorderWatch(election.recorder_alive)
        core.add_service(watch)
        live.warnings.append(lambda: watch.warning)
    return election


# -- messaging -------------------------------------------------------------------------------


def add_messaging(
    core: Core,
    *,
    publish: PublishFn | None = None,
    start: bool = True,
    configure: Callable[[MessagingSettings], MessagingSettings] | None = None,
) -> MessagingService:
    """Add the messaging service to ``core``, configured from ``[messaging]``.

    ``publish`` is the MQTT client's publish for driver messages (default: the live client's,
    when the core has one). A console next to a recorder composes and queues messages but
    never relays the outbox: the recorder's relay does. A bad section raises
    :class:`~dispatcher.errors.ConfigError`; a core that has messaging already refuses a second.
    """
    if core.find_service(MessagingService) is not None:
        raise DispatcherError("the core has a messaging service already")
    section = core.settings.sections.get("messaging") or {}
    settings = messaging_settings(core.settings.sections.get("messaging"))
    settings = dataclasses.replace(settings, timezone=core.fleet.timezone)
    if "region" not in section and core.fleet.region:
        settings = dataclasses.replace(settings, region=core.fleet.region)
    if configure is not None:
        settings = configure(settings)
    if publish is None and core.live is not None and core.live.client is not None:
        publish = core.live.client.publish
    channels = build_channels(settings, core.clock, publish, core.settings.broker.prefix)
    service = MessagingService(
        core.db,
        core.clock,
        core.bus,
        settings,
        channels,
        failure_sink=alert_failure_sink(core.db, core.clock),
        provider=core.routing.fleet(),
    )
    core.add_service(service)
    if start and core.site.records:  # next to a recorder, its relay sends (dispatcher/site.py)
        service.start()
    auto = AutoSettings.from_mapping(settings.auto)
    if auto.enabled and core.site.records:  # one process sends the automatic messages
        notifier = AutoNotifier(service, auto)
        core.add_service(notifier)
        if start:
            notifier.start()
    return service


# -- web front -------------------------------------------------------------------------------


def add_web(core: Core, *, listen: str | None = None) -> WebServer | None:
    """Serve the web front (dispatcher/web/) when ``listen`` or ``[web] listen`` says where.

    Only a process that records for the site serves it (a console next to a recorder leaves
    it to the recorder, whose ``serve --web`` answers the customers). The server runs in a
    thread of its own: nothing here blocks the console's GUI thread.
    """
    from dispatcher.web.context import WebContext
    from dispatcher.web.server import WebServer
    from dispatcher.web.settings import WebSettings
    from dispatcher.web.signing import LinkSigner

    settings = WebSettings.from_sections(core.settings.sections, listen=listen)
    messaging = core.find_service(MessagingService)
    signer: LinkSigner | None = None
    if settings.listen or settings.public_url:  # links in messages, even if others serve
        signer = LinkSigner(core.db)
        if messaging is not None:
            messaging.tracking_link = partial(
                _tracking_link, core, signer, settings.base_url(), settings.link_days
            )
    if not settings.listen or (listen is None and not core.site.records):
        return None
    assert signer is not None
    ctx = WebContext(
        db=core.db,
        clock=core.clock,
        settings=core.settings,
        web=settings,
        signer=signer,
        timezone=core.fleet.timezone,
        locale=core.fleet.locale,
        company=messaging.settings.company_name if messaging else "Dispatcher",
        services={"messaging": messaging, "bus": core.bus, "provider": core.routing.fleet()},
    )
    server = WebServer(
        ctx,
        settings.listen,
        workers=settings.worker_count(core.site.role),
        worker_main=serve_web_worker,
    )
    server.start()
    core.add_service(server)
    if messaging is not None and not settings.public_url:  # the port bound may be a free one
        messaging.tracking_link = partial(
            _tracking_link, core, signer, ctx.base_url, settings.link_days
        )
    return server


def serve_web_worker(
    sock: socket.socket,
    settings: Settings,
    base_url: str,
    raised: Any,
    parent: int,
    with_messaging: bool,
    ready: Any = None,
) -> None:
    """A worker process of the web front (``[web] workers``, dispatcher/web/workers.py): its
    own core (recording nothing), messaging (queueing only) and app, on ``sock``. Exceptions
    its requests raise go to ``raised`` (the serving process announces them)."""
    from dispatcher.web.app import build_app
    from dispatcher.web.context import WebContext
    from dispatcher.web.settings import WebSettings
    from dispatcher.web.signing import LinkSigner
    from dispatcher.web.track_push import warm_up
    from dispatcher.web.workers import serve_app, worker_settings

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s web worker %(message)s")
    core = Core(worker_settings(settings), role="console")
    messaging = add_messaging(core, start=False) if with_messaging else None

    class WorkerContext(WebContext):
        def note_alert(self, alert_id: int) -> None:  # to the parent's bus, via its tick
            raised.put(alert_id)

    ctx = WorkerContext(
        db=core.db,
        clock=core.clock,
        settings=core.settings,
        web=WebSettings.from_sections(settings.sections),
        signer=LinkSigner(core.db),
        timezone=core.fleet.timezone,
        company=messaging.settings.company_name if messaging else "Dispatcher",
        services={"messaging": messaging, "bus": core.bus, "provider": core.routing.fleet()},
        base_url=base_url,
    )
    app = build_app(ctx)
    warm_up(ctx)  # this process has no GUI thread: the first pages need not pay for it
    try:
        serve_app(app, sock, parent, ready)
    finally:
        for close in ctx.services.get("closers", []):
            close()
        core.close()


def _tracking_link(
    core: Core, signer: LinkSigner, base_url: str, link_days: int, stop_id: int
) -> str | None:
    from dispatcher.web.links import tracking_url

    return tracking_url(core.db, signer, base_url, stop_id, core.fleet.timezone, link_days)
