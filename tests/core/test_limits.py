"""Every limit is defined once (dispatcher/limits.py) and the doors and columns agree with it.

Issue 15: the native protocol accepted 64-character vehicle ids and 128-character event ids
while the columns held 40 and 120, so PostgreSQL refused messages the console had accepted.
These tests compare the columns, the protocol and the importer with the shared numbers, so
they cannot drift apart again.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import String

from dispatcher import limits
from dispatcher.importing.orders_csv import parse_orders
from dispatcher.model.core import EventReport, PositionReport
from dispatcher.persistence.orm import Base
from dispatcher.telemetry.adapters import NativeAdapter
from dispatcher.telemetry.rejection import Rejection

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)

#: Columns whose name alone does not say which field they hold.
NAMED_COLUMNS = {
    "vehicles.id": limits.VEHICLE_ID,
    "depots.id": limits.FLEET_ID,
    "drivers.id": limits.FLEET_ID,
    "customers.ref": limits.CUSTOMER_REF,
    "customers.name": limits.NAME,
    "customers.phone": limits.PHONE,
    "customers.email": limits.EMAIL,
    "stops.address": limits.ADDRESS,
    "stops.failure_reason": limits.REASON,
    "stops.pod_ref": limits.POD_REF,
    "vehicle_events.reason": limits.REASON,
    "vehicle_events.pod_ref": limits.POD_REF,
    "alerts.subject": limits.ALERT_KEY,
    "alerts.last_occurrence": limits.ALERT_KEY,
}


def string_columns() -> dict[str, String]:
    """The type of every string column, by ``table.column``."""
    return {
        f"{table.name}.{column.name}": column.type
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, String)
    }


def test_every_column_holding_a_shared_field_has_its_length() -> None:
    columns = string_columns()
    expected = dict(NAMED_COLUMNS)
    for key in columns:
        name = key.split(".", 1)[1]
        if name in limits.BY_COLUMN_NAME:
            expected[key] = limits.BY_COLUMN_NAME[name]
    assert "positions.vehicle_id" in expected and "routes.vehicle_id" in expected
    actual = {key: columns[key].length for key in expected}
    assert actual == expected


def test_every_table_that_stores_a_vehicle_id_takes_64_characters() -> None:
    widths = {k: c.length for k, c in string_columns().items() if k.endswith("vehicle_id")}
    assert {"positions", "vehicle_events", "routes", "device_bindings", "alerts"} <= {
        k.split(".")[0] for k in widths
    }
    assert set(widths.values()) == {64}


def native(topic_kind: str, vehicle_id: str, **fields: object) -> PositionReport | EventReport:
    payload = json.dumps({"v": 1, "ts": T0.timestamp(), **fields}).encode()
    result = NativeAdapter().parse(f"fleet/vehicles/{vehicle_id}/{topic_kind}", payload, T0)
    assert not isinstance(result, Rejection), result
    assert isinstance(result, PositionReport | EventReport)
    return result


def rejected(topic_kind: str, vehicle_id: str, **fields: object) -> Rejection:
    payload = json.dumps({"v": 1, "ts": T0.timestamp(), **fields}).encode()
    result = NativeAdapter().parse(f"fleet/vehicles/{vehicle_id}/{topic_kind}", payload, T0)
    assert isinstance(result, Rejection), result
    return result


def test_the_protocol_accepts_exactly_what_the_columns_hold() -> None:
    longest = native(
        "event",
        "V" * limits.VEHICLE_ID,
        kind="failed",
        event_id="e" * limits.EVENT_ID,
        stop_id="S" * limits.ORDER_ID,
        reason="r" * limits.REASON,
        note="n" * limits.NOTE,
    )
    assert isinstance(longest, EventReport)
    assert len(longest.event_id) == limits.EVENT_ID
    assert len(native("position", "V" * limits.VEHICLE_ID, lat=52.0, lon=4.0).vehicle_id) == 64
    rejected("position", "V" * (limits.VEHICLE_ID + 1), lat=52.0, lon=4.0)
    for field, limit in (
        ("event_id", limits.EVENT_ID),
        ("stop_id", limits.ORDER_ID),
        ("reason", limits.REASON),
        ("note", limits.NOTE),
    ):
        too_long = {
            "kind": "failed",
            "event_id": "e-1",
            "reason": "absent",
            field: "x" * (limit + 1),
        }
        assert field in rejected("event", "VAN-1", **too_long).detail


@pytest.mark.parametrize("field", ["event_id", "stop_id", "reason", "note", "pod_ref"])
def test_a_nul_character_is_refused_at_the_door(field: str) -> None:
    fields = {"kind": "pod", "event_id": "e-1", "pod_ref": "p-1", field: "a\x00b"}
    rejection = rejected("event", "VAN-1", **fields)
    assert rejection.reason == "bad_value" and "NUL" in rejection.detail


def test_the_importer_refuses_what_the_columns_cannot_hold() -> None:
    rows = [
        "order_id,lat,lon,customer_name,phone,email,address,notes",
        f"{'O' * limits.ORDER_ID},52.1,4.1,{'n' * limits.NAME},,,,",
        f"{'O' * (limits.ORDER_ID + 1)},52.1,4.1,,,,,",
        f"O-2,52.1,4.1,{'n' * (limits.NAME + 1)},,,,",
        f"O-3,52.1,4.1,,{'1' * (limits.PHONE + 1)},,,",
        f"O-4,52.1,4.1,,,{'e' * (limits.EMAIL + 1)},,",
        f"O-5,52.1,4.1,,,,{'a' * (limits.ADDRESS + 1)},",
        f"O-6,52.1,4.1,,,,,{'t' * (limits.NOTE + 1)}",
    ]
    result = parse_orders("\n".join(rows).encode(), default_date=date(2026, 11, 20), timezone="UTC")
    assert [o.order_ref for o in result.orders] == ["O" * limits.ORDER_ID]
    assert [(e.line, e.field) for e in result.errors] == [
        (3, "order_id"),
        (4, "customer_name"),
        (5, "phone"),
        (6, "email"),
        (7, "address"),
        (8, "notes"),
    ]


def test_the_published_json_schemas_state_the_same_limits() -> None:
    """docs/mqtt.md is the contract device makers read: its maxLengths are the limits."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "mqtt.md").read_text(encoding="utf-8")
    schemas = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", doc, re.S)]
    by_title = {s["title"]: s["properties"] for s in schemas if "$schema" in s}
    expected = {
        "vehicle_id": limits.VEHICLE_ID,
        "event_id": limits.EVENT_ID,
        "stop_id": limits.ORDER_ID,
        "reason": limits.REASON,
        "pod_ref": limits.POD_REF,
        "note": limits.NOTE,
        "device_id": limits.DEVICE_ID,
    }
    stated = {k: by_title["event"][k]["maxLength"] for k in expected}
    assert stated == expected
    assert by_title["position"]["vehicle_id"]["maxLength"] == limits.VEHICLE_ID
