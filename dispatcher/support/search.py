"""Where is my order: find an order by its reference, the customer's name or phone number.

A support agent types what the caller says: "order 4711", "Mrs Okafor", "0176 …123". The
query is read three ways at once (a reference or name fragment, and digits of a phone
number), so the agent never picks a mode. Phone numbers are compared by their digits after
:mod:`phonenumbers` has read them in the fleet's region: "+49 176 1234 567", "0176-1234567"
and "01761234567" are one number, and a fragment of at least :data:`MIN_PHONE_DIGITS` digits
finds the numbers that contain it. Stored numbers are kept as imported (spaces, dashes), so
the SQL side matches the digits with wildcards between them and this module keeps only the
numbers whose digits truly contain the fragment.

Who may see phone numbers is a permission (``SEE_PHONE_NUMBERS``): a viewer sees them
masked and cannot search by them (typing digits would otherwise test whether a number is a
customer's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import phonenumbers

from dispatcher.model.users import Permission, User, allowed
from dispatcher.persistence import support_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.support_repo import OrderRow

__all__ = ["OrderRow", "Query", "find_orders", "mask_phone", "phone_digits", "read_query"]

#: Fewer digits than this are not read as a phone fragment (a house number, a day).
MIN_PHONE_DIGITS = 4
#: The longest query read (anything longer is cut): a pasted page must not become SQL work.
MAX_QUERY = 80
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Query:
    """A typed query read for the search: the text fragment and the phone digits, if any."""

    text: str
    digits: str

    @property
    def empty(self) -> bool:
        return not self.text and not self.digits


def phone_digits(raw: str, region: str) -> str:
    """The digits a number is compared by: its national significant number when
    :mod:`phonenumbers` can read it in ``region``, else its digits without a trunk ``0`` or
    an international ``00``."""
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 6:
        try:
            number = phonenumbers.parse(text, region.upper() or None)
        except phonenumbers.NumberParseException:
            pass
        else:
            if phonenumbers.is_possible_number(number):
                return phonenumbers.national_significant_number(number)
    if digits.startswith("00"):
        return digits[2:]
    return digits.lstrip("0")


def read_query(raw: str, region: str) -> Query:
    """The text part (trimmed, cut at :data:`MAX_QUERY`) and, when it has enough digits and
    nothing but phone punctuation, the phone digits to look for."""
    text = " ".join(raw.split())[:MAX_QUERY]
    digits = ""
    typed = re.sub(r"\D", "", text)
    if re.fullmatch(r"[\d\s()+./-]+", text or "x") and len(typed) >= MIN_PHONE_DIGITS:
        # "0176" is 4 digits typed; without its trunk 0 it is still a fine prefix ("176")
        digits = phone_digits(text, region)
        if len(digits) < MIN_PHONE_DIGITS - 1:
            digits = ""
    return Query(text, digits)


def digit_like(digits: str) -> str:
    """A LIKE pattern that finds ``digits`` in a number written with any punctuation."""
    return "%" + "%".join(digits) + "%"


def stored_matches(stored: str, digits: str, region: str) -> bool:
    """True when the stored number holds ``digits`` (whole number or fragment)."""
    if not stored or not digits:
        return False
    mine = phone_digits(stored, region)
    return digits in mine or digits in re.sub(r"\D", "", stored)


def mask_phone(phone: str) -> str:
    """``•••• 567``: enough for the caller to confirm, not enough to call them."""
    digits = re.sub(r"\D", "", phone)
    return f"•••• {digits[-3:]}" if len(digits) >= 3 else ("••••" if phone else "")


def shown_phone(user: User, phone: str) -> str:
    return phone if allowed(user, Permission.SEE_PHONE_NUMBERS) else mask_phone(phone)


def find_orders(
    db: Database, user: User, raw: str, region: str, *, limit: int = DEFAULT_LIMIT
) -> list[OrderRow]:
    """Orders matching ``raw`` (see the module docstring), newest day first, phone numbers
    masked for a user who may not see them. Off the GUI thread: it reads the database."""
    query = read_query(raw, region)
    if query.empty:
        return []
    may_phone = allowed(user, Permission.SEE_PHONE_NUMBERS)
    with db.session() as session:
        rows = support_repo.search_orders(
            session,
            query.text,
            digit_like(query.digits) if query.digits else None,
            include_phone=may_phone,
            limit=limit * 4 if query.digits else limit,
        )
    text = query.text.lower()
    kept = [  # the digit pattern over-matches ("1%2%3" is in 1x2y3): keep true hits only
        r
        for r in rows
        if not query.digits
        or text in r.order_ref.lower()
        or text in r.customer_name.lower()
        or text in r.customer_ref.lower()
        or (may_phone and stored_matches(r.customer_phone, query.digits, region))
    ]
    return [replace(r, customer_phone=shown_phone(user, r.customer_phone)) for r in kept[:limit]]
