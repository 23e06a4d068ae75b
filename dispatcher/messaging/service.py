"""Messaging as a core service: the outbox relay in a worker thread, and one-click sends.

:class:`MessagingService` is added to the :class:`~dispatcher.core.Core` by
:func:`dispatcher.app.add_messaging` (from ``build_core``, for the console and ``dispatcher
serve`` alike). Its worker thread claims
due outbox rows and delivers them (never the GUI thread); :meth:`MessagingService.tick`, called
by ``Core.tick`` on the loop's own thread, only announces what the worker did on the core bus
(:class:`OutboxChanged`, and ``AlertsChanged`` when a message failed for good and became an
exception in the queue).

The command methods (:meth:`~MessagingService.message_stop`, :meth:`~MessagingService.undo`,
:meth:`~MessagingService.notify_route`) read and write the database: the UI runs them off the
GUI thread and shows the result.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.clock import Clock
from dispatcher.errors import DispatcherError
from dispatcher.eta import TravelTimeProvider
from dispatcher.events import EventBus
from dispatcher.messaging.channels import Channel
from dispatcher.messaging.compose import (
    Branding,
    MessageFacts,
    MessageRequest,
    Messenger,
    SendOutcome,
    eta_moved,
)
from dispatcher.messaging.failures import FailureSink
from dispatcher.messaging.relay import Relay
from dispatcher.messaging.settings import MessagingSettings
from dispatcher.messaging.situations import Situation
from dispatcher.messaging.stop_facts import (
    VehicleFix,
    eta_changes,
    fresh_eta,
    parse_situation,
    planned_etas,
    request_for,
    route_etas,
    situation_for,
)
from dispatcher.messaging.template_store import load_templates, save_template
from dispatcher.messaging.templates import PlainValue, TemplateLibrary, TemplateSpec
from dispatcher.model.messaging import OutboxMessage, OutboxStatus, StopContact
from dispatcher.model.users import Permission
from dispatcher.persistence import messaging_repo, web_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.outbox_repo import SqlOutboxStore
from dispatcher.persistence.users_repo import acting_user

log = logging.getLogger(__name__)

RELAY_BATCH = 20


@dataclass(frozen=True, slots=True)
class OutboxChanged:
    """Outbox rows changed (sent, retried, failed, queued, undone): views reload them."""

    message_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class StopSend:
    """What one click did for one stop: the situation chosen, the fresh ETA, the outcome."""

    contact: StopContact
    situation: Situation
    eta: datetime | None
    outcome: SendOutcome

    @property
    def message(self) -> OutboxMessage | None:
        return self.outcome.message


@dataclass(frozen=True, slots=True)
class ConversationLine:
    """One message of a stop's conversation: ``direction`` "out" (ours) or "in" (a reply);
    ``state`` is the outbox status or the reply's action (reply, opt_out, opt_in)."""

    at: datetime
    direction: str
    channel: str
    text: str
    state: str
    detail: str = ""


