"""Why a message was not accepted, in words a dispatcher can act on.

Every adapter and filter answers with a normalized report or a :class:`Rejection`; nothing
else escapes. Internally, field helpers raise :class:`PayloadError` (cheap to write, only paid
on the rejection path) and the adapter boundary turns it into a :class:`Rejection`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dispatcher.errors import ValidationError


class RejectReason(enum.StrEnum):
    """Reason codes, stable strings: they appear in counters, the quarantine and the CLI."""

    OVERSIZED = "oversized"
    EMPTY = "empty"
    BAD_UTF8 = "bad_utf8"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TOPIC = "unknown_topic"
    UNSUPPORTED_TYPE = "unsupported_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    NULL_ISLAND = "null_island"
    BAD_TIMESTAMP = "bad_timestamp"
    TOO_OLD = "too_old"
    IN_FUTURE = "in_future"
    INVALID_FIX = "invalid_fix"
    POOR_ACCURACY = "poor_accuracy"
    DUPLICATE = "duplicate"
    JUMP = "implied_speed_jump"
    VEHICLE_MISMATCH = "vehicle_mismatch"
    UNKNOWN_DEVICE = "unknown_device"
    BAD_VALUE = "bad_value"
    #: Accepted, but the database refuses to store it (see dispatcher/telemetry/sink.py).
    STORAGE_REFUSED = "storage_refused"
    ENCRYPTED = "encrypted"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message the console will not use, with a reason code and a human detail."""

    reason: RejectReason
    detail: str = ""


class PayloadError(ValidationError):
    """Raised by field helpers inside adapters; converted to a :class:`Rejection` at the edge."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail

    def rejection(self) -> Rejection:
        """The value-object form handed to callers, counters and the quarantine."""
        return Rejection(self.reason, self.detail)
