"""docs/mqtt.md is a contract: its JSON is valid, and its examples are what the code accepts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dispatcher.clock import FakeClock
from dispatcher.telemetry.decoder import Accepted, build_decoder

DOC = Path(__file__).resolve().parents[2] / "docs" / "mqtt.md"
BLOCK = re.compile(r"^### (\w+)|```json\n(.*?)```", re.S | re.M)


def _blocks() -> dict[str, list[dict[str, Any]]]:
    """JSON blocks of the doc grouped by the ``###`` section they are in."""
    sections: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for heading, body in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        if heading:
            current = heading
        else:
            sections.setdefault(current, []).append(json.loads(body))
    return sections


def test_every_json_block_parses_and_every_schema_pins_version_1() -> None:
    sections = _blocks()
    schemas = [b for blocks in sections.values() for b in blocks if "$schema" in b]
    assert {s["title"] for s in schemas} == {"position", "event", "status", "route", "cmd", "sync"}
    for schema in schemas:
        assert schema["properties"]["v"] == {"const": 1}
        assert "v" in schema["required"]


@pytest.mark.parametrize("kind", ["position", "event"])
def test_documented_examples_are_accepted_by_the_native_adapter(kind: str) -> None:
    example = next(b for b in _blocks()[kind] if "$schema" not in b)
    clock = FakeClock(datetime(2026, 11, 20, 9, 15, tzinfo=UTC))
    decoder = build_decoder(clock=clock)
    result = decoder.decode(f"fleet/vehicles/VAN-07/{kind}", json.dumps(example).encode())
    assert isinstance(result, Accepted), result
    for field, value in example.items():
        if field in ("v", "ts", "kind"):
            continue
        assert getattr(result.report, field) == value, field
