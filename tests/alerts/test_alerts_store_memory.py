"""The in-memory AlertStore honours the contract the SQL store must honour too."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dispatcher.alerts.store import InMemoryAlertStore


def _load_contract() -> ModuleType:
    # Imported by path: tests/messaging has a store_contract.py of its own.
    path = Path(__file__).with_name("store_contract.py")
    spec = importlib.util.spec_from_file_location("alerts_store_contract", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load_contract()


@pytest.mark.parametrize("check", contract.CONTRACT_CHECKS, ids=lambda c: c.__name__)
def test_in_memory_store_honours_the_contract(check: Callable[[Any], None]) -> None:
    check(InMemoryAlertStore)
