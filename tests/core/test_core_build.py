"""build_core (dispatcher/app.py): the one composition; a bare Core builds no service."""

from __future__ import annotations

import pytest

from dispatcher.alerts.runner import AlertRunner
from dispatcher.app import ALERT_RULES, build_core
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.errors import ValidationError
from dispatcher.messaging.service import MessagingService
from dispatcher.services import ServiceMissing


def test_a_bare_core_has_no_services_and_says_which_one_is_missing(sqlite_url: str) -> None:
    core = Core(Settings(database_url=sqlite_url))
    try:
        assert core.services == [] and core.find_service(MessagingService) is None
        with pytest.raises(ServiceMissing, match="outbox relay"):
            core.service(MessagingService)
    finally:
        core.close()


def test_a_console_gets_retention_rules_and_messaging(sqlite_url: str) -> None:
    core = build_core(Settings(database_url=sqlite_url))
    try:
        names = [s.name for s in core.services]
        assert names == [
            "history retention",
            "POD retention",
            "alert rules",
            "outbox relay",
            "ETA recorder",
        ]
        assert isinstance(core.service(AlertRunner), AlertRunner)
    finally:
        core.close()


def test_a_console_opens_without_rules_it_cannot_start_and_keeps_why(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, sections={"alerts": {"interval_s": "soon"}})
    core = build_core(settings)
    try:
        assert core.find_service(AlertRunner) is None
        assert ALERT_RULES in core.not_started
        with pytest.raises(ServiceMissing, match=r"no alert rules service: alerts\.interval_s"):
            core.service(AlertRunner)
        assert core.find_service(MessagingService) is not None
    finally:
        core.close()


def test_a_recorder_refuses_to_run_without_its_rules(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, sections={"alerts": {"interval_s": "soon"}})
    with pytest.raises(ValidationError, match="interval_s"):
        build_core(settings, "serve")