class MessagingService:
    """Composer, outbox relay (worker thread) and the commands the UI runs off the GUI thread."""

    name = "outbox relay"

    def __init__(
        self,
        db: Database,
        clock: Clock,
        bus: EventBus,
        settings: MessagingSettings,
        channels: Mapping[str, Channel],
        *,
        templates: TemplateLibrary | None = None,
        worker_id: str | None = None,
        failure_sink: FailureSink | None = None,
        provider: TravelTimeProvider | None = None,
    ) -> None:
        self.settings = settings
        #: Travel times of the ETAs messages quote (the core's router; straight lines if None).
        self.provider = provider
        self.db = db
        self.clock = clock
        self._bus = bus
        self.store = SqlOutboxStore(db)
        self.templates = templates or load_templates()
        self._speed = float(getattr(clock, "speed", 1.0)) or 1.0
        self.messenger = Messenger(
            self.store,
            self.templates,
            clock,
            Branding(settings.company_name, settings.company_phone),
            fleet_tz=settings.timezone,
            default_region=settings.region,
            undo_window=self.wall_to_clock(settings.undo_seconds),
        )
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"[:80]
        self._failure_sink = failure_sink
        self.relay = Relay(
            self.store,
            channels,
            clock,
            worker_id=self.worker_id,
            policy=settings.retry,
            on_failed=self._on_failed,
        )
        self._lock = threading.Lock()
        self._changed: set[int] = set()
        self._alerts: set[int] = set()
        self._version = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: ``stop id -> tracking URL`` (set by dispatcher/app.py when ``[web]`` is configured):
        #: every message about a stop offers ``{{ tracking_url }}``.
        self.tracking_link: Callable[[int], str | None] | None = None

    # -- time ------------------------------------------------------------------------------

    def wall_to_clock(self, seconds: float) -> timedelta:
        """Wall seconds as clock time: the demo clock runs faster than the person waiting."""
        return timedelta(seconds=seconds * self._speed)

    # -- the worker ------------------------------------------------------------------------

    def start(self) -> MessagingService:
        """Start the relay's worker thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
            self._thread.start()
        return self

    def kick(self) -> None:
        """Look at the outbox now (a message was queued or undone)."""
        self._wake.set()

    def run_relay_once(self) -> int:
        """One relay pass on the calling thread; returns how many rows it handled."""
        report = self.relay.run_once(RELAY_BATCH, self._stopping.is_set)
        self._note_changed([*report.sent, *report.retried, *report.failed, *report.lost_claims])
        return report.handled

    def _run(self) -> None:
        while not self._stopping.is_set():
            handled = 0
            try:
                handled = self.run_relay_once()
            except Exception:  # the database may be away for a moment: try again later
                log.exception("outbox relay pass failed")
            if handled >= RELAY_BATCH:
                continue
            self._wake.wait(self._next_wait())
            self._wake.clear()

    def _next_wait(self) -> float:
        poll = self.settings.poll_seconds
        try:
            due = self.relay.next_due_in()
        except Exception:
            log.debug("cannot read the next due outbox row", exc_info=True)
            return poll
        if due is None:
            return poll
        return max(0.05, min(poll, due.total_seconds() / self._speed + 0.05))

    def _on_failed(self, row: OutboxMessage) -> None:
        """A message failed for good: an exception in the queue (from the worker thread)."""
        self._note_changed([row.id or 0])
        if self._failure_sink is None:
            return
        alert_id = self._failure_sink(row)
        if alert_id is not None:
            with self._lock:
                self._alerts.add(alert_id)

    def _note_changed(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            self._changed.update(ids)
            self._version += 1

    @property
    def version(self) -> int:
        """Goes up whenever outbox rows change here; views compare it to know when to reload."""
        with self._lock:
            return self._version

    # -- Service ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Announce on the bus what the worker did since the last tick (the loop's thread)."""
        with self._lock:
            changed, self._changed = self._changed, set()
            alerts, self._alerts = self._alerts, set()
        if changed:
            self._bus.publish(OutboxChanged(frozenset(changed)))
        if alerts:
            from dispatcher.alerts.events import AlertsChanged

            ids = frozenset(alerts)
            self._bus.publish(AlertsChanged(alert_ids=ids, raised_ids=ids))

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    # -- commands (off the GUI thread) -----------------------------------------------------

    def load_contact(self, stop_id: int) -> StopContact:
        return messaging_repo.load_stop_contact(self.db, stop_id, self.settings.timezone)

    def message_stop(
        self,
        stop_id: int,
        situation: str | Situation | None,
        actor: str,
        fixes: Mapping[str, VehicleFix] | None = None,
    ) -> StopSend:
        """Compose and queue the message the stop calls for (see :mod:`.stop_facts`).

        A repeat (double click, a second workstation) returns the existing row. Opt-out or
        an unusable address come back in ``outcome.reason`` (the address problem is also
        kept on the customer). A missing fact raises ``TemplateError`` naming it. ``actor``
        must be a user whose role may send messages (``PermissionDenied`` otherwise).
        """
        self._check(actor)
        contact = self.load_contact(stop_id)
        now = self.clock.now()
        fix = (fixes or {}).get(contact.vehicle_id or "")
        eta = fresh_eta(contact, now, fix, self.settings.timezone, self.provider)
        chosen = parse_situation(situation) if isinstance(situation, str) else situation
        chosen = chosen or situation_for(contact, eta, now)
        return self._send(contact, chosen, eta, now, actor)

    def _send(
        self,
        contact: StopContact,
        situation: Situation,
        eta: datetime | None,
        now: datetime,
        actor: str,
    ) -> StopSend:
        request = request_for(
            contact,
            situation,
            eta,
            now,
            actor,
            reschedule_url=self.settings.reschedule_url or None,
            reschedule_phone=self.settings.reschedule_phone or self.settings.company_phone or None,
            tracking_url=self.link_for(contact.stop_id),
        )
        outcome = self.messenger.send(request)
        if outcome.message is not None and outcome.created:
            messaging_repo.record_message_audit(self.db, outcome.message, actor, "send", now)
            self._note_changed([outcome.message.id or 0])
            self.kick()
        elif outcome.reason and outcome.preview and outcome.preview.blocked:
            self._flag(contact, outcome.reason)
        return StopSend(contact, situation, eta, outcome)

    def send_auto(
        self, contact: StopContact, situation: Situation, eta: datetime | None, why: str
    ) -> StopSend:
        """Queue what an automatic trigger calls for (dispatcher/messaging/auto.py); ``why``
        (``auto:eta_moved``) is the row's ``created_by`` and the audit's actor."""
        return self._send(contact, situation, eta, self.clock.now(), why)

    def confirm_to_customer(
        self, stop_id: int, text: str, actor: str = "system", *, nonce: str = ""
    ) -> SendOutcome:
        """Tell the stop's customer ``text`` (a self-service confirmation) through the outbox.

        Sent on the customer's own request, so no dispatcher permission is asked; opt-out,
        quiet hours and address checks apply as to every message. ``nonce`` (the request's
        id) makes a retried confirmation one message.
        """
        contact = self.load_contact(stop_id)
        company = self.settings.company_name
        ref = f" {contact.order_ref}" if contact.order_ref else ""
        request = MessageRequest(
            customer=contact.customer,
            situation=Situation.FREE_TEXT,
            stop_ref=contact.order_ref,
            facts=MessageFacts(
                order_ref=contact.order_ref or None,
                text=f"{company}: order{ref}: {text}",
                tracking_url=self.link_for(stop_id),
            ),
            created_by=actor,
            nonce=nonce,
        )
        outcome = self.messenger.send(request)
        if outcome.message is not None and outcome.created:
            now = self.clock.now()
            messaging_repo.record_message_audit(self.db, outcome.message, actor, "send", now)
            self._note_changed([outcome.message.id or 0])
            self.kick()
        return outcome

    def record_receipt(self, provider_id: str, delivered: bool, error: str = "") -> int | None:
        """Apply a gateway's delivery receipt; the outbox row's id, or None if none matched."""
        row = self.relay.record_receipt(provider_id, delivered, error)
        if row is None or row.id is None:
            return None
        self._note_changed([row.id])
        return row.id

    def conversation(self, stop_id: int) -> list[ConversationLine]:
        """What we sent the stop's customer and what they replied, oldest first."""
        ref = self.order_ref_of(stop_id)
        if ref is None:
            return []
        lines = [
            ConversationLine(m.created_at, "out", m.channel, m.body, str(m.status), m.situation)
            for m in self.history(ref)
        ]
        lines += [
            ConversationLine(r.received_at, "in", r.channel, r.body, r.action, r.from_address)
            for r in web_repo.conversation(self.db, ref)
        ]
        return sorted(lines, key=lambda line: line.at)

    def link_for(self, stop_id: int) -> str | None:
        """The stop's tracking URL, or None without a web front (or if signing failed)."""
        if self.tracking_link is None:
            return None
        try:
            return self.tracking_link(stop_id)
        except Exception:  # a message without its link beats no message
            log.warning("no tracking link for stop %s", stop_id, exc_info=True)
            return None

    def _check(self, actor: str, permission: Permission = Permission.SEND_MESSAGES) -> None:
        """Refuse an actor whose stored role may not do ``permission``."""
        with self.db.session() as session:
            acting_user(session, actor, permission)

    def put_template(
        self, spec: TemplateSpec, actor: str, context: Mapping[str, PlainValue]
    ) -> tuple[TemplateSpec, str | None]:
        """Install ``spec`` as its template's next version, if ``actor`` may edit templates.

        Raises ``PermissionDenied`` before anything changes, or ``TemplateError`` when the
        template does not render within its limits with the sample ``context``. Returns the
        installed spec and, when only the override file could not be written, why.
        """
        self._check(actor, Permission.EDIT_TEMPLATES)
        return save_template(self.templates, spec, context)

    def _flag(self, contact: StopContact, reason: str) -> None:
        customer = contact.customer.customer_id
        if customer is not None and not contact.customer.opted_out:
            messaging_repo.flag_contact_problem(self.db, customer, reason)

    def undo(self, message_id: int, actor: str) -> bool:
        """Cancel a queued message (the undo window); ``False`` once it has left."""
        self._check(actor)
        cancelled = self.messenger.undo(message_id)
        if cancelled:
            row = self.store.get(message_id)
            if row is not None:
                messaging_repo.record_message_audit(self.db, row, actor, "undo", self.clock.now())
            self._note_changed([message_id])
        return cancelled

    def notify_route(
        self,
        vehicle_id: str,
        threshold: timedelta,
        actor: str,
        fixes: Mapping[str, VehicleFix] | None = None,
    ) -> list[StopSend]:
        """Tell every customer on the route whose ETA moved by more than ``threshold``.

        "Moved" compares the fresh ETA with the plan (the stop's stored planned arrival, or
        the morning plan from the depot at shift start); earlier counts as well as later.
        """
        self._check(actor)
        ids = messaging_repo.route_stop_ids(self.db, vehicle_id)
        if not ids:
            raise DispatcherError(f"vehicle {vehicle_id} has no route to notify")
        contact = self.load_contact(ids[0])
        now = self.clock.now()
        fix = (fixes or {}).get(vehicle_id)
        fresh = route_etas(contact, now, fix, self.settings.timezone, self.provider)
        baseline = planned_etas(contact, self.settings.timezone, self.provider)
        moved = eta_moved(eta_changes(contact.route, baseline, fresh), threshold)
        sends = []
        for change in moved:
            stop_contact = self.load_contact(int(change.stop_ref))
            situation = (
                Situation.RUNNING_LATE
                if change.shift and change.shift > timedelta(0)
                else Situation.ARRIVING_SOON
            )
            sends.append(self._send(stop_contact, situation, change.new_eta, now, actor))
        return sends

    def history(self, stop_ref: str | None = None, limit: int = 500) -> list[OutboxMessage]:
        """Outbox rows newest first, all or of one stop (its order reference)."""
        rows = self.store.list(limit=None if stop_ref else limit)
        if stop_ref:
            rows = [r for r in rows if r.stop_ref == stop_ref][:limit]
        return rows

    def failed(self) -> list[OutboxMessage]:
        return self.store.list(OutboxStatus.FAILED)

    def order_ref_of(self, stop_id: int) -> str | None:
        """The order reference of a stop (what outbox rows call it); reads the database."""
        return messaging_repo.order_ref_of(self.db, stop_id)

    def auto_reasons(self, message_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """``message_id -> (trigger, reason)`` of the rows the automation queued
        (dispatcher/messaging/auto.py), for the Messages dock's "Sent by"; reads the database."""
        from dispatcher.persistence import feedback_repo

        return feedback_repo.auto_reasons(self.db, message_ids)

    def customer_names(self, customer_ids: Iterable[int]) -> dict[int, str]:
        """Customer names by id, for the outbox table; reads the database."""
        return messaging_repo.customer_names(self.db, customer_ids)


__all__ = [
    "MessagingService",
    "OutboxChanged",
    "StopSend",
]
