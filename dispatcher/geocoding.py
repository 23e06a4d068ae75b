"""Addresses to positions, through a configurable geocoding provider (geopy).

Orders often arrive with an address and no coordinates (a shop's order export, an urgent order
typed in by a dispatcher). geopy speaks the real providers' protocols (Nominatim, Photon,
Pelias), so we do not hand-write HTTP clients; this module adds what a dispatch console needs
around it:

- **a cache** (:class:`GeocodeCache`, stored in the database by
  ``dispatcher.persistence.geocode_repo``), so a re-import or a repeated address costs no
  request, and a public provider is not asked twice;
- **the provider's rate policy**: Nominatim's public server allows one request a second, so
  requests are spaced by ``min_delay_s``; a 429 answer waits its ``Retry-After`` (bounded)
  once, then fails the address as "rate limited";
- **a circuit breaker**: after a few consecutive "provider unreachable" answers the geocoder
  fails fast for a while, so an import of 500 rows with the provider down finishes in seconds
  with every such line reported, instead of hanging the window or the command;
- **errors a person can act on**: not found, unreachable, refused, each naming the address;
- **pins set by hand**: where a dispatcher dropped a pin on the map for an address (Fix
  position on map…, or New order… > Place on map), that position is kept in the same cache
  under a provider-independent key (:func:`manual_key`, provider ``manual``) and wins over
  any provider's answer, also with ``provider = "none"``: a re-import of the address lands
  where the dispatcher put it.

Config (``[geocoding]``): ``provider`` (nominatim | photon | pelias | none), ``url`` (the
provider's base URL; default: the public server of Nominatim or Photon), ``user_agent``
(Nominatim's policy requires one that identifies the application), ``email``,
``api_key_env`` (Pelias), ``min_delay_s``, ``timeout_s``, ``country_codes`` (bias, e.g.
"gb").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from dispatcher import __version__
from dispatcher.clock import system_monotonic
from dispatcher.config import Settings
from dispatcher.errors import ConfigError, DispatcherError

PROVIDERS = ("nominatim", "photon", "pelias", "none")
#: The "provider" of a position a dispatcher placed by hand on the map.
MANUAL = "manual"
_PUBLIC_URLS = {
    "nominatim": "https://nominatim.openstreetmap.org",
    "photon": "https://photon.komoot.io",
}
#: Consecutive "unreachable" answers that open the circuit, and how long it stays open.
BREAKER_FAILURES = 3
BREAKER_OPEN_S = 60.0
#: Longest wait we accept from a provider's Retry-After before giving up on an address.
MAX_RETRY_AFTER_S = 10.0


class GeocodeError(DispatcherError):
    """An address could not be placed; ``reason`` is a stable code, the text says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GeocodeHit:
    """Where an address is, as the provider understood it (``label`` shows the dispatcher)."""

    lat: float
    lon: float
    label: str
    provider: str


class GeocodeCache(Protocol):
    """Remembered answers by normalized query; only hits are stored."""

    def get(self, key: str) -> GeocodeHit | None: ...

    def put(self, key: str, hit: GeocodeHit) -> None: ...


@dataclass
class MemoryGeocodeCache:
    """A cache for one process (and the tests); the console uses the database's."""

    hits: dict[str, GeocodeHit] = field(default_factory=dict)

    def get(self, key: str) -> GeocodeHit | None:
        return self.hits.get(key)

    def put(self, key: str, hit: GeocodeHit) -> None:
        self.hits[key] = hit


