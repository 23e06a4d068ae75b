"""Customers' self-service from the tracking page: what the policy applies, what waits.

* Instructions (safe place, leave with a neighbour, free instructions) are applied at once:
  they change nothing in the plan, only what the driver reads (the stop's ``Customer:`` note).
* A new slot and "I'm not home today" change the plan: they wait in the console's exception
  queue as a ``customer_request`` exception until a dispatcher applies (or declines) them.

Every request is stored (``customer_requests``) with an audit row; applied ones are confirmed
to the customer through the outbox (the same composer, templates and opt-out rules as every
other message). A slot is accepted only if it is among those the planner offers right now
(:mod:`dispatcher.planning.slots`), so a forged form cannot ask for an impossible one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import Clock
from dispatcher.errors import ConflictError, NotFoundError, ValidationError
from dispatcher.eta.travel import HaversineProvider, TravelTimeProvider
from dispatcher.model.alerts import AlertKind, Condition, ResolutionCode, Severity
from dispatcher.model.users import User
from dispatcher.persistence import fleet_repo, web_repo
from dispatcher.persistence.alert_repo import SqlAlertStore
from dispatcher.persistence.database import Database
from dispatcher.persistence.web_repo import CustomerRequest
from dispatcher.planning.dayplan import build_day_plan
from dispatcher.planning.slots import Slot, feasible_slots, slot_grid

if TYPE_CHECKING:
    from dispatcher.core import Core
    from dispatcher.messaging.service import MessagingService

log = logging.getLogger(__name__)

INSTRUCTION_KINDS = {
    "safe_place": "Safe place",
    "neighbour": "Leave with a neighbour",
    "instructions": "Instructions",
}
QUEUED_KINDS = {"slot": "New delivery slot", "not_home": "Not home today"}
MAX_TEXT = 300
#: Requests one order may make per day (a script hammering the form fills no queue).
MAX_PER_DAY = 12
#: Two-hour slots across the day, offered on the order's day and the next ``SLOT_DAYS``.
SLOT_HOURS: tuple[tuple[int, int], ...] = (
    (8, 10),
    (10, 12),
    (12, 14),
    (14, 16),
    (16, 18),
    (18, 20),
)
SLOT_DAYS = 2
#: A slot starting sooner than this is not offered (nobody can re-plan that fast).
LEAD_TIME = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class SlotChoice:
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return self.start.isoformat()


class CustomerRequests:
    """The self-service commands, for the web front (customer) and the console (dispatcher)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        tz: str,
        *,
        messaging: MessagingService | None = None,
        provider: TravelTimeProvider | None = None,
        on_raised: Callable[[int], None] | None = None,
    ) -> None:
        self.db, self.clock, self.tz = db, clock, tz
        #: Told the id of each exception a request raises (the web front announces it).
        self.on_raised = on_raised
        self.messaging = messaging
        self.provider = provider or HaversineProvider()

    # -- slots ---------------------------------------------------------------------------------

    def offer_slots(self, stop_id: int) -> list[SlotChoice]:
        """The slots the fleet can really serve for this order (never its current one)."""
        day = web_repo.stop_day(self.db, stop_id)
        if day is None:
            raise NotFoundError(f"stop {stop_id} does not exist")
        now = self.clock.now()
        current = _window_of(self.db, stop_id)
        days = [day + timedelta(days=i) for i in range(SLOT_DAYS + 1)]
        offered: list[SlotChoice] = []
        for d in days:
            candidates = [
                (a, b)
                for a, b in slot_grid([d], SLOT_HOURS, self.tz)
                if a >= now + LEAD_TIME and (a, b) != current
            ]
            if candidates:
                offered.extend(SlotChoice(a, b) for a, b in self._feasible(d, stop_id, candidates))
        return offered

    def _feasible(self, d: date, stop_id: int, candidates: list[Slot]) -> list[Slot]:
        with self.db.session() as s:
            routes = fleet_repo.load_routes(s, d)
            vehicles = fleet_repo.load_vehicles(s)
            own = fleet_repo.load_routes(s, web_repo.stop_day(self.db, stop_id))
        plan = build_day_plan(routes, vehicles, self.tz, day=d)
        mine = next((v for r in own for v in r.stops if v.id == stop_id), None)
        if mine is None:
            return []
        from dispatcher.planning.dayplan import _plan_stop  # the board's own mapping

        stop = _plan_stop(mine, plan.origin, [])
        return feasible_slots(plan, stop, candidates, self.provider)

    # -- the customer's commands -----------------------------------------------------------

    def submit_instruction(
        self, stop_id: int, order_ref: str, kind: str, text: str
    ) -> CustomerRequest:
        """Applied at once (policy): the driver's note for the stop, then a confirmation."""
        if kind not in INSTRUCTION_KINDS:
            raise ValidationError(f"unknown instruction {kind!r}")
        text = _clean(text)
        if not text and kind != "instructions":
            raise ValidationError("please say where or with whom")
        self._check_rate(stop_id)
        now = self.clock.now()
        note = f"{INSTRUCTION_KINDS[kind]}: {text}" if text else ""
        web_repo.set_customer_note(self.db, stop_id, note, now)
        request = web_repo.add_request(
            self.db, stop_id, order_ref, kind, {"text": text}, "applied", now
        )
        said = f"we have noted your delivery instructions ({note or 'none'})."
        self._confirm(stop_id, said, nonce=f"request:{request.id}")
        return request

    def submit_slot(self, stop_id: int, order_ref: str, slot_key: str) -> CustomerRequest:
        """Queue a slot change, if the slot is one the planner offers now."""
        choice = next((c for c in self.offer_slots(stop_id) if c.key == slot_key), None)
        if choice is None:
            raise ValidationError("that slot is no longer available; please pick another")
        payload = {"start": choice.start.isoformat(), "end": choice.end.isoformat()}
        return self._queue(stop_id, order_ref, "slot", payload)

    def submit_not_home(self, stop_id: int, order_ref: str) -> CustomerRequest:
        return self._queue(stop_id, order_ref, "not_home", {})

    def _queue(
        self, stop_id: int, order_ref: str, kind: str, payload: dict[str, str]
    ) -> CustomerRequest:
        self._check_rate(stop_id)
        if any(
            r.status == "queued" and r.kind == kind
            for r in web_repo.requests_of_stop(self.db, stop_id)
        ):
            raise ConflictError("we already have this request; a dispatcher is looking at it")
        now = self.clock.now()
        request = web_repo.add_request(self.db, stop_id, order_ref, kind, payload, "queued", now)
        alert_id = self._raise(request)
        web_repo.link_request_alert(self.db, request.id, alert_id)
        if alert_id is not None and self.on_raised is not None:
            self.on_raised(alert_id)
        return request

    def _check_rate(self, stop_id: int) -> None:
        since = self.clock.now() - timedelta(days=1)
        if web_repo.count_requests_since(self.db, stop_id, since) >= MAX_PER_DAY:
            raise ValidationError("too many requests for this delivery today; please call us")

    def _raise(self, request: CustomerRequest) -> int | None:
        title = f"{request.order_ref}: customer asks for {QUEUED_KINDS[request.kind].lower()}"
        if request.kind == "slot":
            title += f" ({_slot_text(request, self.tz)})"
        condition = Condition(
            kind=AlertKind.CUSTOMER_REQUEST,
            subject=f"request:{request.id}",
            severity=Severity.MEDIUM,
            title=title[:300],
            details={
                "request_id": request.id,
                "kind": request.kind,
                "order_ref": request.order_ref,
                **request.payload,
            },
            stop_id=str(request.stop_id),
            occurrence=f"request:{request.id}",
        )
        with self.db.session() as session:
            result = AlertService(SqlAlertStore(session), self.clock).reconcile(
                [condition], (AlertKind.CUSTOMER_REQUEST,)
            )
        raised = [*result.raised, *result.reopened, *result.updated]
        return raised[0].id if raised and raised[0].id is not None else None

    # -- the dispatcher's decision ----------------------------------------------------------

    def apply(self, request_id: int, user: User) -> CustomerRequest:
        """Carry out a queued request, close its exception, confirm to the customer."""
        request = self._queued(request_id)
        now = self.clock.now()
        if request.kind == "slot":
            start = datetime.fromisoformat(request.payload["start"])
            end = datetime.fromisoformat(request.payload["end"])
            day = start.astimezone(_zone(self.tz)).date()
            web_repo.change_window(self.db, request.stop_id, start, end, day, user.id, now)
            text = f"your delivery is now planned for {_slot_text(request, self.tz)}."
        else:  # not home today: the next day, same hours
            start, end, day = _next_day_window(self.db, request.stop_id, self.tz)
            web_repo.change_window(self.db, request.stop_id, start, end, day, user.id, now)
            text = f"we will come back on {day:%A %d %B}."
        decided = web_repo.decide_request(self.db, request_id, "applied", user.id, now)
        self._close(request, user, ResolutionCode.RESCHEDULED, "applied the customer's request")
        self._confirm(request.stop_id, text, user.id, nonce=f"request:{request.id}")
        return decided

    def decline(self, request_id: int, user: User, note: str) -> CustomerRequest:
        request = self._queued(request_id)
        decided = web_repo.decide_request(
            self.db, request_id, "declined", user.id, self.clock.now()
        )
        self._close(request, user, ResolutionCode.CUSTOMER_CONTACTED, note or "declined")
        return decided

    def _queued(self, request_id: int) -> CustomerRequest:
        request = web_repo.get_request(self.db, request_id)
        if request is None:
            raise NotFoundError(f"customer request {request_id} does not exist")
        if request.status != "queued":
            raise ConflictError(f"customer request {request_id} is {request.status} already")
        return request

    def _close(self, request: CustomerRequest, user: User, code: ResolutionCode, note: str) -> None:
        if request.alert_id is None:
            return
        with self.db.session() as session:
            store = SqlAlertStore(session)
            service = AlertService(store, self.clock)
            try:
                alert = store.get(request.alert_id)
                service.resolve(request.alert_id, user, alert.version, code, note)
            except (NotFoundError, ConflictError, ValidationError) as exc:
                log.info(
                    "exception %s of request %s left as is: %s", request.alert_id, request.id, exc
                )

    def _confirm(self, stop_id: int, text: str, actor: str = "system", *, nonce: str) -> None:
        """A free-text message to the customer through the outbox (opt-out honoured)."""
        if self.messaging is None:
            return
        try:
            self.messaging.confirm_to_customer(stop_id, text, actor, nonce=nonce)
        except Exception:  # the request stands even if the message cannot be composed
            log.warning("no confirmation for stop %s", stop_id, exc_info=True)


