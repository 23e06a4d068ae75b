"""``dispatcher_ui.workers``: a background job's result reaches the GUI thread, or is dropped
quietly when the application is already gone (a job that outlived the wait at close)."""

from __future__ import annotations

import logging

import pytest
import shiboken6
from pytestqt.qtbot import QtBot

from dispatcher_ui.workers import _Job, run_in_background


def test_a_job_result_reaches_its_callback(qtbot: QtBot) -> None:
    got: list[object] = []
    run_in_background(lambda: 41 + 1, got.append, got.append)
    qtbot.waitUntil(lambda: got == [42])


def test_a_job_finishing_after_its_signals_are_gone_drops_the_result(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = _Job(lambda: "late")
    job.setAutoDelete(False)
    shiboken6.delete(job.signals)  # what closing the application does to a pending job's
    with caplog.at_level(logging.DEBUG, logger="dispatcher_ui.workers"):
        job.run()  # no "Signal source has been deleted" out of the worker thread
    assert "finished after the window closed" in caplog.text
