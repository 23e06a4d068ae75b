"""The bench's VRPTW instance generator (``bench/vrptw_gen.py``): same seed, same instance;
every instance valid and solvable with its vehicle count; readable by ``dispatcher solve``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from dispatcher.planning.solomon import SolomonInstance, read_solomon


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "vrptw_gen.py"
    spec = importlib.util.spec_from_file_location("bench_vrptw_gen", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_vrptw_gen"] = module
    spec.loader.exec_module(module)
    return module


def _arrays(inst: SolomonInstance) -> list[np.ndarray]:
    return [inst.x, inst.y, inst.demand, inst.ready, inst.due, inst.service]


@pytest.mark.parametrize("kind", ["C", "R", "RC"])
def test_same_seed_same_instance_other_seed_other_instance(gen: ModuleType, kind: str) -> None:
    a, b = gen.generate(60, kind, 1, 7), gen.generate(60, kind, 1, 7)
    c = gen.generate(60, kind, 1, 8)
    assert (a.name, a.vehicles, a.capacity) == (b.name, b.vehicles, b.capacity)
    assert all(np.array_equal(x, y) for x, y in zip(_arrays(a), _arrays(b), strict=True))
    assert not np.array_equal(a.x, c.x)
    assert a.name == f"gen-{kind}1-60-s7" != c.name


@pytest.mark.parametrize(
    ("n", "kind", "series", "seed"),
    [(100, "C", 1, 1), (100, "R", 1, 2), (100, "RC", 1, 3), (80, "R", 2, 4), (80, "C", 2, 5)],
)
def test_instances_are_valid_and_solvable(
    gen: ModuleType, n: int, kind: str, series: int, seed: int
) -> None:
    inst = gen.generate(n, kind, series, seed)
    d = inst.distance_matrix()
    horizon = inst.due[0]
    assert inst.customers == n and inst.ready[0] == 0
    assert inst.capacity == (200 if series == 1 else 1000)
    assert np.all(inst.ready <= inst.due) and np.all(inst.demand[1:] >= 1)
    assert np.all(inst.demand[1:] <= inst.capacity)
    side = round(100 * np.sqrt(n / 100))
    assert inst.x.min() >= 0 and inst.x.max() <= side and inst.y.max() <= side
    # every customer can be served alone: reached in its window, home by the horizon
    alone = np.maximum(d[0, 1:], inst.ready[1:])
    assert np.all(alone <= inst.due[1:] + 1e-9)
    assert np.all(alone + inst.service[1:] + d[1:, 0] <= horizon + 1e-9)
    windowed = np.mean(inst.due[1:] - inst.ready[1:] < 0.5 * horizon)
    assert 0.6 < windowed < 0.9  # about 75 % have a real window
    routes = gen.greedy_routes(inst)
    assert inst.check(routes) == []  # a solution with at most inst.vehicles routes exists
    assert len(routes) <= inst.vehicles


def test_clustered_customers_are_closer_to_each_other_than_random_ones(gen: ModuleType) -> None:
    def nearest(inst: SolomonInstance) -> float:
        d = inst.distance_matrix()[1:, 1:] + np.eye(inst.customers) * 1e9
        return float(d.min(axis=1).mean())

    c, r = gen.generate(200, "C", 1, 1), gen.generate(200, "R", 1, 1)
    assert nearest(c) < 0.6 * nearest(r)
    assert set(c.service[1:]) == {90.0} and set(r.service[1:]) == {10.0}


def test_text_round_trips_through_the_solomon_reader(gen: ModuleType, tmp_path: Path) -> None:
    inst = gen.generate(50, "RC", 2, 3)
    path = tmp_path / "gen.txt"
    path.write_text(gen.to_solomon_text(inst))
    back = read_solomon(path)
    assert (back.name, back.vehicles, back.capacity) == (inst.name, inst.vehicles, inst.capacity)
    assert all(np.array_equal(x, y) for x, y in zip(_arrays(back), _arrays(inst), strict=True))


def test_the_suite_covers_sizes_kinds_and_seeds(gen: ModuleType) -> None:
    names = [i.name for i in gen.suite((30, 40), 4)]
    assert names == [
        "gen-C1-30-s1",
        "gen-R1-30-s2",
        "gen-RC1-30-s3",
        "gen-C1-30-s4",
        "gen-C1-40-s1",
        "gen-R1-40-s2",
        "gen-RC1-40-s3",
        "gen-C1-40-s4",
    ]


@pytest.mark.parametrize(("n", "kind", "series"), [(0, "R", 1), (10, "X", 1), (10, "R", 3)])
def test_a_bad_spec_is_refused(gen: ModuleType, n: int, kind: str, series: int) -> None:
    with pytest.raises(ValueError, match="bad instance spec"):
        gen.generate(n, kind, series, 1)
