"""The outermost telemetry sink: device health from accepted fixes, and forgetting the silent.

It runs on the batch writer's thread, around the thinning and SQL sinks, so the per-device
work costs one dict assignment per fix there and nothing on the MQTT thread or in the drain.
For each batch the newest fix of each device goes to the registry (drift, accuracy, battery,
last seen); every ``sweep_every_s`` the per-vehicle memories of the sinks below (thinning
anchors, the SQL sink's late-fix marks) forget vehicles silent for ``evict_after_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dispatcher.clock import Clock
from dispatcher.devices.registry import DeviceRegistry, report_device_key
from dispatcher.model.core import EventReport, PositionReport
from dispatcher.telemetry.sink import TelemetrySink


class Evictable(Protocol):
    """Per-vehicle memory that can forget vehicles silent since ``cut`` (epoch seconds)."""

    def evict_silent(self, cut: float) -> int: ...


class RegistrySink:
    """Feeds :class:`DeviceRegistry` from stored batches and sweeps silent vehicles.

    Args:
        inner: the sink that stores (thinning, then SQL).
        registry: where the health lines are kept.
        clock: receive time of a batch (its drift is measured against it) and sweep timing.
        evictables: per-vehicle memories below to sweep.
        evict_after_s: silence after which a vehicle is forgotten.
        sweep_every_s: how often to sweep (each sweep walks every vehicle).
    """

    def __init__(
        self,
        inner: TelemetrySink,
        registry: DeviceRegistry,
        clock: Clock,
        *,
        evictables: Sequence[Evictable] = (),
        evict_after_s: float = 6 * 3600.0,
        sweep_every_s: float = 60.0,
    ) -> None:
        self.inner = inner
        self._registry = registry
        self._clock = clock
        self._evictables = list(evictables)
        self._evict_after = evict_after_s
        self._sweep_every = sweep_every_s
        self._next_sweep = float("-inf")
        self._last_batch: Sequence[PositionReport] | None = None

    def write_positions(self, batch: Sequence[PositionReport]) -> None:
        if batch is not self._last_batch:  # a retried batch is counted once
            self._last_batch = batch
            newest: dict[tuple[str, str, str | None], PositionReport] = {}
            counts: dict[tuple[str, str, str | None], int] = {}
            get = counts.get
            for p in batch:
                key = p.vehicle_id, p.source, p.device_id
                newest[key] = p
                counts[key] = get(key, 0) + 1
            now = self._clock.now()
            self._registry.accepted(
                ((report_device_key(p), p, counts[k]) for k, p in newest.items()), now
            )
            mono = self._clock.monotonic()
            if mono >= self._next_sweep:
                self._next_sweep = mono + self._sweep_every
                cut = now.timestamp() - self._evict_after
                for memory in self._evictables:
                    memory.evict_silent(cut)
        self.inner.write_positions(batch)

    def write_events(self, batch: Sequence[EventReport]) -> None:
        self.inner.write_events(batch)
