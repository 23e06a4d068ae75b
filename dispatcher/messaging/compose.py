"""From "message this customer" to an outbox row: preview, send, undo, automation, bulk.

:class:`Messenger` is what the UI's one-click button and the automation call. It formats the
facts (dates in the customer's zone, numbers as text) into plain template variables, picks
the template, checks the customer's preferences and address, works out when the message may
leave (undo window, quiet hours), and enqueues it. It never talks to a gateway: the relay does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from dispatcher import display
from dispatcher.clock import Clock
from dispatcher.messaging.contacts import AddressCheck, quiet_hours_release, resolve_address
from dispatcher.messaging.outbox import OutboxStore, idempotency_key
from dispatcher.messaging.situations import (
    SITUATION_VARIABLES,
    ChannelKind,
    Situation,
)
from dispatcher.messaging.sms_segments import SegmentInfo, count_segments
from dispatcher.messaging.templates import (
    PlainValue,
    Rendered,
    TemplateError,
    TemplateLibrary,
    render,
)
from dispatcher.model.core import StopStatus
from dispatcher.model.messaging import ContactPreference, CustomerPreferences, OutboxMessage, zone

#: Situations whose key carries the ETA bucket: a fresh ETA is a fresh message.
_ETA_KEYED = frozenset({Situation.RUNNING_LATE, Situation.ARRIVING_SOON, Situation.REASSIGNED})


@dataclass(frozen=True, slots=True)
class Branding:
    """How the company signs its messages, and how times are written (GSM-7 safe).

    ``time_format`` / ``date_format`` are ``strftime`` patterns; None (the default) writes
    times and days as every screen does, in the fleet's locale (``14:05`` / ``2:05 PM``,
    ``Fri 20 Nov`` / ``Fri, Nov 20``: :mod:`dispatcher.display`).
    """

    company_name: str
    company_phone: str = ""
    time_format: str | None = None
    date_format: str | None = None


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """Raw facts about a stop; :func:`template_context` turns them into template variables."""

    order_ref: str | None = None
    eta: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    delivered_at: datetime | None = None
    pod_ref: str | None = None
    reschedule_url: str | None = None
    reschedule_phone: str | None = None
    reason: str | None = None
    driver_name: str | None = None
    address: str | None = None
    text: str | None = None
    delay_minutes: int | None = None
    minutes_away: int | None = None
    #: The customer's tracking page (dispatcher/web/), signed and expiring; None without one.
    tracking_url: str | None = None


def template_context(
    facts: MessageFacts, prefs: CustomerPreferences, branding: Branding, fleet_tz: str = "UTC"
) -> dict[str, PlainValue]:
    """Plain template variables: every datetime written in the customer's (or fleet's) zone.

    A window is written with a plain hyphen ("14:00-16:00"): an en dash is not in GSM-7 and
    would turn the whole SMS into UCS-2, halving what fits in one segment.
    """
    tz = zone(prefs.tz, fleet_tz)

    shown = display.current()

    def hhmm(value: datetime | None) -> str | None:
        if value is None:
            return None
        local = value.astimezone(tz)
        return local.strftime(branding.time_format) if branding.time_format else shown.clock(local)

    def day(value: datetime | None) -> str | None:
        if value is None:
            return None
        local = value.astimezone(tz)
        return local.strftime(branding.date_format) if branding.date_format else shown.day(local)

    window = None
    if facts.window_start and facts.window_end:
        window = f"{hhmm(facts.window_start)}-{hhmm(facts.window_end)}"
    elif facts.window_start:
        window = f"from {hhmm(facts.window_start)}"
    elif facts.window_end:
        window = f"by {hhmm(facts.window_end)}"
    return {
        "customer_name": prefs.name or None,
        "company_name": branding.company_name,
        "company_phone": branding.company_phone or None,
        "order_ref": facts.order_ref,
        "address": facts.address,
        "driver_name": facts.driver_name,
        "eta": hhmm(facts.eta),
        "eta_date": day(facts.eta),
        "window": window,
        "window_date": day(facts.window_start or facts.window_end),
        "delay_minutes": facts.delay_minutes,
        "minutes_away": facts.minutes_away,
        "delivered_at": hhmm(facts.delivered_at),
        "pod_ref": facts.pod_ref,
        "reschedule_url": facts.reschedule_url,
        "tracking_url": facts.tracking_url,
        "reschedule_phone": facts.reschedule_phone,
        "reason": facts.reason,
        "text": facts.text.strip() if facts.text and facts.text.strip() else None,
    }


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """One message the dispatcher (or the automation) wants to send.

    ``channel``/``address`` override the customer's preference (a driver message, or a
    dispatcher choosing email for once). ``nonce`` tells apart deliberate repeats of the
    same free text: the UI gives each compose dialog its own nonce, so a double click on
    Send is one message but writing the same words again tomorrow is another.
    """

    customer: CustomerPreferences
    situation: Situation
    stop_ref: str | None
    facts: MessageFacts
    created_by: str
    urgent: bool = False
    channel: ChannelKind | None = None
    address: str | None = None
    nonce: str = ""


@dataclass(frozen=True, slots=True)
class Preview:
    """What the dispatcher sees before clicking Send.

    ``blocked`` says why the message cannot go (opted out, no valid address); the text is
    still rendered when a channel is known, so the dispatcher can copy it into a call.
    """

    situation: Situation
    channel: ChannelKind
    address: str | None
    rendered: Rendered
    not_before: datetime
    segments: SegmentInfo | None = None
    blocked: str | None = None


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """The result of :meth:`Messenger.send`: the row (new or the existing one) or a reason."""

    message: OutboxMessage | None
    created: bool = False
    reason: str | None = None
    preview: Preview | None = None


class Messenger:
    """Composes messages and puts them in the outbox."""

    def __init__(
        self,
        store: OutboxStore,
        templates: TemplateLibrary,
        clock: Clock,
        branding: Branding,
        *,
        fleet_tz: str = "UTC",
        default_region: str = "GB",
        undo_window: timedelta = timedelta(seconds=10),
    ) -> None:
        self._store = store
        self._templates = templates
        self._clock = clock
        self._branding = branding
        self._fleet_tz = fleet_tz
        self._region = default_region
        self._undo = undo_window

    def preview(self, request: MessageRequest) -> Preview:
        """Render the message and say where and when it would go.

        Raises:
            TemplateError: a required fact is missing or the template does not render;
                ``variable`` names what to fill in.
        """
        check = self._address(request)
        channel = request.channel or check.channel or ChannelKind.SMS
        context = template_context(request.facts, request.customer, self._branding, self._fleet_tz)
        _require(request.situation, context)
        spec = self._templates.get(request.situation, channel, request.customer.lang)
        rendered = render(spec, context)
        segments = count_segments(rendered.body) if channel is ChannelKind.SMS else None
        return Preview(
            situation=request.situation,
            channel=channel,
            address=check.address,
            rendered=rendered,
            not_before=self._not_before(request),
            segments=segments,
            blocked=check.reason,
        )

    def send(self, request: MessageRequest) -> SendOutcome:
        """Enqueue the message; a repeat of the same message returns the existing row.

        Opt-out, "no messages" and unusable addresses are not errors: the outcome carries
        the reason and no row is written. A template that does not render raises
        :class:`TemplateError` and nothing is queued.
        """
        preview = self.preview(request)
        if preview.blocked or preview.address is None:
            return SendOutcome(None, reason=preview.blocked or "no address", preview=preview)
        now = self._clock.now()
        key = idempotency_key(
            request.situation,
            request.stop_ref,
            preview.channel,
            preview.rendered.template_id,
            preview.rendered.template_version,
            eta=request.facts.eta if request.situation in _ETA_KEYED else None,
            discriminator=_discriminator(request),
        )
        message = OutboxMessage(
            idempotency_key=key,
            customer_id=request.customer.customer_id,
            stop_ref=request.stop_ref,
            situation=request.situation,
            template_id=preview.rendered.template_id,
            template_version=preview.rendered.template_version,
            channel=preview.channel,
            address=preview.address,
            subject=preview.rendered.subject,
            body=preview.rendered.body,
            body_html=preview.rendered.html,
            not_before=preview.not_before,
            next_attempt_at=preview.not_before,
            created_at=now,
            created_by=request.created_by,
        )
        row, created = self._store.enqueue(message)
        return SendOutcome(row, created=created, preview=preview)

    def send_to_driver(
        self,
        vehicle_id: str,
        text: str,
        created_by: str,
        *,
        stop_ref: str | None = None,
        nonce: str = "",
    ) -> SendOutcome:
        """A free-text message to a driver's app (MQTT); no quiet hours, no undo delay."""
        request = MessageRequest(
            customer=CustomerPreferences(customer_id=None, name=""),
            situation=Situation.FREE_TEXT,
            stop_ref=stop_ref,
            facts=MessageFacts(text=text),
            created_by=created_by,
            urgent=True,
            channel=ChannelKind.DRIVER,
            address=vehicle_id,
            nonce=nonce,
        )
        return self.send(request)

    def undo(self, message_id: int) -> bool:
        """Cancel a queued message (the undo window); ``False`` once it has left."""
        return self._store.cancel(message_id, self._clock.now())

    def _address(self, request: MessageRequest) -> AddressCheck:
        if request.channel is ChannelKind.DRIVER:
            address = (request.address or "").strip()
            if not address:
                return AddressCheck(ChannelKind.DRIVER, None, "no vehicle to write to")
            return AddressCheck(ChannelKind.DRIVER, address)
        prefs = request.customer
        if request.channel is not None:
            override = request.channel.value
            phone = request.address if request.channel is ChannelKind.SMS else prefs.phone
            email = request.address if request.channel is ChannelKind.EMAIL else prefs.email
            prefs = _with_contact(prefs, override, phone or prefs.phone, email or prefs.email)
        return resolve_address(prefs, self._region)

    def _not_before(self, request: MessageRequest) -> datetime:
        now = self._clock.now()
        undo_until = now if request.channel is ChannelKind.DRIVER else now + self._undo
        release = quiet_hours_release(
            undo_until, request.customer, self._fleet_tz, urgent=request.urgent
        )
        eta = request.facts.eta
        if release > undo_until and eta is not None and eta < release:
            # The news is about a visit before morning: holding it would make it useless.
            return undo_until
        return release


