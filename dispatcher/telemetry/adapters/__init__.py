"""Device formats behind one :class:`~dispatcher.telemetry.adapters.base.Adapter` interface."""

from dispatcher.telemetry.adapters.base import Adapter, ParseResult, Report
from dispatcher.telemetry.adapters.homeassistant import HomeAssistantAdapter
from dispatcher.telemetry.adapters.native import NativeAdapter
from dispatcher.telemetry.adapters.owntracks import OwnTracksAdapter
from dispatcher.telemetry.adapters.traccar import TraccarAdapter

__all__ = [
    "Adapter",
    "HomeAssistantAdapter",
    "NativeAdapter",
    "OwnTracksAdapter",
    "ParseResult",
    "Report",
    "TraccarAdapter",
]
