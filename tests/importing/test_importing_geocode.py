"""Orders with an address and no coordinates are placed by the geocoder.

The provider is a real HTTP server on loopback that answers in Nominatim's and Photon's real
response formats (tests/fake_geocoder.py), never the internet. Rate
spacing and Retry-After are checked with an injected clock and sleep, not wall time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_geocoder import PLACES, Provider
from sqlalchemy import select

from dispatcher.errors import ConfigError
from dispatcher.geocoding import GeocodeError, Geocoder, GeocodingSettings
from dispatcher.persistence.database import Database
from dispatcher.persistence.geocode_repo import SqlGeocodeCache
from dispatcher.persistence.orm import Stop
from main import main


class FakeTime:
    """An injected monotonic clock whose sleep only moves it (no wall time passes)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def geocoder(url: str, provider: str = "nominatim", **kw: Any) -> tuple[Geocoder, FakeTime]:
    t = FakeTime()
    settings = GeocodingSettings(provider=provider, url=url, timeout_s=2, **kw)
    return Geocoder(settings, monotonic=t.monotonic, sleep=t.sleep), t


def test_nominatim_answers_are_read_and_identify_us(provider: Provider) -> None:
    coder, _ = geocoder(provider.url)
    hit = coder.geocode("1 Piccadilly,  Manchester M1 1AA")
    assert (hit.lat, hit.lon) == PLACES["1 piccadilly manchester m1 1aa"]
    assert "Greater Manchester" in hit.label and hit.provider == "nominatim"
    assert provider.agents[0].startswith("Dispatcher/")  # Nominatim's usage policy


def test_photon_answers_are_read(provider: Provider) -> None:
    coder, _ = geocoder(provider.url, "photon")
    hit = coder.geocode("45 Deansgate, Manchester M3 2AY")
    assert (hit.lat, hit.lon) == PLACES["45 deansgate manchester m3 2ay"]


def test_an_unknown_address_says_so(provider: Provider) -> None:
    coder, _ = geocoder(provider.url)
    with pytest.raises(GeocodeError, match="no place found for '99 Nowhere Lane'") as info:
        coder.geocode("99 Nowhere Lane")
    assert info.value.reason == "not_found"


def test_requests_are_spaced_by_the_providers_policy(provider: Provider) -> None:
    coder, t = geocoder(provider.url, min_delay_s=1.0)
    for address in list(PLACES)[:3]:
        coder.geocode(address)
    assert len(provider.queries) == 3
    assert sum(t.slept) == pytest.approx(2.0)  # one second between requests, none before


def test_retry_after_is_honoured_once(provider: Provider) -> None:
    coder, t = geocoder(provider.url, min_delay_s=0)
    provider.script = [429]
    assert coder.geocode("1 Piccadilly, Manchester M1 1AA").lat == pytest.approx(53.4794892)
    assert t.slept == [2.0] and len(provider.queries) == 2
    provider.script = [429, 429]
    with pytest.raises(GeocodeError, match="slow down") as info:
        coder.geocode("10 Oxford Road, Manchester M1 5QA")
    assert info.value.reason == "rate_limited"


def test_a_provider_that_is_down_is_not_asked_again_for_a_while(closed_url: str) -> None:
    coder, t = geocoder(closed_url, min_delay_s=0)
    for _ in range(3):
        with pytest.raises(GeocodeError, match="unreachable"):
            coder.geocode("1 Piccadilly, Manchester M1 1AA")
    assert coder.requests == 3
    with pytest.raises(GeocodeError, match="not tried for 60 s more"):
        coder.geocode("45 Deansgate, Manchester M3 2AY")
    assert coder.requests == 3
    t.now += 61  # the circuit closes again
    with pytest.raises(GeocodeError, match="unreachable"):
        coder.geocode("45 Deansgate, Manchester M3 2AY")
    assert coder.requests == 4


