"""The order card: everything the desk knows about one order, in one view.

The card is its facts (status, ETA, route position, proof of delivery) and a timeline of
what happened around it. The timeline is filled by **sources**: each one reads one kind of
record (messages sent, the drivers' reports, exceptions, …) and returns :class:`CardItem`\\ s.
A new kind of record (inbound messages, the driver app's proof of delivery) plugs in with
:func:`register_source` and shows on the card without touching it; a source that fails is
named on the card instead of hiding the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dispatcher.model.users import User
from dispatcher.persistence import driver_repo, feedback_repo, support_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.support_repo import OrderFacts
from dispatcher.support.search import shown_phone

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CardItem:
    """One line of an order's timeline.

    Attributes:
        ts: When it happened (aware UTC).
        kind: ``message out``, ``message in``, ``exception``, ``driver``, ``pod``, …
        text: The line as shown.
        detail: More (a message body, a resolution note), shown under the line.
    """

    ts: datetime
    kind: str
    text: str
    detail: str = ""


#: A source reads the card's items for an order, in the reader's session (an SQLAlchemy
#: session, typed loosely here: the core outside dispatcher.persistence names no SQLAlchemy).
Source = Callable[[Any, OrderFacts, User], list[CardItem]]


@dataclass
class OrderCard:
    facts: OrderFacts
    items: list[CardItem] = field(default_factory=list)
    #: Sources that could not be read, with the reason (shown on the card).
    problems: list[str] = field(default_factory=list)

    @property
    def pod(self) -> list[CardItem]:
        return [i for i in self.items if i.kind == "pod"]


_SOURCES: dict[str, Source] = {}


def register_source(name: str, source: Source) -> None:
    """Add (or replace) the source called ``name``; the card reads every source in turn."""
    _SOURCES[name] = source


def sources() -> dict[str, Source]:
    return dict(_SOURCES)


def order_card(db: Database, user: User, stop_id: int) -> OrderCard | None:
    """The card of stop ``stop_id`` (None when the order is gone). Reads the database: call it
    off the GUI thread."""
    with db.session() as session:
        facts = support_repo.order_facts(session, stop_id)
        if facts is None:
            return None
        from dataclasses import replace

        row = replace(facts.row, customer_phone=shown_phone(user, facts.row.customer_phone))
        facts = replace(facts, row=row)
        card = OrderCard(facts)
        for name, source in _SOURCES.items():
            try:
                with session.begin_nested():
                    card.items += source(session, facts, user)
            except Exception as exc:  # one broken source must not blank the card
                log.warning("order card source %s failed: %s", name, exc)
                card.problems.append(f"{name}: could not be read ({exc})")
    card.items.sort(key=lambda i: i.ts)
    return card


# -- the sources the console has today --------------------------------------------------------


def _messages_out(session: Any, facts: OrderFacts, user: User) -> list[CardItem]:
    items = []
    for m in support_repo.outbox_of_order(session, facts.row.order_ref):
        when = m.delivered_at or m.sent_at or m.created_at
        to = shown_phone(user, m.address) if m.channel == "sms" else m.address
        items.append(
            CardItem(
                when, "message out", f"{m.channel} to {to}: {m.situation} — {m.status}", m.body
            )
        )
    return items


def _exceptions(session: Any, facts: OrderFacts, user: User) -> list[CardItem]:
    items = []
    for a in support_repo.alerts_of_stop(session, facts.row.stop_id):
        state = a.status + (f" ({a.resolution_code})" if a.resolution_code else "")
        items.append(
            CardItem(
                a.opened_at,
                "exception",
                f"#{a.id} {a.title or a.kind} — {state}",
                a.resolution_note,
            )
        )
    return items


def _driver_reports(session: Any, facts: OrderFacts, user: User) -> list[CardItem]:
    items = []
    for e in support_repo.events_of_order(session, facts.row.order_ref):
        text = f"{e.vehicle_id}: {e.kind}" + (f" — {e.reason}" if e.reason else "")
        items.append(CardItem(e.ts, "driver", text, e.note))
        if e.pod_ref:
            items.append(CardItem(e.ts, "pod", f"proof of delivery {e.pod_ref} ({e.kind})"))
    return items


def _stop_pod(session: Any, facts: OrderFacts, user: User) -> list[CardItem]:
    """The stop's own POD reference, when no driver report carried it (an import, a fix)."""
    if not facts.pod_ref:
        return []
    reported = {e.pod_ref for e in support_repo.events_of_order(session, facts.row.order_ref)}
    if facts.pod_ref in reported:
        return []
    when = facts.completed_at or facts.actual_arrival
    if when is None:
        return []
    return [CardItem(when, "pod", f"proof of delivery {facts.pod_ref}")]


def _driver_app_pods(session: Any, facts: OrderFacts, user: User) -> list[CardItem]:
    """Proof of delivery taken in the driver app (photos, signature, recipient)."""
    items = []
    for pod in driver_repo.pods_for_stop(session, facts.row.order_ref):
        photos = sum(1 for f in pod.files if f.get("role") == "photo")
        signed = any(f.get("role") == "signature" for f in pod.files)
        parts = [f"{photos} photo(s)"] + (["signature"] if signed else [])
        if pod.recipient:
            parts.append(f"received by {pod.recipient}")
        if pod.distance_m is not None:
            parts.append(f"taken {pod.distance_m:.0f} m from the stop")
        items.append(CardItem(pod.taken_at, "pod", "proof of delivery: " + ", ".join(parts)))
    return items


def _driver_messages(session: Any, facts: OrderFacts, user: User) -> list[CardItem]:
    """The desk ↔ driver conversation about this stop."""
    items = []
    for m in driver_repo.messages(session, stop_ref=facts.row.order_ref):
        who = "desk to driver" if m.direction == "desk" else "driver to desk"
        items.append(CardItem(m.created_at, "driver message", f"{who} ({m.author})", m.body))
    return items


def _customer_feedback(session: Any, facts: OrderFacts, user: User) -> list[CardItem]:
    """The customer's rating and comment from the tracking page (dispatcher/web/feedback.py)."""
    found = feedback_repo.feedback_in_session(session, facts.row.stop_id)
    if found is None:
        return []
    stars = "★" * found.rating + "☆" * (5 - found.rating)
    text = f"customer rated {found.rating}/5 {stars}" + (
        f" — exception #{found.alert_id}" if found.alert_id else ""
    )
    return [CardItem(found.created_at, "feedback", text, found.comment)]


register_source("messages sent", _messages_out)
register_source("exceptions", _exceptions)
register_source("driver reports", _driver_reports)
register_source("proof of delivery", _stop_pod)
register_source("driver app proof of delivery", _driver_app_pods)
register_source("driver messages", _driver_messages)
register_source("customer feedback", _customer_feedback)
