"""Live telemetry over MQTT: adapters, filters, ingest, storage seam and the paho client.

The paho adapter (:mod:`dispatcher.telemetry.mqtt_client`) is not imported here, so the rest
stays usable (and testable) without a network library loaded.
"""

from dispatcher.telemetry.bindings import DeviceBindings, UnknownDevice, device_key
from dispatcher.telemetry.decoder import (
    Accepted,
    Decoder,
    build_decoder,
    decode,
    default_adapters,
    run_decode,
)
from dispatcher.telemetry.filters import FilterConfig, Quarantine, QuarantineEntry
from dispatcher.telemetry.ingest import (
    DrainResult,
    IngestPipeline,
    IngestStats,
)
from dispatcher.telemetry.rejection import Rejection, RejectReason
from dispatcher.telemetry.sink import BatchWriter, InMemorySink, TelemetrySink, WriterStats
from dispatcher.telemetry.topics import NativeTopics

__all__ = [
    "Accepted",
    "BatchWriter",
    "Decoder",
    "DeviceBindings",
    "DrainResult",
    "FilterConfig",
    "InMemorySink",
    "IngestPipeline",
    "IngestStats",
    "NativeTopics",
    "Quarantine",
    "QuarantineEntry",
    "RejectReason",
    "Rejection",
    "TelemetrySink",
    "UnknownDevice",
    "WriterStats",
    "build_decoder",
    "decode",
    "default_adapters",
    "device_key",
    "run_decode",
]
