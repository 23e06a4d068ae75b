"""Travel times per vehicle type: one provider per road profile, picked by the vehicle.

A mixed fleet drives on different roads at different speeds: a cargo bike takes the cycle
lanes at 15 km/h, a van the streets at van speed. ``[routing.profiles]`` maps each vehicle
type to a road profile (``van = "car"``, ``cargo_bike = "bicycle"``); a :class:`FleetRoads`
holds that map and one provider per profile, made once when first asked for. The plan's
matrix (:meth:`dispatcher.planning.model.PlanMatrix.build`) asks it which profile each
vehicle uses and builds one matrix per profile *in use*: a fleet of one type costs one
matrix, as before.

It is itself a :class:`~dispatcher.eta.travel.TravelTimeProvider` (the default type's), so
a caller that times something no vehicle drives (a straight check, a report's sketch) may
keep treating it as one provider.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from dispatcher.eta.travel import Location, TravelMatrix, TravelTimeProvider

DEFAULT_TYPE = "van"


@runtime_checkable
class Warmable(Protocol):
    """A provider that fetches a day's road matrix beforehand (dispatcher/routing/warm.py)."""

    def warm(self, places: Sequence[Location]) -> bool: ...


class FleetRoads:
    """Providers per road profile and the profile of each vehicle type.

    Args:
        profile_for: Road profile of a vehicle type (unknown or empty: the default type's).
        provider_for: The provider of a road profile; called once per profile.
    """

    def __init__(
        self,
        profile_for: Callable[[str | None], str],
        provider_for: Callable[[str], TravelTimeProvider],
    ) -> None:
        self._profile_for, self._provider_for = profile_for, provider_for
        self._lock = threading.Lock()
        self._providers: dict[str, TravelTimeProvider] = {}

    @classmethod
    def uniform(cls, provider: TravelTimeProvider) -> FleetRoads:
        """Every vehicle type on ``provider`` (tests, straight-line defaults)."""
        return cls(lambda _kind: "", lambda _profile: provider)

    def profile_of(self, vehicle_type: str | None) -> str:
        """The road profile ``vehicle_type`` drives on."""
        return self._profile_for(vehicle_type or DEFAULT_TYPE)

    def provider(self, profile: str) -> TravelTimeProvider:
        """The provider of road ``profile`` (the same object every time)."""
        with self._lock:
            if profile not in self._providers:
                self._providers[profile] = self._provider_for(profile)
            return self._providers[profile]

    def for_type(self, vehicle_type: str | None) -> TravelTimeProvider:
        """The provider of ``vehicle_type``'s profile."""
        return self.provider(self.profile_of(vehicle_type))

    @property
    def default(self) -> TravelTimeProvider:
        return self.for_type(DEFAULT_TYPE)

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        """The default type's matrix (for callers that time no particular vehicle)."""
        return self.default.matrix(locations)

    def warm(self, places: Sequence[Location], vehicle_types: Iterable[str | None]) -> None:
        """Warm the providers of the profiles ``vehicle_types`` use (worker threads only)."""
        profiles = dict.fromkeys(self.profile_of(k) for k in [*vehicle_types, DEFAULT_TYPE])
        for profile in profiles:
            road = self.provider(profile)
            if isinstance(road, Warmable):
                road.warm(places)


def pick(provider: TravelTimeProvider, vehicle_type: str | None) -> TravelTimeProvider:
    """``provider``'s provider for ``vehicle_type``: itself unless it is a :class:`FleetRoads`."""
    return provider.for_type(vehicle_type) if isinstance(provider, FleetRoads) else provider
