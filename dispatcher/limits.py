"""Every length and character limit of the text Dispatcher accepts and stores, defined once.

The protocol schemas (``telemetry/adapters``), the importers (``importing``), the forms and the
database columns (``persistence/orm.py``: ``String(limits.VEHICLE_ID)``) all read these
numbers, so a value that passes the door always fits the column. They once drifted apart: the
protocol allowed 64-character vehicle ids while the column held 40, and PostgreSQL (which
enforces ``VARCHAR(n)``, unlike SQLite) refused what the console had accepted.
``tests/core/test_limits.py`` compares every column with these numbers.

Adding a field: add its limit here, use it at the door and in the column (``String(X)``); a
column named like a key of :data:`BY_COLUMN_NAME` must have that length, in any table.
Free text stored in ``Text`` columns still has a limit here: the column does not need one,
but a person reading it does.

Characters: text that is stored must not contain NUL (``"\\x00"``): PostgreSQL refuses it in
any text column. :func:`storable` is the one check for that.
"""

from __future__ import annotations

import hashlib
from typing import Final

# -- identifiers ----------------------------------------------------------------------------
#: A vehicle id: one MQTT topic level of the native protocol, the key of ``vehicles``.
VEHICLE_ID: Final = 64
#: A device's own identifier (tracker IMEI, OwnTracks user or device name, HA ``dev_id``).
DEVICE_ID: Final = 64
#: A binding key ``<format>:<device>`` (``owntracks:<user>/<device>`` is two device ids).
DEVICE_KEY: Final = 200
#: The device's id for a delivery event (a UUID is 36); redeliveries are found by it.
EVENT_ID: Final = 128
#: An order reference, which is also the stop's reference (``stop_id`` in the protocol).
ORDER_ID: Final = 80
#: A customer reference from the customer's own system (or derived by the importer).
CUSTOMER_REF: Final = 80
#: Depot and driver ids of the fleet set-up.
FLEET_ID: Final = 40
#: A login or workstation name as recorded in ``updated_by``/``created_by``/audit columns.
USERNAME: Final = 80
#: The subject key of an alert (``vehicle:<id>/fence:<id>``) and its last occurrence key.
ALERT_KEY: Final = 200

# -- short text -----------------------------------------------------------------------------
#: Names of people, customers, vehicles and depots.
NAME: Final = 200
ADDRESS: Final = 300
PHONE: Final = 40
#: RFC 5321's limit of a forward path.
EMAIL: Final = 254
#: Why a delivery failed (from the driver app, stored on the event and the stop).
REASON: Final = 256
#: Reference of a proof of delivery (photo or signature id).
POD_REF: Final = 256

# -- free text (``Text`` columns) -----------------------------------------------------------
#: Notes on an order, or on a delivery event.
NOTE: Final = 1000

#: Columns that hold one of the fields above, by name, in whatever table they appear.
BY_COLUMN_NAME: Final[dict[str, int]] = {
    "vehicle_id": VEHICLE_ID,
    "event_id": EVENT_ID,
    "order_ref": ORDER_ID,
    "stop_ref": ORDER_ID,
    "stop_id": ORDER_ID,
    "device_key": DEVICE_KEY,
}


def storable(value: str) -> bool:
    """Whether ``value`` holds only characters every database stores (no NUL, no lone
    surrogate: PostgreSQL refuses the first, UTF-8 cannot encode the second)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def fit_key(key: str, limit: int) -> str:
    """``key`` within ``limit`` characters, for keys the program derives (event ids of
    OwnTracks transitions, customer refs of the importer). A longer key keeps its head and
    ends with a digest of the whole, so two long keys never collapse into one (truncation
    would make the second event a "redelivery" of the first, or merge two customers)."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"{key[: limit - len(digest) - 1]}~{digest}"