def test_the_cache_is_shared_through_the_database(db_url: str, provider: Provider) -> None:
    db = Database(db_url)
    try:
        settings = GeocodingSettings(url=provider.url, min_delay_s=0)
        first = Geocoder(settings, SqlGeocodeCache(db))
        first.geocode("1 Piccadilly, Manchester M1 1AA")
        other_desk = Geocoder(settings, SqlGeocodeCache(db))
        hit = other_desk.geocode("1 PICCADILLY,   manchester m1 1aa")
        assert hit.lat == pytest.approx(53.4794892)
        assert len(provider.queries) == 1 and other_desk.requests == 0
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"provider": "google"}, "provider must be one of"),
        ({"min_delay_s": "fast"}, "min_delay_s must be a number"),
        ({"url": "ftp://x"}, "url must start with http"),
        ({"provider": "pelias"}, "needs the url"),
        ({"colour": "red"}, "no setting 'colour'"),
    ],
)
def test_bad_settings_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GeocodingSettings.from_mapping(table)


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[geocoding]\nprovider = "nominatim"\nurl = "{url}"\nmin_delay_s = 0\n')
    return path


def _addresses_csv(tmp_path: Path) -> Path:
    rows = [
        "order_id,customer_name,address,window_start,window_end",
        "M-1,Ann,1 Piccadilly Manchester M1 1AA,09:00,12:00",
        "M-2,Bob,45 Deansgate Manchester M3 2AY,09:00,12:00",
        "M-3,Cat,99 Nowhere Lane,09:00,12:00",
        "M-4,Dan,10 Oxford Road Manchester M1 5QA,13:00,15:00",
    ]
    path = tmp_path / "manchester.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_cli_places_addresses_and_reports_the_one_it_cannot(
    db_url: str, tmp_path: Path, provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = _addresses_csv(tmp_path)
    argv = ["--config", str(_config(tmp_path, provider.url)), "--db", db_url]
    args = ["import", "orders", str(csv_path), "--date", "2026-12-07"]
    assert main([*argv, *args, "--timezone", "Europe/London"]) == 2
    out = capsys.readouterr().out
    assert "line 4: address not placed: no place found for '99 Nowhere Lane'" in out
    assert "imported 3 orders (3 placed from their address)" in out
    db = Database(db_url)
    try:
        with db.session() as session:
            stops = {s.order_ref: (s.lat, s.lon) for s in session.scalars(select(Stop))}
    finally:
        db.dispose()
    assert stops["M-2"] == pytest.approx(PLACES["45 deansgate manchester m3 2ay"])
    assert set(stops) == {"M-1", "M-2", "M-4"}
    asked = len(provider.queries)
    assert main([*argv, *args, "--timezone", "Europe/London"]) == 2  # again: all cached
    assert len(provider.queries) == asked + 1  # only the address that was not found


def test_cli_with_the_provider_down_finishes_and_reports_every_line(
    sqlite_url: str, tmp_path: Path, closed_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(_config(tmp_path, closed_url)), "--db", sqlite_url]
    csv_path = _addresses_csv(tmp_path)
    assert main([*argv, "import", "orders", str(csv_path), "--date", "2026-12-07"]) == 2
    out = capsys.readouterr().out
    assert out.count("address not placed") == 4 and "unreachable" in out
    assert "imported 0 orders" in out


def test_without_a_geocoder_such_rows_are_reported(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[geocoding]\nprovider = "none"\n')
    csv_path = _addresses_csv(tmp_path)
    argv = ["--config", str(config), "--db", sqlite_url, "import", "orders", str(csv_path)]
    assert main(argv) == 2
    assert "line 2: no coordinates, and no geocoder to place the address" in capsys.readouterr().out


def test_server_errors_count_as_an_outage_and_client_errors_do_not(provider: Provider) -> None:
    coder, _ = geocoder(provider.url, min_delay_s=0)
    provider.script = [500]
    with pytest.raises(GeocodeError, match="unreachable"):
        coder.geocode("1 Piccadilly, Manchester M1 1AA")
    provider.script = [400]
    with pytest.raises(GeocodeError, match="refused") as info:
        coder.geocode("1 Piccadilly, Manchester M1 1AA")
    assert info.value.reason == "refused"