def customer_requests(core: Core) -> CustomerRequests:
    """The commands over ``core`` (the console's queue applies requests through it)."""
    from dispatcher.messaging.service import MessagingService

    return CustomerRequests(
        core.db,
        core.clock,
        core.fleet.timezone,
        messaging=core.find_service(MessagingService),
        provider=core.routing.fleet(),
    )


def _clean(text: str) -> str:
    """One line, printable, at most :data:`MAX_TEXT` characters (escaped again on output)."""
    cleaned = " ".join("".join(ch for ch in str(text or "") if ch.isprintable()).split())
    return cleaned[:MAX_TEXT]


def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def _slot_text(request: CustomerRequest, tz: str) -> str:
    start = datetime.fromisoformat(request.payload["start"]).astimezone(_zone(tz))
    end = datetime.fromisoformat(request.payload["end"]).astimezone(_zone(tz))
    return f"{start:%a %d %b} {start:%H:%M}-{end:%H:%M}"


def _window_of(db: Database, stop_id: int) -> Slot | None:
    start, end = web_repo.stop_window(db, stop_id)
    return (start, end) if start and end else None


def _next_day_window(db: Database, stop_id: int, tz: str) -> tuple[datetime, datetime, date]:
    start, end = web_repo.stop_window(db, stop_id)
    day = web_repo.stop_day(db, stop_id)
    if day is None:
        raise NotFoundError(f"stop {stop_id} does not exist")
    zone = _zone(tz)
    nxt = day + timedelta(days=1)
    if start is None or end is None:
        return (
            datetime.combine(nxt, datetime.min.time(), zone),
            datetime.combine(nxt, datetime.max.time(), zone),
            nxt,
        )
    s, e = start.astimezone(zone), end.astimezone(zone)
    return (
        datetime.combine(nxt, s.time(), zone),
        datetime.combine(nxt + (e.date() - s.date()), e.time(), zone),
        nxt,
    )
