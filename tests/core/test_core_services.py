"""Services ticking on the core: a failing one is logged, the others go on, all are stopped."""

from __future__ import annotations

import logging

import pytest

from dispatcher.config import Settings
from dispatcher.core import Core


class Recorder:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.ticks = 0
        self.stopped = False

    def tick(self) -> None:
        self.ticks += 1
        if self.fail:
            raise RuntimeError("boom")

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.allow_error_logs  # the failure is provoked; it must be logged, not raised
def test_failing_service_does_not_stop_the_others(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    core = Core(Settings(database_url=f"sqlite:///{tmp_path}/t.sqlite3"))
    broken, healthy = Recorder("broken", fail=True), Recorder("healthy")
    core.add_service(broken)
    core.add_service(healthy)
    with caplog.at_level(logging.ERROR):
        core.tick()
        core.tick()
    assert (broken.ticks, healthy.ticks) == (2, 2)
    assert "service broken failed on tick" in caplog.text
    core.close()
    assert broken.stopped and healthy.stopped and core.services == []
