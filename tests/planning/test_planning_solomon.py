"""Solomon instances: the reader, and ``dispatcher solve`` on C101."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.errors import ImportFileError, ValidationError
from dispatcher.planning.solomon import SolomonInstance, read_solomon
from dispatcher.planning.vrptw import run_solve

DATA = Path("/work/shared/data/vrptw")
needs_data = pytest.mark.skipif(not (DATA / "C101.txt").exists(), reason="no VRPTW data")


def write_instance(tmp_path: Path, rows: Sequence[tuple[float, ...]], vehicles: int = 3) -> Path:
    lines = ["TINY", "", "VEHICLE", "NUMBER     CAPACITY", f"  {vehicles}  50", "", "CUSTOMER"]
    lines.append("CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME")
    lines.append(" ")
    lines += ["  ".join(f"{v:g}" for v in row) for row in rows]
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@needs_data
def test_reader_parses_c101():
    inst = read_solomon(DATA / "C101.txt")
    assert (inst.name, inst.vehicles, inst.capacity, inst.customers) == ("C101", 25, 200, 100)
    assert (inst.x[1], inst.y[1], inst.demand[1], inst.ready[1], inst.due[1]) == (
        45,
        68,
        10,
        912,
        967,
    )
    assert inst.service[1] == 90 and inst.due[0] == 1236


@needs_data
def test_reader_parses_gehring_homberger():
    inst = read_solomon(DATA / "c1_2_1.txt")
    assert (inst.vehicles, inst.capacity, inst.customers) == (50, 200, 200)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 100),
            st.integers(0, 100),
            st.integers(0, 20),
            st.integers(0, 100),
            st.integers(0, 100),
            st.integers(0, 20),
        ),
        min_size=1,
        max_size=15,
    )
)
def test_reader_round_trips_any_table(tmp_path_factory: pytest.TempPathFactory, rows):
    """Whatever the numbers, the reader returns exactly the table that was written."""
    table = [(i, x, y, d, a, a + w, s) for i, (x, y, d, a, w, s) in enumerate(rows)]
    inst = read_solomon(write_instance(tmp_path_factory.mktemp("s"), table))
    assert inst.customers == len(rows) - 1
    assert list(inst.demand) == [r[3] for r in table]
    assert list(inst.due) == [r[5] for r in table]


@pytest.mark.parametrize(
    "text",
    ["", "C101\nVEHICLE\nNUMBER CAPACITY\n", "X\nVEHICLE\n1 2\nCUSTOMER\n1 0 0 0 0 10 0\n"],
)
def test_broken_files_are_import_errors(tmp_path: Path, text: str):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ImportFileError):
        read_solomon(path)


def test_missing_file_is_an_import_error(tmp_path: Path):
    with pytest.raises(ImportFileError):
        read_solomon(tmp_path / "nope.txt")


def test_check_finds_late_and_missing_customers(tmp_path: Path):
    table = [(0, 0, 0, 0, 0, 100, 0), (1, 10, 0, 5, 0, 5, 0), (2, 0, 10, 5, 0, 100, 0)]
    inst: SolomonInstance = read_solomon(write_instance(tmp_path, table))
    assert inst.check([[2], [1]]) == ["route 1 reaches 1 late (10.00 > 5.0)"]
    assert "customers not each visited exactly once" in inst.check([[2]])


@needs_data
def test_solve_c101_json_visits_every_customer_once():
    out = io.StringIO()
    code = run_solve(DATA / "C101.txt", 1.0, True, out)
    result = json.loads(out.getvalue())
    inst = read_solomon(DATA / "C101.txt")
    assert code == 0
    assert sorted(c for r in result["routes"] for c in r) == list(range(1, 101))
    assert inst.check(result["routes"]) == []
    assert result["vehicles"] == len(result["routes"]) <= 25
    assert result["distance"] == pytest.approx(inst.route_distance(result["routes"]))


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_solve_text_output_on_a_tiny_instance(tmp_path: Path, engine: str):
    table = [(0, 0, 0, 0, 0, 1000, 0), (1, 10, 0, 5, 0, 500, 1), (2, 0, 10, 5, 0, 500, 1)]
    out = io.StringIO()
    assert run_solve(write_instance(tmp_path, table), 0.2, False, out, engine=engine) == 0
    text = out.getvalue()
    assert "vehicles 1" in text and "route 1:" in text


def test_solve_refuses_an_unknown_engine(tmp_path: Path):
    table = [(0, 0, 0, 0, 0, 1000, 0), (1, 10, 0, 5, 0, 500, 1)]
    with pytest.raises(ValidationError):
        run_solve(write_instance(tmp_path, table), 0.2, False, io.StringIO(), engine="magic")


@needs_data
def test_vrptw_solver_reports_progress_and_stops_on_cancel():
    import threading
    import time

    from dispatcher.planning.vrptw import solve_vrptw

    inst = read_solomon(DATA / "R101.txt")
    cancel = threading.Event()
    seen: list[float] = []

    def progress(best: float, elapsed: float) -> None:
        seen.append(best)
        cancel.set()

    t0 = time.monotonic()
    result = solve_vrptw(inst, 30.0, cancel=cancel, progress=progress)
    assert time.monotonic() - t0 < 10
    assert seen
    assert result.routes == [] or inst.check(result.routes) == []
