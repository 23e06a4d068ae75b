"""A fast local search for one route with time windows (the "resequence this route" case).

OR-Tools needs ~0.2 s for its first descent on a 100-stop route and seconds of guided local
search to get within 1 % of its 10-s result; a dispatcher waiting for a resequence wants it in
a blink. This module searches one route on its own:

* Time windows are handled with the *time warp* relaxation (Vidal et al. 2013, as in HGS and
  PyVRP): arriving after a window's end "travels back" to it at a cost. A route without time
  warp is on time under hard windows, so the result can be handed to the exact model.
* Every subsequence of up to ``span`` stops (24 by default) is summarised by four numbers
  (duration, time warp, earliest and latest start) that concatenate in O(1); the table of all
  of them is built by doubling (log₂ steps of 2-D numpy operations) and every move of a kind
  (2-opt, Or-opt relocation of 1-3 stops forward and backward, swap) is evaluated for all
  positions at once.
* Several improving moves on disjoint stretches are applied per step (checked on the whole
  route, else only the best), then iterated local search until the deadline: shuffle a
  stretch of the best route a little (every stop moves a few places), descend near it, keep
  the best route.
* Routes whose only locks are pins descend in compiled code instead
  (:mod:`dispatcher.planning._descent`: the same moves scored one position at a time, the
  best applied at once, "don't look" bits): a kick and its re-descent take 1.9 ms at 200
  stops instead of 38 ms. The numpy descent stays for order groups and pickups, whose locks
  it checks per candidate.

* A vehicle whose hours cost (:attr:`RouteProblem.duration_weight`) is priced on the route's
  duration as well, which the time-warp segments already carry (start free within its
  window: leaving later beats waiting); such a route keeps the numpy descent.

Locks: pinned stops keep their index (no move shifts them: relocations and reversals never
span one, swaps may jump over one); order groups and order-dependent loads (pickups) are
checked on each candidate before it is applied. Integer-valued inputs stay exact in float64.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from dispatcher.clock import system_monotonic

try:
    from dispatcher.planning import _descent
except ImportError:  # pragma: no cover - the package is built with it (pyproject.toml)
    _descent = None  # type: ignore[assignment]  # the numpy descent does the same, slower

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Seg = tuple[FloatArray, FloatArray, FloatArray, FloatArray]
"""Duration, time warp, earliest start, latest start of a subsequence (vectorized)."""


@dataclass(frozen=True, slots=True)
class RouteProblem:
    """One vehicle's route: nodes of square matrices, a start node and an end node.

    ``travel[i, j]`` is the time from starting service at ``i`` to arriving at ``j`` (service
    of ``i`` included); windows ``[lo, hi]`` bound the service start (and the start node's
    departure / the end node's arrival). ``pinned`` maps a stop node to its fixed index in the
    stop list; ``groups`` are node lists that must keep their relative order. ``load_delta``
    (optional) is the on-board load change per node, from ``start_load``, kept in
    ``[0, capacity]``. ``warp_weight`` prices one unit of time warp in cost units;
    ``duration_weight`` one unit of the route's duration (start to end, waiting included, the
    start free within its window, so leaving later is better than waiting), 0 for the
    distance-only objective (:mod:`dispatcher.planning.costs`).
    """

    cost: FloatArray
    travel: FloatArray
    lo: FloatArray
    hi: FloatArray
    start: int
    end: int
    pinned: dict[int, int] = field(default_factory=dict)
    groups: list[list[int]] = field(default_factory=list)
    load_delta: FloatArray | None = None
    start_load: float = 0.0
    capacity: float = math.inf
    warp_weight: float = 100.0
    duration_weight: float = 0.0
    extra_delta: FloatArray | None = None
    """Weight and volume change per node, shape ``(n, 2)`` (``None``: count only)."""
    extra_start: FloatArray | None = None
    extra_capacity: FloatArray | None = None
    max_duration: float = math.inf
    """Longest route (start to end): checked on each candidate like the locks."""

    @property
    def checks_each_move(self) -> bool:
        """Constraints the move tables do not price: checked per candidate."""
        return self.extra_delta is not None or math.isfinite(self.max_duration)


def route_duration(problem: RouteProblem, stops: Sequence[int]) -> float:
    """Shortest duration of ``stops`` from start to end by a plain loop (the start may be
    as late as its window allows; time warp travels back as in :func:`_cat`)."""
    p = problem
    path = [p.start, *stops, p.end]
    d, w, e, ll = 0.0, 0.0, float(p.lo[p.start]), float(p.hi[p.start])
    for a, b in itertools.pairwise(path):
        t = float(p.travel[a, b])
        delta = d - w + t
        wait = max(float(p.lo[b]) - delta - ll, 0.0)
        warp = max(e + delta - float(p.hi[b]), 0.0)
        d, w = d + t + wait, w + warp
        e, ll = max(float(p.lo[b]) - delta, e) - wait, min(float(p.hi[b]) - delta, ll) + warp
    return d


def route_cost(problem: RouteProblem, stops: Sequence[int]) -> tuple[float, float]:
    """Cost and time warp of ``stops`` by a plain loop: the reference the search must match.

    The vehicle leaves at the start node's earliest time, waits for a window to open, and an
    arrival after a window's end is moved back to the end, adding the difference as warp.
    With a ``duration_weight`` the cost includes the weighted :func:`route_duration`.
    """
    p = problem
    path = [p.start, *stops, p.end]
    t, warp, cost = float(p.lo[p.start]), 0.0, 0.0
    for a, b in itertools.pairwise(path):
        cost += float(p.cost[a, b])
        t = max(t + float(p.travel[a, b]), float(p.lo[b]))
        if t > p.hi[b]:
            warp += t - float(p.hi[b])
            t = float(p.hi[b])
    if p.duration_weight:
        cost += p.duration_weight * route_duration(p, stops)
    return cost, warp


def respects_locks(problem: RouteProblem, stops: Sequence[int]) -> bool:
    """Pins at their index, groups in order, load within ``[0, capacity]`` throughout."""
    p = problem
    if any(stops[i] != node for node, i in p.pinned.items() if i < len(stops)):
        return False
    pos = {n: i for i, n in enumerate(stops)}
    for g in p.groups:
        idx = [pos[n] for n in g if n in pos]
        if idx != sorted(idx):
            return False
    if not stops:
        return True
    if math.isfinite(p.max_duration) and route_duration(p, stops) > p.max_duration + 1e-9:
        return False
    if p.extra_delta is not None and p.extra_start is not None and p.extra_capacity is not None:
        extra = p.extra_start + np.cumsum(p.extra_delta[np.asarray(stops)], axis=0)
        if (np.maximum(extra.max(axis=0), p.extra_start) > p.extra_capacity + 1e-9).any():
            return False
    if p.load_delta is None:
        return True
    load = p.start_load + np.cumsum(p.load_delta[np.asarray(stops)])
    low, high = min(p.start_load, float(load.min())), max(p.start_load, float(load.max()))
    return low >= -1e-9 and high <= p.capacity + 1e-9


def _cat(a: Seg, b: Seg, t: FloatArray) -> Seg:
    """Concatenate subsequence data ``a`` then ``b``, ``t`` the travel between them."""
    d1, w1, e1, l1 = a
    d2, w2, e2, l2 = b
    delta = d1 - w1 + t
    wait = np.maximum(e2 - delta - l1, 0.0)
    warp = np.maximum(e1 + delta - l2, 0.0)
    return (
        d1 + d2 + t + wait,
        w1 + w2 + warp,
        np.maximum(e2 - delta, e1) - wait,
        np.minimum(l2 - delta, l1) + warp,
    )


def _warp_of(a: Seg, b: Seg, t: FloatArray) -> FloatArray:
    """Only the time warp of ``a`` then ``b`` (the last concatenation of a move)."""
    d1, w1, e1, _ = a
    _, w2, _, l2 = b
    return w1 + w2 + np.maximum(e1 + d1 - w1 + t - l2, 0.0)


def _duration_of(a: Seg, b: Seg, t: FloatArray) -> FloatArray:
    """Only the duration of ``a`` then ``b`` (as :func:`_cat`)."""
    d1, w1, _, l1 = a
    d2, _, e2, _ = b
    delta = d1 - w1 + t
    return d1 + d2 + t + np.maximum(e2 - delta - l1, 0.0)


@dataclass(slots=True)
class _Move:
    """A permutation of positions ``lo..hi`` of the route (start at 0, end at N-1)."""

    gain: float
    lo: int
    hi: int
    kind: str
    i: int
    j: int
    k: int = 1
    rev: bool = False

    def apply(self, x: list[int]) -> list[int]:
        i, j, k = self.i, self.j, self.k
        y = list(x)
        if self.kind == "2opt":
            y[i : j + 1] = x[i : j + 1][::-1]
        elif self.kind == "swap":
            y[i], y[j] = x[j], x[i]
        else:
            seg = x[i : i + k][::-1] if self.rev else x[i : i + k]
            if self.kind == "fwd":  # segment i..i+k-1 goes after position j
                y[i : j + 1] = x[i + k : j + 1] + seg
            else:  # "bwd": segment goes before position j
                y[j : i + k] = seg + x[j:i]
        return y


class _Tables:
    """Subsequence data of the current route: prefixes, suffixes, spans up to ``K`` stops."""

    def __init__(self, p: RouteProblem, x: list[int], span: int) -> None:
        self.x = xa = np.asarray(x, dtype=np.int64)
        n = len(xa)
        self.n = n
        lo, hi = p.lo[xa], p.hi[xa]
        self.node: Seg = (np.zeros(n), np.zeros(n), lo, hi)
        self.t_next = p.travel[xa[:-1], xa[1:]]
        self.c_next = p.cost[xa[:-1], xa[1:]]
        self._prefix_suffix(p, xa)
        self._spans(p, xa, min(span, n))

    def _prefix_suffix(self, p: RouteProblem, xa: IntArray) -> None:
        n = self.n
        lo, hi = self.node[2].tolist(), self.node[3].tolist()
        tn, cn = self.t_next.tolist(), self.c_next.tolist()
        pd, pw, pe, pl, pc = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
        d, w, e, ll, c = 0.0, 0.0, lo[0], hi[0], 0.0
        pe[0], pl[0] = e, ll
        for k in range(1, n):
            t = tn[k - 1]
            delta = d - w + t
            wait = max(lo[k] - delta - ll, 0.0)
            warp = max(e + delta - hi[k], 0.0)
            d, w = d + t + wait, w + warp
            e, ll = max(lo[k] - delta, e) - wait, min(hi[k] - delta, ll) + warp
            c += cn[k - 1]
            pd[k], pw[k], pe[k], pl[k], pc[k] = d, w, e, ll, c
        self.pre: Seg = (np.array(pd), np.array(pw), np.array(pe), np.array(pl))
        self.pre_cost = np.array(pc)
        sd, sw, se, sl, sc = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
        d, w, e, ll, c = 0.0, 0.0, lo[-1], hi[-1], 0.0
        se[-1], sl[-1] = e, ll
        for k in range(n - 2, -1, -1):
            t = tn[k]
            delta = t  # node k has duration 0 and no warp
            wait = max(e - delta - hi[k], 0.0)
            warp = max(lo[k] + delta - ll, 0.0)
            d, w = d + t + wait, w + warp
            e, ll = max(e - delta, lo[k]) - wait, min(ll - delta, hi[k]) + warp
            c += cn[k]
            sd[k], sw[k], se[k], sl[k], sc[k] = d, w, e, ll, c
        self.suf: Seg = (np.array(sd), np.array(sw), np.array(se), np.array(sl))
        self.suf_cost = np.array(sc)

    def _spans(self, p: RouteProblem, xa: IntArray, span: int) -> None:
        """``fwd[L][a]`` / ``rev[L][a]``: positions ``a..a+L-1`` forward / reversed.

        Built by doubling: with lengths ``1..M`` known, lengths ``M+1..2M`` are one 2-D
        concatenation of length ``M`` with lengths ``1..M`` shifted by ``M``.
        """
        n = self.n
        self.span = span
        last = n - 1
        shape = (span + 1, n)
        fd, fw, fe, fl, fc = (np.zeros(shape) for _ in range(5))
        rd, rw, re_, rl, rc = (np.zeros(shape) for _ in range(5))
        for arr in (fe, re_):
            arr[1] = self.node[2]
        for arr in (fl, rl):
            arr[1] = self.node[3]
        a = np.arange(n)
        m = 1
        while m < span:
            top = min(2 * m, span)
            lens = np.arange(1, top - m + 1)[:, None]  # lengths added to the block of m
            b = np.minimum(a + m, last)[None, :]  # where the second part starts
            ab_t = p.travel[xa[np.minimum(a + m - 1, last)], xa[b[0]]][None, :]
            ab_c = p.cost[xa[np.minimum(a + m - 1, last)], xa[b[0]]][None, :]
            ba_t = p.travel[xa[b[0]], xa[np.minimum(a + m - 1, last)]][None, :]
            ba_c = p.cost[xa[b[0]], xa[np.minimum(a + m - 1, last)]][None, :]
            head: Seg = (fd[m][None, :], fw[m][None, :], fe[m][None, :], fl[m][None, :])
            tail: Seg = (fd[lens, b], fw[lens, b], fe[lens, b], fl[lens, b])
            out = _cat(head, tail, ab_t)
            rows = slice(m + 1, top + 1)
            fd[rows], fw[rows], fe[rows], fl[rows] = out
            fc[rows] = fc[m][None, :] + ab_c + fc[lens, b]
            rhead: Seg = (rd[lens, b], rw[lens, b], re_[lens, b], rl[lens, b])
            rtail: Seg = (rd[m][None, :], rw[m][None, :], re_[m][None, :], rl[m][None, :])
            out = _cat(rhead, rtail, ba_t)
            rd[rows], rw[rows], re_[rows], rl[rows] = out
            rc[rows] = rc[lens, b] + ba_c + rc[m][None, :]
            m = top
        self.fwd = (fd, fw, fe, fl)
        self.fwd_cost = fc
        self.rev = (rd, rw, re_, rl)
        self.rev_cost = rc


def _take(s: Seg, *idx: npt.NDArray[np.int64] | int) -> Seg:
    key = idx[0] if len(idx) == 1 else idx
    return (s[0][key], s[1][key], s[2][key], s[3][key])


class _Neighbourhood:
    """All moves of every kind on the current route, evaluated at once."""

    def __init__(
        self, p: RouteProblem, tb: _Tables, anchored: BoolArray, cols: tuple[int, int]
    ) -> None:
        self.p, self.tb = p, tb
        n = tb.n
        self.m = n - 2
        span = tb.span
        self.L = np.arange(1, span)[:, None]  # lengths 1..span-1
        self.i = np.arange(max(1, cols[0]), min(n - 1, cols[1]))[None, :]  # first positions
        self.cnt = np.concatenate(([0], np.cumsum(anchored)))
        self.anchored = anchored
        self.obj = (
            float(tb.pre_cost[-1])
            + p.warp_weight * float(tb.pre[1][-1])
            + p.duration_weight * float(tb.pre[0][-1])
        )

    def _free(self, a: IntArray, b: IntArray) -> BoolArray:
        """No anchor in positions ``a..b`` (inclusive); indices already in range."""
        ok: BoolArray = (self.cnt[np.minimum(b + 1, len(self.cnt) - 1)] - self.cnt[a]) == 0
        return ok

    def _finish(
        self, cost: FloatArray, a: Seg, b: Seg, t: FloatArray, valid: BoolArray
    ) -> tuple[FloatArray, BoolArray]:
        """Gain of the moves whose routes are ``a`` then ``b`` (``t`` between them)."""
        total = cost + self.p.warp_weight * _warp_of(a, b, t)
        if self.p.duration_weight:
            total = total + self.p.duration_weight * _duration_of(a, b, t)
        gain = self.obj - total
        return gain, valid & (gain > 1e-6)

    def two_opt(self) -> tuple[FloatArray, BoolArray, IntArray, IntArray]:
        """Reverse positions ``i..j`` (2..span stops, no pin inside)."""
        tb, p, x, n, i = self.tb, self.p, self.tb.x, self.tb.n, self.i
        length = np.arange(2, tb.span + 1)[:, None]
        j = i + length - 1
        jc = np.minimum(j, n - 2)
        valid = (j <= self.m) & self._free(i, jc)
        a = _cat(_take(tb.pre, i - 1), _take(tb.rev, length, i), p.travel[x[i - 1], x[jc]])
        cost = (
            tb.pre_cost[i - 1]
            + p.cost[x[i - 1], x[jc]]
            + tb.rev_cost[length, i]
            + p.cost[x[i], x[jc + 1]]
            + tb.suf_cost[jc + 1]
        )
        gain, ok = self._finish(cost, a, _take(tb.suf, jc + 1), p.travel[x[i], x[jc + 1]], valid)
        return gain, ok, np.broadcast_to(i, ok.shape), np.broadcast_to(j, ok.shape)

    def relocate(
        self, k: int, rev: bool, forward: bool
    ) -> tuple[FloatArray, BoolArray, IntArray, IntArray]:
        """Move positions ``i..i+k-1`` past ``L`` stops after (or before) them."""
        tb, p, x, n, L, i = self.tb, self.p, self.tb.x, self.tb.n, self.L, self.i
        if k >= tb.span:
            empty = np.zeros((0, 0))
            return empty, empty.astype(bool), empty.astype(np.int64), empty.astype(np.int64)
        seg = _take(tb.rev if rev else tb.fwd, k, np.minimum(i, n - 1))
        seg_cost = (tb.rev_cost if rev else tb.fwd_cost)[k, np.minimum(i, n - 1)]
        ik = np.minimum(i + k - 1, n - 1)  # last position of the segment
        first = x[ik] if rev else x[i]
        last = x[i] if rev else x[ik]
        if forward:
            j = i + k + L - 1
            valid = (j <= self.m) & (ik <= self.m)
            jc, c0 = np.minimum(j, n - 2), np.minimum(i + k, n - 1)
            valid &= self._free(i, jc)
            mid = _take(tb.fwd, L, c0)
            ac = _cat(_take(tb.pre, i - 1), mid, p.travel[x[i - 1], x[c0]])
            acb = _cat(ac, seg, p.travel[x[jc], first])
            a, b, t = acb, _take(tb.suf, jc + 1), p.travel[last, x[jc + 1]]
            cost = (
                tb.pre_cost[i - 1]
                + p.cost[x[i - 1], x[c0]]
                + tb.fwd_cost[L, c0]
                + p.cost[x[jc], first]
                + seg_cost
                + p.cost[last, x[jc + 1]]
                + tb.suf_cost[jc + 1]
            )
            lo, hi = i, j
        else:
            j = i - L
            valid = (j >= 1) & (ik <= self.m)
            jc = np.maximum(j, 1)
            valid &= self._free(jc, ik)
            ab = _cat(_take(tb.pre, jc - 1), seg, p.travel[x[jc - 1], first])
            abc = _cat(ab, _take(tb.fwd, L, jc), p.travel[last, x[jc]])
            after = np.minimum(ik + 1, n - 1)
            a, b, t = abc, _take(tb.suf, after), p.travel[x[i - 1], x[after]]
            cost = (
                tb.pre_cost[jc - 1]
                + p.cost[x[jc - 1], first]
                + seg_cost
                + p.cost[last, x[jc]]
                + tb.fwd_cost[L, jc]
                + p.cost[x[i - 1], x[after]]
                + tb.suf_cost[after]
            )
            lo, hi = j, i + k - 1
        gain, ok = self._finish(cost, a, b, t, valid)
        return gain, ok, np.broadcast_to(lo, ok.shape), np.broadcast_to(hi, ok.shape)

    def swap(self) -> tuple[FloatArray, BoolArray, IntArray, IntArray]:
        """Exchange the stops at ``i`` and ``j = i + L + 1`` (may jump over pins)."""
        tb, p, x, n, L, i = self.tb, self.p, self.tb.x, self.tb.n, self.L, self.i
        j = i + L + 1
        valid = j <= self.m
        jc = np.minimum(j, n - 2)
        valid &= ~self.anchored[i] & ~self.anchored[jc]
        a = _cat(_take(tb.pre, i - 1), _take(tb.node, jc), p.travel[x[i - 1], x[jc]])
        a = _cat(a, _take(tb.fwd, L, i + 1), p.travel[x[jc], x[i + 1]])
        a = _cat(a, _take(tb.node, i), p.travel[x[jc - 1], x[i]])
        cost = (
            tb.pre_cost[i - 1]
            + p.cost[x[i - 1], x[jc]]
            + p.cost[x[jc], x[i + 1]]
            + tb.fwd_cost[L, i + 1]
            + p.cost[x[jc - 1], x[i]]
            + p.cost[x[i], x[jc + 1]]
            + tb.suf_cost[jc + 1]
        )
        gain, ok = self._finish(cost, a, _take(tb.suf, jc + 1), p.travel[x[i], x[jc + 1]], valid)
        return gain, ok, np.broadcast_to(i, ok.shape), np.broadcast_to(j, ok.shape)


CancelCheck = Callable[[], bool]
Progress = Callable[[float], None]

_KINDS: list[tuple[str, int, bool]] = [
    ("2opt", 0, False),
    ("swap", 1, False),
    *(
        (d, k, r)
        for d in ("fwd", "bwd")
        for k, r in ((1, False), (2, False), (2, True), (3, False))
    ),
]


def _move(kind: str, k: int, rev: bool, lo: int, hi: int, gain: float) -> _Move:
    if kind == "bwd":
        return _Move(gain, lo, hi, kind, hi - k + 1, lo, k, rev)
    return _Move(gain, lo, hi, kind, lo, hi, k, rev)


class _Search:
    """Descent and perturbation on one route; ``x`` holds start, stops, end."""

    def __init__(
        self, p: RouteProblem, stops: Sequence[int], span: int, seed: int, native: bool = True
    ) -> None:
        self.p = p
        self.x = [p.start, *stops, p.end]
        n = len(self.x)
        self.anchored = np.zeros(n, dtype=bool)
        self.anchored[[0, n - 1]] = True
        for i in p.pinned.values():
            if i < n - 2:
                self.anchored[i + 1] = True
        self.span = span
        self.rng = random.Random(seed)
        delta = p.load_delta
        order_matters = delta is not None and bool(
            (delta[np.asarray(stops, dtype=np.int64)] > 0).any()
        )
        self.check_locks = bool(p.groups) or order_matters or p.checks_each_move
        # The compiled descent prices distance and time warp only.
        self.native = (
            _descent is not None and not self.check_locks and native and not p.duration_weight
        )
        self.obj = self.objective(self.x)

    def objective(self, x: list[int]) -> float:
        cost, warp = route_cost(self.p, x[1:-1])
        return cost + self.p.warp_weight * warp

    def use(self, p: RouteProblem) -> None:
        """Search under ``p`` (same route, another time-warp price) from now on."""
        self.p = p
        self.obj = self.objective(self.x)

    def _ok(self, x: list[int]) -> bool:
        return not self.check_locks or respects_locks(self.p, x[1:-1])

    def candidates(self, cols: tuple[int, int]) -> list[_Move]:
        """Improving moves, best first (at most 64)."""
        tb = _Tables(self.p, self.x, self.span)
        nb = _Neighbourhood(self.p, tb, self.anchored, cols)
        found: list[tuple[FloatArray, str, int, bool, IntArray, IntArray]] = []
        for kind, k, rev in _KINDS:
            if kind == "2opt":
                gain, ok, lo, hi = nb.two_opt()
            elif kind == "swap":
                gain, ok, lo, hi = nb.swap()
            else:
                gain, ok, lo, hi = nb.relocate(k, rev, kind == "fwd")
            if ok.any():
                found.append((gain[ok], kind, k, rev, lo[ok], hi[ok]))
        if not found:
            return []
        gains = np.concatenate([f[0] for f in found])
        owner = np.concatenate([np.full(len(f[0]), q) for q, f in enumerate(found)])
        offset = np.concatenate([np.arange(len(f[0])) for f in found])
        top = np.argsort(-gains)[:64]
        out = []
        for t in top.tolist():
            g, kind, k, rev, lo, hi = found[owner[t]]
            o = offset[t]
            out.append(_move(kind, k, rev, int(lo[o]), int(hi[o]), float(g[o])))
        return out

    def step(self, cols: tuple[int, int] | None = None) -> tuple[int, int] | None:
        """Apply the best improving moves on disjoint stretches.

        ``cols`` limits the first position of the moves looked at. Returns the stretch of
        positions changed, ``None`` at a local optimum.
        """
        moves = self.candidates(cols or (1, len(self.x) - 1))
        chosen: list[_Move] = []
        for mv in moves:
            if all(mv.hi + 1 < c.lo or c.hi + 1 < mv.lo for c in chosen):
                if self.check_locks and not self._ok(mv.apply(self.x)):
                    continue
                chosen.append(mv)
        if not chosen:
            return None
        y = self.x
        for mv in chosen:
            y = mv.apply(y)
        obj = self.objective(y)
        if len(chosen) > 1 and (obj >= self.obj - 1e-6 or not self._ok(y)):
            chosen = chosen[:1]
            y = chosen[0].apply(self.x)
            obj = self.objective(y)
        if obj >= self.obj - 1e-6:
            return None
        self.x, self.obj = y, obj
        return min(c.lo for c in chosen), max(c.hi for c in chosen)

    def _descend_native(self, around: tuple[int, int] | None, deadline: float) -> None:
        assert _descent is not None
        p, x = self.p, np.asarray(self.x, dtype=np.int64)
        a, b = (-1, -1) if around is None else around
        anchored = self.anchored.view(np.uint8)
        steps, _, _ = _descent.descend(
            x,
            anchored,
            np.ascontiguousarray(p.travel),  # no copy for the solver's own matrices
            np.ascontiguousarray(p.cost),
            np.ascontiguousarray(p.lo),
            np.ascontiguousarray(p.hi),
            p.warp_weight,
            self.span,
            max(self.span, REACH),
            a,
            b,
            deadline,
        )
        if steps:
            self.x = x.tolist()
            self.obj = self.objective(self.x)

    def kick(self) -> tuple[int, int] | None:
        """Shuffle a random stretch of the route a little; the stretch, or ``None``.

        Each free stop of the stretch gets the key "its index + U(-JITTER, JITTER)" and the
        stops are re-sorted by it (pins stay), so every stop moves a few places at once. On
        routes of 200 stops with 1-2 h windows this beat scrambling a few stops of a short
        stretch by 2-3 % after 1 s: the descent from such a route finds other orders of a
        whole neighbourhood. A stretch that would break an order group is mended (the group's
        stops are put back in order on the positions they took); one that breaks a load
        limit falls back to :meth:`scramble`.
        """
        n, rng = len(self.x), self.rng
        if n < 5:
            return None
        width = min(n - 2, JITTER_STRETCH)
        a = rng.randint(1, n - 1 - width)
        b = a + width - 1
        free = [q for q in range(a, b + 1) if not self.anchored[q]]
        if len(free) < 2:
            return None
        keys = {q: q + rng.uniform(-JITTER, JITTER) for q in free}
        y = list(self.x)
        for q, src in zip(free, sorted(free, key=keys.__getitem__), strict=True):
            y[q] = self.x[src]
        if self.check_locks and self.p.groups:
            y = self._mend_groups(y)
        if not self._ok(y):
            return self.scramble()
        self.x, self.obj = y, self.objective(y)
        return a, b

    def _mend_groups(self, y: list[int]) -> list[int]:
        """Put every order group's stops back in order on the positions they occupy."""
        pos = {node: q for q, node in enumerate(y)}
        y = list(y)
        for g in self.p.groups:
            slots = sorted(pos[node] for node in g if node in pos)
            for q, node in zip(slots, [node for node in g if node in pos], strict=True):
                y[q] = node
        return y

    def scramble(self) -> tuple[int, int] | None:
        """Scramble a random short stretch (pins stay, every change checked on the locks)."""
        n, rng = len(self.x), self.rng
        if n < 5:
            return None
        a = rng.randint(1, n - 3)
        b = min(n - 2, a + rng.randint(3, max(3, self.span // 2)))
        free = [q for q in range(a, b + 1) if not self.anchored[q]]
        if len(free) < 2:
            return None
        y = list(self.x)
        for _ in range(rng.randint(1, 3)):
            u, v = sorted(rng.sample(free, 2))
            trial = list(y)
            if not self.anchored[u : v + 1].any() and rng.random() < 0.5:
                w = rng.randint(u, v)  # exchange the stretches u..w and w+1..v
                trial[u : v + 1] = y[w + 1 : v + 1] + y[u : w + 1]
            else:
                trial[u], trial[v] = y[v], y[u]
            if self._ok(trial):
                y = trial
        self.x, self.obj = y, self.objective(y)
        return a, b

    def descend(
        self,
        stop: CancelCheck,
        around: tuple[int, int] | None = None,
        deadline: float = math.inf,
    ) -> None:
        """Improve until a local optimum (or ``stop()``), looking only near what changed.

        Routes without order groups or order-dependent loads go to the compiled descent
        (:mod:`dispatcher.planning._descent`, same neighbourhood), which checks ``deadline``
        itself; ``stop()`` is asked before it starts.
        """
        if self.native and not stop():
            self._descend_native(around, deadline)
            return
        while not stop():
            cols = None if around is None else (around[0] - self.span, around[1] + self.span)
            changed = self.step(cols)
            if changed is None:
                return
            if around is not None:
                around = (min(around[0], changed[0]), max(around[1], changed[1]))


REACH = 24
"""Longest relocation or swap of the compiled descent (positions); 40 and 60 did worse."""
KICK_SPAN = 24
"""Longest move looked at after a kick (the first descent uses the full span)."""
JITTER_STRETCH = 80
"""Positions a kick shuffles (the whole route when shorter). 140 was best for the numpy
descent; with the compiled one, 60-80 gave the lowest gaps at 0.2 s (100 stops) and 1 s
(200 stops) on 14 routes x 5 seeds, 20-40 clearly worse."""
JITTER = 6.0
"""How far (in positions) a kick moves a stop, at most."""
LOW_WARP_WEIGHT = 1.0
"""Time-warp price of the relaxed pass before the first descent (cost units per unit)."""


def _late(problem: RouteProblem, x: list[int]) -> bool:
    return route_cost(problem, x[1:-1])[1] > 0.0


def improve(
    problem: RouteProblem,
    stops: Sequence[int],
    deadline: float,
    *,
    span: int = 24,
    seed: int = 0,
    kick_until: float | None = None,
    cancelled: CancelCheck | None = None,
    progress: Progress | None = None,
    native: bool = True,
) -> list[int]:
    """The best route found from ``stops`` before ``deadline`` (``system_monotonic()``).

    The first descent runs twice: first with time warp priced at :data:`LOW_WARP_WEIGHT`,
    which lets the route pass through late orders towards shorter ones, then at the
    problem's price. After the first descent, a random stretch of the best route is shuffled
    (:meth:`_Search.kick`) and descended again (looking only near it) until ``kick_until``
    (default: the deadline; the first descent may use all the time up to ``deadline``).
    ``native=False`` keeps the numpy descent even where the compiled one applies (tests).
    Never returns a route with a higher objective (cost + weighted time warp) than
    ``stops``, never a late route once one without time warp is found (a few seconds of
    lateness can cost less than a detour), and never breaks a lock that ``stops`` respects.
    """
    if len(stops) < 2:
        return list(stops)
    low = replace(problem, warp_weight=min(problem.warp_weight, LOW_WARP_WEIGHT))
    s = _Search(problem, stops, max(2, span), seed, native)
    best, best_obj = list(s.x), s.obj
    on_time = route_cost(problem, stops)[1] <= 0.0

    def stop() -> bool:
        return system_monotonic() >= deadline or (cancelled is not None and cancelled())

    kick_end = deadline if kick_until is None else min(deadline, kick_until)
    stretch: tuple[int, int] | None = None
    first = True
    while True:
        if first:  # after a kick, a relaxed pass was no better (200 stops, both descents)
            s.use(low)
            s.descend(stop, deadline=deadline)
            s.use(problem)
            first = False
        s.descend(stop, stretch, deadline)
        if s.obj < best_obj - 1e-6 and not (on_time and _late(problem, s.x)):
            best, best_obj = list(s.x), s.obj
            on_time = not _late(problem, best)
            if progress is not None:
                progress(best_obj)
        if stop() or system_monotonic() >= kick_end:
            break
        s.x = list(best)
        s.span = min(s.span, KICK_SPAN)
        s.obj = best_obj
        stretch = s.kick()
    return best[1:-1]
