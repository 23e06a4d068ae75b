"""The routing engine as the rest of the core sees it: configured once, asked everywhere.

:class:`Router` turns ``[routing]`` into a travel-time provider per vehicle type and road
paths for the map. With a dataset it starts one ``osrm-routed`` child per profile on first use
(never at construction, which may be on the GUI thread), and stops them on :meth:`close`. An
engine that cannot start is a warning and straight lines from then on, the way a dead server
already is (dispatcher/eta/osrm.py): planning never stops for want of roads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dispatcher.config import Settings
from dispatcher.errors import DispatcherError
from dispatcher.eta.fleet_roads import FleetRoads
from dispatcher.eta.learned import LearnedProvider, LearnedSpeeds
from dispatcher.eta.osrm import Fetch, OsrmProvider, urllib_fetch
from dispatcher.eta.settings import EtaSettings
from dispatcher.eta.travel import (
    HaversineProvider,
    Location,
    RoadPath,
    SpeedProfile,
    TravelMatrix,
    TravelTimeProvider,
    straight_path,
)
from dispatcher.routing.engine import MAX_TABLE, RoutedProcess
from dispatcher.routing.live_legs import LiveLegRoads
from dispatcher.routing.settings import RoutingSettings
from dispatcher.routing.tools import Dataset, OsrmTools

log = logging.getLogger(__name__)

#: Free-flow speed of the straight-line fallback per profile (km/h).
_FALLBACK_KMH = {"bicycle": 15.0, "foot": 5.0}


def _fallback(profile: str) -> HaversineProvider:
    speed = _FALLBACK_KMH.get(profile, 30.0)
    rush = SpeedProfile.flat() if profile in _FALLBACK_KMH else SpeedProfile.urban_rush_hours()
    return HaversineProvider(speed_kmh=speed, profile=rush)


class Router:
    """Travel times and road paths for every vehicle type, from one ``[routing]``."""

    def __init__(
        self,
        settings: RoutingSettings | None = None,
        *,
        env: Mapping[str, str] | None = None,
        fetch: Fetch = urllib_fetch,
        learned: LearnedSpeeds | None = None,
    ) -> None:
        self.settings = settings or RoutingSettings()
        #: Speeds learned from the history (``[eta] profile``, docs/eta.md): applied to the
        #: motor profiles' matrices; bicycles and feet do not sit in traffic.
        self.learned = learned
        self._env, self._fetch = env, fetch
        self._lock = threading.Lock()
        self._children: dict[str, RoutedProcess] = {}
        self._engines: dict[str, OsrmProvider | None] = {}
        self._warm: dict[str, LiveLegRoads] = {}
        self._warm_fleet: FleetRoads | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Router:
        """``[routing]`` and the learned speeds of ``[eta]``: the router a process uses."""
        return cls(
            RoutingSettings.from_settings(settings),
            learned=EtaSettings.from_settings(settings).load(),
        )

    @property
    def source(self) -> str:
        """``haversine``, ``osrm <url>`` or ``osrm dataset <folder>`` (status lines, logs)."""
        s = self.settings
        if s.provider != "osrm":
            return "haversine"
        return f"osrm {s.url}" if s.url else f"osrm dataset {s.dataset}"

    def provider(self, vehicle_type: str | None = None) -> RoadProvider:
        """The travel-time provider for ``vehicle_type`` (its ``[routing.profiles]`` entry)."""
        return self._road(self.settings.profile_for(vehicle_type))

    def _road(self, profile: str) -> RoadProvider:
        learned = None if profile in _FALLBACK_KMH else self.learned
        return RoadProvider(self, profile, learned)

    def fleet(self) -> FleetRoads:
        """Every vehicle type's provider in one (:mod:`dispatcher.eta.fleet_roads`): what a
        plan of a mixed fleet is timed with, each vehicle on its type's profile."""
        return FleetRoads(self.settings.profile_for, self._road)

    def warm_fleet(self) -> FleetRoads:
        """:meth:`fleet` of the never-blocking providers (:meth:`warm_provider`), for the
        GUI thread's route desk; one per router, so its warmed matrices are shared."""
        with self._lock:
            if self._warm_fleet is None:
                self._warm_fleet = FleetRoads(self.settings.profile_for, self._warm_profile)
            return self._warm_fleet

    def warm_provider(self, vehicle_type: str | None = None) -> LiveLegRoads:
        """The never-blocking provider of ``vehicle_type`` for the GUI thread's route desk
        (:mod:`dispatcher.routing.warm`); one per profile, shared by the worker that warms it.

        With learned speeds its straight lines carry them too: in full without an engine, in
        shape only beside an engine's warmed pairs (they share the warmed matrix's profile).
        A live position's row (its leg to the next stop) comes from the engine too, fetched
        on a thread of the provider's own (:mod:`dispatcher.routing.live_legs`).
        """
        return self._warm_profile(self.settings.profile_for(vehicle_type))

    def _warm_profile(self, profile: str) -> LiveLegRoads:
        learned = None if profile in _FALLBACK_KMH else self.learned
        active = self.settings.provider != "haversine"
        with self._lock:
            if profile not in self._warm:
                fallback: TravelTimeProvider = _fallback(profile)
                if learned is not None:
                    fallback = LearnedProvider(fallback, learned.relative() if active else learned)
                self._warm[profile] = LiveLegRoads(
                    RoadProvider(self, profile, learned),
                    fallback,
                    active=active,
                    engine=lambda: self.engine(profile),
                    learned=learned,
                )
            return self._warm[profile]

    def route(self, points: Sequence[Location], vehicle_type: str | None = None) -> RoadPath:
        """The road path through ``points`` in order (straight lines without an engine)."""
        return self.provider(vehicle_type).route(points)

    def engine(self, profile: str) -> OsrmProvider | None:
        """The OSRM provider serving ``profile``, starting its child the first time; None
        when routing is straight-line or the engine could not start (said once, as a
        warning)."""
        s = self.settings
        if s.provider != "osrm":
            return None
        with self._lock:
            if profile in self._engines:
                return self._engines[profile]
            if self._closed:
                return None
            engine: OsrmProvider | None
            try:
                url, table = s.url, 100
                if not url:
                    tools = OsrmTools.find(s.engine, self._env)
                    child = RoutedProcess(tools, Dataset.open(s.dataset).base(profile))
                    self._children[profile] = child
                    url, table = child.start(), MAX_TABLE
                engine = OsrmProvider(
                    url,
                    profile=profile if s.url else "driving",
                    timeout_s=s.timeout_s,
                    max_locations=table,
                    fallback=_fallback(profile),
                    speed_profile=_fallback(profile).profile,
                    fetch=self._fetch,
                )
            except DispatcherError as exc:
                log.warning(
                    "routing on straight lines: the %s engine cannot start: %s", profile, exc
                )
                engine = None
            self._engines[profile] = engine
            return engine

    def close(self) -> None:
        """Stop the engine children (the core's close; safe to call twice)."""
        with self._lock:
            self._closed = True
            children, self._children = list(self._children.values()), {}
            self._engines.clear()
            warm = list(self._warm.values())
        for provider in warm:
            provider.close()
        for child in children:
            child.stop()


@dataclass(frozen=True, slots=True)
class RoadProvider:
    """A :class:`~dispatcher.eta.travel.TravelTimeProvider` for one profile of a router.

    Cheap to make and hold anywhere: the engine is reached only when a matrix or a path is
    asked for (off the GUI thread).
    """

    router: Router
    profile: str
    learned: LearnedSpeeds | None = None

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        engine: TravelTimeProvider | None = self.router.engine(self.profile)
        base = engine or _fallback(self.profile)
        if self.learned is None:
            return base.matrix(locations)
        # learned against straight lines: an engine keeps its own level, takes the shape
        speeds = self.learned if engine is None else self.learned.relative()
        return LearnedProvider(base, speeds).matrix(locations)

    def route(self, points: Sequence[Location]) -> RoadPath:
        engine = self.router.engine(self.profile)
        if engine is None:
            return straight_path(points, _fallback(self.profile).speed_kmh)
        return engine.route(points)