def _with_contact(
    prefs: CustomerPreferences, channel: str, phone: str, email: str
) -> CustomerPreferences:
    return replace(prefs, channel=ContactPreference(channel), phone=phone, email=email)


def _require(situation: Situation, context: dict[str, PlainValue]) -> None:
    required, _ = SITUATION_VARIABLES[situation]
    for name in required:
        if context.get(name) is None:
            raise TemplateError(
                f"a '{situation}' message needs '{name}'",
                template_id=str(situation),
                variable=name,
            )


def _discriminator(request: MessageRequest) -> str:
    facts = request.facts
    parts: list[str] = [request.nonce]
    if request.situation is Situation.FREE_TEXT:
        parts.append(facts.text or "")
    elif request.situation is Situation.WINDOW_CHANGED:
        parts.append(f"{facts.window_start}|{facts.window_end}")
    elif request.situation is Situation.DELIVERED:
        parts.append(facts.pod_ref or "")
    elif request.situation is Situation.REASSIGNED:
        parts.append(facts.driver_name or "")
    if request.channel is ChannelKind.DRIVER:
        parts.append(request.address or "")
    joined = "|".join(parts)
    return joined if joined.strip("|") else ""


# --- bulk -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EtaChange:
    """A stop's ETA before and after a re-plan or a delay."""

    stop_ref: str
    customer_id: int | None
    old_eta: datetime | None
    new_eta: datetime | None
    status: StopStatus = StopStatus.PENDING
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def shift(self) -> timedelta | None:
        if self.old_eta is None or self.new_eta is None:
            return None
        return self.new_eta - self.old_eta


def eta_moved(changes: Iterable[EtaChange], threshold: timedelta) -> list[EtaChange]:
    """The stops worth a message: not finished, and the ETA moved by more than ``threshold``.

    Earlier and later both count (a customer waiting for 16:00 wants to know it is 14:30).
    Stops without an old or new ETA are left out: there is no change to tell.
    """
    return [
        change
        for change in changes
        if not change.status.is_final and change.shift is not None and abs(change.shift) > threshold
    ]
