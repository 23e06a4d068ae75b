"""Which process writes for the site: the ``[console] recorder`` setting (dispatcher/site.py)."""

from __future__ import annotations

import logging

import pytest

from dispatcher.app import build_core
from dispatcher.config import Settings
from dispatcher.errors import ConfigError
from dispatcher.live import client_identity
from dispatcher.site import SiteRole, warn_if_recorder_heard


def test_a_console_records_itself_unless_told_a_recorder_does() -> None:
    assert SiteRole.from_sections({}, "console").records
    assert not SiteRole.from_sections({"console": {"recorder": "external"}}, "console").records
    assert SiteRole.from_sections({"console": {"recorder": "external"}}, "serve").records


@pytest.mark.parametrize(
    "section", [{"recorder": "yes"}, {"recorder": 1}, {"recorder": "external", "x": 1}]
)
def test_a_bad_console_section_is_refused(section: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SiteRole.from_sections({"console": section}, "console")


def test_a_console_next_to_a_recorder_does_not_prune(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url)
    settings.sections["console"] = {"recorder": "external"}
    console, serve = build_core(settings), build_core(settings, "serve")
    try:
        assert [s.name for s in console.services] == [
            "alert rules",
            "outbox relay",
            "ETA recorder",  # the boards are the console's: it records what they showed
        ]
        assert [s.name for s in serve.services] == [
            "history retention",
            "POD retention",  # the recorder prunes; the console beside it does not
            "alert rules",
            "outbox relay",
        ]
    finally:
        console.close()
        serve.close()


def test_each_console_instance_has_its_own_id_the_recorder_one_id() -> None:
    a, b = client_identity("console"), client_identity("console")
    assert a.console_id != b.console_id and not a.persistent
    serve = client_identity("serve")
    assert serve == client_identity("serve") and serve.persistent


def test_a_self_recording_console_warns_when_it_hears_a_recorder(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert warn_if_recorder_heard(SiteRole("console", "embedded"), "serve-x")
        assert not warn_if_recorder_heard(SiteRole("console", "external"), "serve-x")
        assert not warn_if_recorder_heard(SiteRole("serve"), "serve-x")
    assert 'recorder = "external"' in caplog.text


def test_a_console_without_a_recorder_says_nothing_is_stored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from dispatcher.alerts.sync import CONSOLE_PRIORITY, SERVE_PRIORITY, Election
    from dispatcher.site import RecorderWatch

    t = [100.0]
    election = Election("console-a", CONSOLE_PRIORITY, monotonic=lambda: t[0])
    watch = RecorderWatch(election.recorder_alive, after_s=15, monotonic=lambda: t[0])
    election.observe("serve-r", SERVE_PRIORITY)
    t[0] += 5
    watch.tick()
    assert watch.warning == ""
    t[0] += 14
    watch.tick()
    assert watch.warning == "", "its lease ran out 13 s ago, heard 14 s ago: not yet"
    t[0] += 2
    with caplog.at_level(logging.WARNING):
        watch.tick()
    assert watch.warning.startswith("no recorder heard for 16 s: nothing stores positions")
    assert "no recorder heard" in caplog.text
    election.observe("serve-r", SERVE_PRIORITY)
    watch.tick()
    assert watch.warning == ""
