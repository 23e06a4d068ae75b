"""Solomon / Gehring-Homberger VRPTW instances: the reader and the solution check.

``dispatcher solve`` reads an instance here and solves it with
:func:`~dispatcher.planning.vrptw.run_solve`.

The format: a name line, a ``VEHICLE`` section (number, capacity) and a ``CUSTOMER`` table
(id, x, y, demand, ready time, due date, service time), row 0 being the depot. Travel time
equals Euclidean distance. Distances are reported unrounded (double precision), as in the
literature's best-known solutions.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dispatcher.errors import ImportFileError, ValidationError
from dispatcher.planning.model import FloatArray


@dataclass(frozen=True, slots=True)
class SolomonInstance:
    """One VRPTW instance; arrays are indexed by customer number (0 = depot)."""

    name: str
    vehicles: int
    capacity: int
    x: FloatArray
    y: FloatArray
    demand: FloatArray
    ready: FloatArray
    due: FloatArray
    service: FloatArray

    @property
    def customers(self) -> int:
        """Number of customers (the depot excluded)."""
        return len(self.x) - 1

    def distance_matrix(self) -> FloatArray:
        """Euclidean distances in double precision (travel time is the same)."""
        dx = self.x[:, None] - self.x[None, :]
        dy = self.y[:, None] - self.y[None, :]
        out: FloatArray = np.sqrt(dx * dx + dy * dy)
        return out

    def route_distance(self, routes: list[list[int]]) -> float:
        """Unrounded total distance of routes given as customer numbers (depot omitted)."""
        d = self.distance_matrix()
        total = 0.0
        for r in routes:
            path = [0, *r, 0]
            total += float(sum(d[a, b] for a, b in itertools.pairwise(path)))
        return total

    def check(self, routes: list[list[int]]) -> list[str]:
        """Everything wrong with ``routes`` (coverage, capacity, windows); empty when valid."""
        problems: list[str] = []
        seen = sorted(c for r in routes for c in r)
        if seen != list(range(1, self.customers + 1)):
            problems.append("customers not each visited exactly once")
        if len([r for r in routes if r]) > self.vehicles:
            problems.append("more routes than vehicles")
        d = self.distance_matrix()
        for k, r in enumerate(routes):
            if sum(self.demand[c] for c in r) > self.capacity:
                problems.append(f"route {k} exceeds capacity")
            t, here = 0.0, 0
            for c in [*r, 0]:
                t = max(t + d[here, c], self.ready[c])
                if t > self.due[c] + 1e-6:
                    problems.append(f"route {k} reaches {c} late ({t:.2f} > {self.due[c]})")
                    break
                t += self.service[c]
                here = c
        return problems


def read_solomon(path: Path) -> SolomonInstance:
    """Parse a Solomon-format file; a malformed file is an :class:`ImportFileError`."""
    try:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc}") from exc
    name = next((ln.strip() for ln in lines if ln.strip()), path.stem)
    try:
        v_at = next(i for i, ln in enumerate(lines) if ln.strip().upper() == "VEHICLE")
        c_at = next(i for i, ln in enumerate(lines) if ln.strip().upper() == "CUSTOMER")
        vehicles, capacity = (int(t) for t in _numbers(lines[v_at + 1 : c_at])[0][:2])
        rows = [r for r in _numbers(lines[c_at + 1 :]) if len(r) >= 7]
    except (StopIteration, ValueError, IndexError) as exc:
        raise ImportFileError(f"{path.name}: not a Solomon VRPTW file ({exc})") from exc
    if not rows or rows[0][0] != 0:
        raise ImportFileError(f"{path.name}: the customer table must start with the depot (0)")
    arr = np.asarray([r[:7] for r in rows], dtype=np.float64)
    if not np.array_equal(arr[:, 0], np.arange(len(arr))):
        raise ImportFileError(f"{path.name}: customer numbers must be 0..n in order")
    if np.any(arr[:, 5] < arr[:, 4]) or np.any(arr[:, 3] < 0):
        raise ValidationError(f"{path.name}: a due date precedes its ready time or demand < 0")
    return SolomonInstance(
        name, vehicles, capacity, arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5], arr[:, 6]
    )


def _numbers(lines: list[str]) -> list[list[float]]:
    out: list[list[float]] = []
    for ln in lines:
        parts = ln.split()
        try:
            out.append([float(p) for p in parts])
        except ValueError:
            continue  # header line
    return [r for r in out if r and all(math.isfinite(v) for v in r)]
