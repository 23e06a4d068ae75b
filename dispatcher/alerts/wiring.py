"""Hang the exception queue's services on a :class:`~dispatcher.core.Core`.

Both front ends call :func:`add_alert_services`: the console when its window is built,
``dispatcher serve`` before its loop. With a broker, an :class:`~dispatcher.alerts.sync.AlertsSync`
on a connection of its own announces changes and holds the rules' lease (so with several
consoles and a serve, the serve raises the alerts; without a serve, one console does). Without
a broker (no live telemetry) the runner simply runs: a console alone has nobody to share with.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import uuid
from functools import partial
from typing import TYPE_CHECKING

from dispatcher.alerts.live_facts import LiveFacts
from dispatcher.alerts.runner import AlertRunner, Leadership, RunnerSettings
from dispatcher.alerts.sync import CONSOLE_PRIORITY, SERVE_PRIORITY, AlertsSync, Election
from dispatcher.persistence.alert_repo import alert_store
from dispatcher.site import RecorderWatch, warn_if_recorder_heard

if TYPE_CHECKING:
    from dispatcher.core import Core


def node_id(kind: str) -> str:
    """Unique per process, readable in a broker log: ``console-desk2-4711-3fa2``."""
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0][:20]) or "host"
    return f"{kind}-{host}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def add_alert_services(core: Core, *, serve: bool = False) -> AlertRunner:
    """Add the rule runner (and, with a broker, the sync service) to ``core``'s services."""
    settings = RunnerSettings.from_mapping(core.settings.sections.get("alerts", {}))
    settings = dataclasses.replace(settings, timezone=core.fleet.timezone)
    live = core.live
    leadership: Leadership | None = None
    if live is not None and live.client is not None:
        leadership = _start_sync(core, serve=serve)
    facts = LiveFacts(core.db, live.fleet if live is not None else None, timezone=settings.timezone)
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
