"""The first-run answers, applied: checked first, the depot placed, the settings written
into the owner's config file (comments kept), the depot and the vans created and audited.
A fleet in Manchester (not the demo), on SQLite and PostgreSQL."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fake_geocoder import Provider

from dispatcher.first_run import (
    FirstRunAnswers,
    apply_first_run,
    check_answers,
    needs_first_run,
    write_settings,
)
from dispatcher.geocoding import Geocoder, GeocodingSettings
from dispatcher.model.fleet_setup import FieldErrors
from dispatcher.persistence.database import Database
from dispatcher.persistence.fleet_setup_repo import list_fleet
from dispatcher.users.desk import UserDesk

ANSWERS = FirstRunAnswers(
    company="Northern Bakes",
    timezone="Europe/London",
    units="mi",
    depot_name="Ancoats bakery",
    depot_address="1 Piccadilly, Manchester M1 1AA",
    vans=3,
    broker="lan",
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def geocoder(provider: Provider) -> Geocoder:
    return Geocoder(GeocodingSettings(url=provider.url, min_delay_s=0))


def test_a_fresh_fleet_is_set_up_from_the_answers(
    db: Database, tmp_path: Path, provider: Provider
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('# my notes\n[ui]\ntheme = "light"  # easier on the eyes\n')
    actor = UserDesk(db).login("owner").id  # the first user on an empty database is admin
    assert needs_first_run(db)
    result = apply_first_run(db, config, ANSWERS, actor=actor, geocoder=geocoder(provider))
    assert (result.depot_lat, result.depot_lon) == pytest.approx((53.4794892, -2.2451148))
    assert result.vehicle_ids == ("V01", "V02", "V03")
    assert not needs_first_run(db)
    text = config.read_text()
    assert "# my notes" in text and "# easier on the eyes" in text
    data = tomllib.loads(text)
    assert data["fleet"] == {"timezone": "Europe/London", "units": "mi"}
    assert data["messaging"]["company_name"] == "Northern Bakes"
    assert data["embedded_broker"] is True and data["broker"]["listen"] == "0.0.0.0:8883"
    assert data["ui"]["theme"] == "light"
    with db.session() as session:
        fleet = list_fleet(session)
    assert [d["name"] for d in fleet["depots"]] == ["Ancoats bakery"]
    assert [v["name"] for v in fleet["vehicles"]] == ["Van 01", "Van 02", "Van 03"]
    assert {v["depot_id"] for v in fleet["vehicles"]} == {result.depot_id}


def test_wrong_answers_are_named_and_nothing_is_written(
    db: Database, tmp_path: Path, provider: Provider
) -> None:
    config = tmp_path / "config.toml"
    bad = replace(ANSWERS, company=" ", timezone="Europe/Manchester", vans=0, shift_end="07:00")
    problems = check_answers(bad)
    assert set(problems) == {"company", "timezone", "vans", "van shift_end"}
    actor = UserDesk(db).login("owner").id
    with pytest.raises(FieldErrors):
        apply_first_run(db, config, bad, actor=actor, geocoder=geocoder(provider))
    unknown = replace(ANSWERS, depot_address="99 Nowhere Lane")
    with pytest.raises(FieldErrors, match="no place found"):
        apply_first_run(db, config, unknown, actor=actor, geocoder=geocoder(provider))
    assert not config.exists() and needs_first_run(db)


def test_an_own_broker_is_written_as_its_url(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    from dispatcher.first_run import settings_of

    write_settings(
        config, settings_of(replace(ANSWERS, broker="external", broker_url="mqtts://b:8883"))
    )
    data = tomllib.loads(config.read_text())
    assert data["embedded_broker"] is False and data["broker"] == {"url": "mqtts://b:8883"}
    assert "broker_url" in check_answers(replace(ANSWERS, broker="external", broker_url="b"))


def test_a_broken_config_file_is_not_overwritten(tmp_path: Path) -> None:
    from dispatcher.errors import ConfigError

    config = tmp_path / "config.toml"
    config.write_text("[ui\ntheme=")
    with pytest.raises(ConfigError, match="Cannot update"):
        write_settings(config, {"fleet": {"units": "km"}})
    assert config.read_text() == "[ui\ntheme="