@dataclass(frozen=True, slots=True)
class GeocodingSettings:
    """The ``[geocoding]`` table, validated."""

    provider: str = "nominatim"
    url: str = ""
    user_agent: str = f"Dispatcher/{__version__} (fleet dispatch console)"
    email: str = ""
    api_key_env: str = "DISPATCHER_GEOCODER_KEY"
    min_delay_s: float = 1.0
    timeout_s: float = 5.0
    country_codes: str = ""

    @property
    def base_url(self) -> str:
        return self.url or _PUBLIC_URLS.get(self.provider, "")

    @classmethod
    def from_settings(cls, settings: Settings) -> GeocodingSettings:
        return cls.from_mapping(settings.sections.get("geocoding", {}))

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> GeocodingSettings:
        """Read ``[geocoding]``; a wrong key or value is a ConfigError naming it."""
        known = set(cls.__dataclass_fields__)
        for key in table:
            if key not in known:
                raise ConfigError(f"[geocoding] has no setting '{key}'.")
        values = dict(table)
        for key in ("min_delay_s", "timeout_s"):
            if key in values:
                value = values[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ConfigError(f"[geocoding] {key} must be a number >= 0, not {value!r}.")
                values[key] = float(value)
        for key in ("provider", "url", "user_agent", "email", "api_key_env", "country_codes"):
            if key in values and not isinstance(values[key], str):
                raise ConfigError(f"[geocoding] {key} must be a string.")
        settings = cls(**values)
        if settings.provider not in PROVIDERS:
            raise ConfigError(
                f"[geocoding] provider must be one of {', '.join(PROVIDERS)}, "
                f"not {settings.provider!r}."
            )
        if settings.provider == "pelias" and not settings.url:
            raise ConfigError("[geocoding] provider 'pelias' needs the url of your Pelias server.")
        if settings.url and urlsplit(settings.url).scheme not in ("http", "https"):
            raise ConfigError(
                f"[geocoding] url must start with http:// or https://: {settings.url}"
            )
        return settings


def cache_key(provider: str, address: str) -> str:
    """One key per place however it is typed: case and spacing do not make a new request."""
    text = "".join(ch for ch in address if ch.isprintable() or ch.isspace())
    return f"{provider}|{' '.join(text.casefold().split())}"[:400]


def manual_key(address: str) -> str:
    """Where a pin set by hand for ``address`` is kept: the same for every provider, so
    switching from Nominatim to Photon keeps the dispatchers' corrections."""
    return cache_key(MANUAL, address)


class Geocoder:
    """Place addresses, one at a time, politely; safe to share between threads."""

    def __init__(
        self,
        settings: GeocodingSettings,
        cache: GeocodeCache | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        monotonic: Callable[[], float] = system_monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._cache = cache if cache is not None else MemoryGeocodeCache()
        self._environ = environ
        self._monotonic, self._sleep = monotonic, sleep
        self._lock = threading.Lock()
        self._last_request = -1e9
        self._failures = 0
        self._open_until = 0.0
        self._client: Any = None
        #: Requests actually sent to the provider (cache hits excluded), for reports.
        self.requests = 0

    @property
    def enabled(self) -> bool:
        return self.settings.provider != "none"

    def geocode(self, address: str) -> GeocodeHit:
        """The position of ``address``; :class:`GeocodeError` says why there is none.

        A pin a dispatcher set by hand for the address comes first (its ``provider`` is
        :data:`MANUAL`), then the cache of the configured provider, then the provider.
        """
        text = " ".join(address.split())
        if not text:
            raise GeocodeError("empty", "there is no address to look up")
        pinned = self._cache.get(manual_key(text))
        if pinned is not None:
            return pinned
        if not self.enabled:
            raise GeocodeError("disabled", "no coordinates, and no geocoder to place the address")
        key = cache_key(self.settings.provider, text)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        with self._lock:  # one request at a time: the provider's rate is per client
            hit = self._ask(text)
        self._cache.put(key, hit)
        return hit

    def _ask(self, text: str) -> GeocodeHit:
        from geopy import exc as geopy_exc

        now = self._monotonic()
        if now < self._open_until:
            raise GeocodeError(
                "unavailable",
                f"geocoder {self.settings.base_url} is unreachable; not tried for "
                f"{self._open_until - now:.0f} s more",
            )
        for attempt in (1, 2):
            self._wait_turn()
            try:
                self.requests += 1
                found = self._query(text)
            except geopy_exc.GeocoderRateLimited as exc:
                wait = float(exc.retry_after or self.settings.min_delay_s or 1.0)
                if attempt == 1 and wait <= MAX_RETRY_AFTER_S:
                    self._sleep(wait)
                    continue
                raise GeocodeError(
                    "rate_limited", f"the geocoder asks us to slow down: {exc}"
                ) from None
            except geopy_exc.GeopyError as exc:
                if not _is_outage(exc):
                    raise GeocodeError("refused", f"the geocoder refused '{text}': {exc}") from None
                self._failures += 1
                if self._failures >= BREAKER_FAILURES:
                    self._open_until = self._monotonic() + BREAKER_OPEN_S
                raise GeocodeError(
                    "unavailable", f"geocoder {self.settings.base_url} is unreachable ({exc})"
                ) from None
            self._failures = 0
            if found is None:
                raise GeocodeError("not_found", f"no place found for '{text}'")
            lat, lon = float(found.latitude), float(found.longitude)
            return GeocodeHit(lat, lon, found.address or text, self.settings.provider)
        raise GeocodeError("rate_limited", "the geocoder keeps asking us to slow down")

    def _wait_turn(self) -> None:
        """Space requests by ``min_delay_s`` (Nominatim's policy: at most one a second)."""
        wait = self._last_request + self.settings.min_delay_s - self._monotonic()
        if wait > 0:
            self._sleep(wait)
        self._last_request = self._monotonic()

    def _query(self, text: str) -> Any:
        client = self._client or self._make_client()
        s = self.settings
        if s.provider == "nominatim":
            extra: dict[str, Any] = {"country_codes": s.country_codes} if s.country_codes else {}
            return client.geocode(text, exactly_one=True, timeout=s.timeout_s, **extra)
        return client.geocode(text, exactly_one=True, timeout=s.timeout_s)

    def _make_client(self) -> Any:
        import os

        from geopy.adapters import URLLibAdapter
        from geopy.geocoders import Nominatim, Pelias, Photon

        s = self.settings
        parts = urlsplit(s.base_url)
        domain = parts.netloc + parts.path.rstrip("/")
        common: dict[str, Any] = {
            "domain": domain,
            "scheme": parts.scheme or "https",
            "timeout": s.timeout_s,
            # The standard library's HTTP, not requests': requests retries 429s on its own
            # (sleeping inside urllib3), and the rate policy must be ours, in one place.
            "adapter_factory": URLLibAdapter,
        }
        agent = f"{s.user_agent} {s.email}".strip() if s.email else s.user_agent
        if s.provider == "nominatim":
            self._client = Nominatim(user_agent=agent, **common)
        elif s.provider == "photon":
            self._client = Photon(user_agent=agent, **common)
        else:
            env = os.environ if self._environ is None else self._environ
            key = env.get(s.api_key_env) or None
            self._client = Pelias(api_key=key, user_agent=agent, **common)
        return self._client


def _is_outage(exc: BaseException) -> bool:
    """The provider is away (down, unreachable, timing out, failing): not the address's fault.

    geopy's standard-library adapter reports a refused connection as a plain service error
    with the ``URLError`` as its context, and an HTTP error with an ``AdapterHTTPError``
    (which carries the status: 5xx is an outage, 4xx is about our request).
    """
    from geopy import exc as geopy_exc

    if isinstance(exc, geopy_exc.GeocoderUnavailable | geopy_exc.GeocoderTimedOut):
        return True
    cause = exc.__cause__ or exc.__context__
    status = getattr(cause, "status_code", None)
    if isinstance(status, int):
        return status >= 500
    return isinstance(cause, OSError)
