"""Bounded state (issue 15, finding 4): made-up vehicle ids never get live state, silent
vehicles are forgotten, and every structure the registry keeps has a cap."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dispatcher.clock import FakeClock
from dispatcher.devices.registry import DeviceRegistry
from dispatcher.devices.sink import RegistrySink
from dispatcher.events import EventBus
from dispatcher.fleet.state import FleetConfig, FleetState
from dispatcher.history.settings import ThinningPolicy
from dispatcher.history.thinning import ThinningSink
from dispatcher.model.core import PositionReport
from dispatcher.model.devices import RegistryLimits
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import build_decoder
from dispatcher.telemetry.filters import FilterConfig
from dispatcher.telemetry.ingest import IngestPipeline
from dispatcher.telemetry.rejection import Rejection, RejectReason
from dispatcher.telemetry.sink import BatchWriter, InMemorySink

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def position(ts: datetime, lat: float = 52.37, lon: float = 4.89) -> bytes:
    return json.dumps({"v": 1, "ts": ts.isoformat(), "lat": lat, "lon": lon}).encode()


def stack(
    clock: FakeClock, known: set[str], limits: RegistryLimits | None = None, evict_s: float = 3600
) -> tuple[IngestPipeline, DeviceRegistry, InMemorySink, BatchWriter]:
    registry = DeviceRegistry(limits)
    bindings = DeviceBindings(clock=clock, known_vehicles=known)
    decoder = build_decoder(
        bindings=bindings,
        clock=clock,
        registry=registry,
        config=FilterConfig(evict_after_s=evict_s),
    )
    sink = InMemorySink()
    writer = BatchWriter(sink)
    pipeline = IngestPipeline(
        decoder, FleetState(FleetConfig(evict_after_s=evict_s)), EventBus(), clock, writer=writer
    )
    return pipeline, registry, sink, writer


def bindings_of(pipeline: IngestPipeline, adapter: int) -> DeviceBindings:
    """The bindings the decoder's ``adapter`` (0 native, 1 OwnTracks) resolves devices with."""
    found: DeviceBindings = pipeline.decoder.adapters[adapter]._bindings  # type: ignore[attr-defined]  # private
    return found


def test_unknown_native_ids_never_get_live_state_and_are_listed_with_their_position() -> None:
    clock = FakeClock(T0)
    pipeline, registry, _, writer = stack(clock, {"VAN-1"})
    for i in range(50):
        result = pipeline.on_message(f"fleet/vehicles/ghost-{i}/position", position(T0, 48.1))
        assert isinstance(result, Rejection) and result.reason is RejectReason.UNKNOWN_DEVICE
    assert pipeline.on_message("fleet/vehicles/VAN-1/position", position(T0)) is None
    pipeline.drain()
    assert pipeline.fleet.vehicle_ids() == ["VAN-1"]
    assert len(pipeline.decoder.position_filter or ()) == 1
    assert writer.stats.queued_positions == 1 and {p.vehicle_id for p in writer._positions} == {
        "VAN-1"
    }
    unknown = {s.key: s for s in registry.unknown_devices()}
    assert len(unknown) == 50
    ghost = unknown["native:ghost-7"]
    assert (ghost.format, ghost.topic, ghost.messages) == (
        "native",
        "fleet/vehicles/ghost-7/position",
        1,
    )
    assert ghost.lat == 48.1 and ghost.unknown


def test_a_bound_native_id_speaks_for_its_vehicle() -> None:
    clock = FakeClock(T0)
    pipeline, _, _, _ = stack(clock, {"VAN-1"})
    bindings = bindings_of(pipeline, 0)
    bindings.bind("native:tablet-9", "VAN-1")
    assert pipeline.on_message("fleet/vehicles/tablet-9/position", position(T0)) is None
    pipeline.drain()
    assert pipeline.fleet.vehicle_ids() == ["VAN-1"]


def test_registry_structures_stay_capped_under_a_flood_of_ids() -> None:
    clock = FakeClock(T0)
    limits = RegistryLimits(max_unknown=100, max_known=50, pending_quarantine=300)
    pipeline, registry, _, _ = stack(clock, set(), limits)
    for i in range(5000):
        pipeline.on_message(f"fleet/vehicles/id{i}/position", position(T0))
        pipeline.on_message(f"owntracks/u{i}/phone", b'{"_type":"location","lat":1,"lon":2}')
    sizes = registry.sizes()
    assert sizes["unknown"] == 100
    assert sizes["dirty"] <= 100
    assert sizes["quarantine"] == 300
    assert registry.unknown_evicted == 10_000 - 100
    assert len(pipeline.fleet) == 0
    assert len(pipeline.decoder.position_filter or ()) == 0
    bindings = bindings_of(pipeline, 1)
    assert len(bindings.unknown_devices()) <= 1000
    assert len(bindings._last_warned) <= 1000


