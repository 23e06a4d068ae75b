"""What customers send back: SMS replies (STOP, START, anything else) and delivery receipts.

The web front's webhooks (dispatcher/web/hooks.py) check the gateway's signature and then
call :func:`receive_sms` / :func:`receive_receipt`; nothing here trusts a caller that has not.

* A reply is stored once per gateway message id (``inbound_messages``): a webhook the gateway
  retries, or one replayed by somebody, changes nothing the second time.
* ``STOP`` (and its synonyms, :func:`~dispatcher.messaging.contacts.apply_inbound_sms`) opts
  the customer out at once, ``START`` back in, with an audit row each; any other reply waits
  in the order's conversation for a dispatcher (the console's Messages dock shows it).
* A receipt marks the outbox row it names delivered (or failed, which raises the usual
  message-failed exception) through the relay's ``record_receipt``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from dispatcher.messaging.contacts import apply_inbound_sms
from dispatcher.model.messaging import CustomerPreferences
from dispatcher.persistence import messaging_repo, web_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.web_repo import InboundMessage

log = logging.getLogger(__name__)

#: Longest reply kept (an SMS of 10 segments); the rest is cut, never refused.
MAX_BODY = 1600


@dataclass(frozen=True, slots=True)
class Received:
    message: InboundMessage
    #: False for a message id seen before (a retry or a replay): nothing was done again.
    new: bool


def classify(text: str) -> str:
    """``opt_out``, ``opt_in`` or ``reply`` (the carriers' first-word rule)."""
    if apply_inbound_sms(CustomerPreferences(customer_id=None), text).opted_out:
        return "opt_out"
    if not apply_inbound_sms(CustomerPreferences(customer_id=None, opted_out=True), text).opted_out:
        return "opt_in"
    return "reply"


def receive_sms(
    db: Database, provider_id: str, sender: str, text: str, now: datetime, channel: str = "sms"
) -> Received:
    """Store one inbound SMS and act on it (once per ``provider_id``)."""
    body = "".join(ch for ch in str(text or "") if ch.isprintable() or ch in "\n\t")[:MAX_BODY]
    action = classify(body)
    message, new = web_repo.store_inbound(
        db, provider_id, sender.strip(), body, action, now, channel
    )
    if new and message.customer_id is not None and action != "reply":
        opted_out = action == "opt_out"
        messaging_repo.set_opt_out(db, message.customer_id, opted_out)
        web_repo.audit_opt_out(db, message.customer_id, opted_out, message.id, now)
        log.info("customer %s opted %s by SMS", message.customer_id, "out" if opted_out else "in")
    return Received(message, new)


__all__ = ["MAX_BODY", "Received", "classify", "receive_sms"]
