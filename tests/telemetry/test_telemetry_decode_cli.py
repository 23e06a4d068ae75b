"""``dispatcher decode --topic T``: what the console makes of one payload, exit 2 if rejected."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from dispatcher.clock import FakeClock
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import EXIT_OK, EXIT_REJECTED, run_decode

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def test_accepted_payload_prints_the_normalized_report() -> None:
    out = io.StringIO()
    payload = b'{"v":1,"ts":"2026-11-20T07:00:00Z","lat":52.1,"lon":4.3,"speed_ms":5}'
    code = run_decode("fleet/vehicles/VAN-7/position", payload, out, clock=FakeClock(T0))
    assert code == EXIT_OK
    result = json.loads(out.getvalue())
    assert result["accepted"] is True
    assert result["adapter"] == "native"
    assert result["report"]["type"] == "PositionReport"
    assert result["report"]["vehicle_id"] == "VAN-7"
    assert result["report"]["speed_kmh"] == 18.0
    assert result["report"]["ts"] == "2026-11-20T07:00:00+00:00"


def test_rejected_payload_prints_the_reason_and_exits_2() -> None:
    out = io.StringIO()
    code = run_decode("fleet/vehicles/VAN-7/position", b"{oops", out, clock=FakeClock(T0))
    assert code == EXIT_REJECTED
    result = json.loads(out.getvalue())
    assert result == {"accepted": False, "reason": "malformed_json", "detail": result["detail"]}


def test_unbound_devices_are_previewed_under_their_device_key() -> None:
    out = io.StringIO()
    payload = b'{"_type":"location","lat":52.1,"lon":4.3,"tst":%d}' % int(T0.timestamp())
    assert run_decode("owntracks/alice/phone", payload, out, clock=FakeClock(T0)) == EXIT_OK
    result = json.loads(out.getvalue())
    assert result["report"]["vehicle_id"] == "owntracks:alice/phone"
    assert result["binding"].startswith("preview")


def test_real_bindings_can_be_given() -> None:
    out = io.StringIO()
    clock = FakeClock(T0)
    bindings = DeviceBindings({"owntracks:alice/phone": "VAN-3"}, clock=clock)
    payload = b'{"_type":"location","lat":52.1,"lon":4.3,"tst":%d}' % int(T0.timestamp())
    run_decode("owntracks/alice/phone", payload, out, clock=clock, bindings=bindings)
    assert json.loads(out.getvalue())["report"]["vehicle_id"] == "VAN-3"
