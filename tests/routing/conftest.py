"""The real engine for the routing tests: OSRM's programs and the Helsinki extract built once.

Needs OSRM's programs (the osrm-bindings wheel in .osrm-engine, which .ci/setup.sh makes, or
``DISPATCHER_OSRM_ENGINE``): skipped locally without them, a failure in CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from helsinki_roads import EXTRACT

from dispatcher.routing import (
    Dataset,
    OsrmTools,
    Router,
    RoutingEngineError,
    RoutingSettings,
    build_dataset,
)


@pytest.fixture(scope="session")
def tools() -> OsrmTools:
    try:
        return OsrmTools.find()
    except RoutingEngineError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc}: .ci/setup.sh must unpack the engine into .osrm-engine")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def dataset(tools: OsrmTools, tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return build_dataset(EXTRACT, tmp_path_factory.mktemp("roads"), ["car", "bicycle"], tools)


@pytest.fixture(scope="module")
def router(dataset: Dataset) -> Iterator[Router]:
    r = Router(RoutingSettings(provider="osrm", dataset=str(dataset.folder)))
    yield r
    r.close()
