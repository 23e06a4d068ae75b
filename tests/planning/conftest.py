"""Fixtures of the planning tests (builders live in planning_builders.py)."""

from __future__ import annotations

import pytest
from planning_builders import random_plan

from dispatcher.planning.model import Plan


@pytest.fixture
def small_plan() -> Plan:
    """Two vehicles, twelve stops with pickups: the everyday case."""
    return random_plan(1)