def test_rejections_of_bound_devices_count_on_their_health_line_capped() -> None:
    registry = DeviceRegistry(RegistryLimits(max_known=10))
    for i in range(40):
        registry.rejected(
            f"native:V{i}", "native", "t", b"x", Rejection(RejectReason.TOO_OLD, "old"), T0
        )
    assert registry.sizes()["known"] == 10
    sightings, messages = registry.take_pending()
    assert len(sightings) == 10 and len(messages) == 40
    assert sightings[0].rejections == {"too_old": 1}


def test_silent_vehicles_are_evicted_from_filter_fleet_and_sinks() -> None:
    clock = FakeClock(T0)
    pipeline, _, _, _ = stack(clock, {"VAN-1", "VAN-2"}, evict_s=600)
    pipeline.on_message("fleet/vehicles/VAN-1/position", position(clock.now()))
    pipeline.on_message("fleet/vehicles/VAN-2/position", position(clock.now()))
    pipeline.drain()
    assert len(pipeline.fleet) == 2
    for _ in range(15):  # VAN-2 keeps talking (1,024 fixes a minute), VAN-1 falls silent
        clock.advance(60)
        for k in range(1024):
            at = clock.now() - timedelta(seconds=k * 0.01)
            pipeline.on_message("fleet/vehicles/VAN-2/position", position(at))
        pipeline.drain()
    assert pipeline.fleet.vehicle_ids() == ["VAN-2"]
    assert pipeline.fleet.evicted == 1
    assert len(pipeline.decoder.position_filter or ()) == 1
    # its next fix starts afresh
    pipeline.on_message("fleet/vehicles/VAN-1/position", position(clock.now()))
    pipeline.drain()
    assert sorted(pipeline.fleet.vehicle_ids()) == ["VAN-1", "VAN-2"]


def test_sink_memories_forget_silent_vehicles() -> None:
    clock = FakeClock(T0)
    thinning = ThinningSink(InMemorySink(), ThinningPolicy())
    registry = DeviceRegistry()
    sink = RegistrySink(
        thinning, registry, clock, evictables=[thinning], evict_after_s=600, sweep_every_s=60
    )
    sink.write_positions([PositionReport("A", clock.now(), 52.0, 4.0)])
    sink.write_positions([PositionReport("B", clock.now(), 52.0, 4.0)])
    assert len(thinning.thinner) == 2
    for _ in range(12):
        clock.advance(60)
        sink.write_positions([PositionReport("B", clock.now(), 52.0, 4.0)])
    assert len(thinning.thinner) == 1
    assert registry.sizes()["known"] == 2  # health lines stay (capped by max_known)


def test_health_line_has_drift_accuracy_and_battery_of_the_newest_fix() -> None:
    clock = FakeClock(T0 + timedelta(seconds=30))
    registry = DeviceRegistry()
    sink = RegistrySink(InMemorySink(), registry, clock)
    sink.write_positions(
        [
            PositionReport("V", T0, 52.0, 4.0, accuracy_m=50, battery_pct=90),
            PositionReport("V", T0 + timedelta(seconds=20), 52.1, 4.0, accuracy_m=8),
        ]
    )
    (s,), _ = registry.take_pending()
    assert (s.key, s.lat, s.accuracy_m, s.battery_pct, s.drift_s) == ("native:V", 52.1, 8, None, 10)
    assert s.messages == 2


def test_broken_messages_from_unbound_phones_stay_on_the_unknown_list() -> None:
    clock = FakeClock(T0)
    limits = RegistryLimits(max_unknown=10, max_known=10)
    pipeline, registry, _, _ = stack(clock, {"VAN-1"}, limits)
    bindings_of(pipeline, 1).bind("owntracks:ann/phone", "VAN-1")
    for i in range(500):
        pipeline.on_message(f"owntracks/u{i}/phone", b"{broken")
    pipeline.on_message("owntracks/ann/phone", b"{broken")
    pipeline.on_message("fleet/vehicles/VAN-1/position", b"{broken")
    assert registry.sizes()["unknown"] == 10
    sightings, _ = registry.take_pending()
    known = {s.key: s for s in sightings if not s.unknown}
    assert set(known) == {"owntracks:ann/phone", "native:VAN-1"}
    assert known["native:VAN-1"].rejections == {"malformed_json": 1}
