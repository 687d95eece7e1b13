"""One layer pass's scheduling problem on many candidate accelerators, in integer nanoseconds.

Every candidate of a hardware space schedules the *same* fused op DAG; only the per-op durations and
the core counts differ (DESIGN §6). `Problem` holds the graph once and the durations as (candidates,
ops) integer arrays; `Instance` is one candidate's problem as plain Python data, for the CP-SAT model,
the scalar reference greedy and the checker.

Time is converted from seconds to integer nanoseconds ONCE, here, by `to_ns` (ceil, so a positive
duration never rounds to 0 and a rounded schedule is never optimistic; a float product that lands a
hair above an integer, e.g. 61e-9 s -> 61.00000000000001 ns, is first pulled back by ROUND_TOL_NS so an
exact number of ns stays exact; `consistent_single_ns` then lifts a single-core duration to k times
the whole-chip one where the model has l >= k·L), and every later stage —
greedy, lower bound, CP-SAT, checker — works on these same integers, so "greedy meets the bound" is an
exact integer equality rather than a float comparison.

Modes (DESIGN §6): `MODE_SINGLE` runs a GEMM / vector op on one core (duration l_i; demand 1 TC, 1 VC,
or 1 of each for a fused GEMM+epilogue) — collectives (the link) and NOPs have only this mode;
`MODE_INTRA` spreads the op over the whole chip (duration L_i; demand all n_tc TCs and all n_vc VCs).
A mode whose duration is not finite (or longer than `MAX_OP_SECONDS`) is unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from phaze.model.ops import LayerGraph, Op, OpKind

NS_PER_S = 1_000_000_000
# An op longer than this (11.6 days) is treated as unavailable: it keeps every sum of a layer's
# durations far inside int64 and inside CP-SAT's integer domains, and no useful design gets near it.
MAX_OP_SECONDS = 1e6
# Float noise allowance of `to_ns`, in ns: far below the 1 ns resolution, far above float64's relative
# error on the ns count of an op shorter than ~4 s (beyond, an exact-ns duration may gain 1 ns).
ROUND_TOL_NS = 1e-6
# Relative float noise allowed when comparing a single-core time with k times the whole-chip time.
WORK_REL_TOL = 1e-9
UNAVAILABLE = -1  # ns sentinel for a mode an op cannot run in
# Greedy makespan and bound of an infeasible candidate in the (candidates,) arrays: the largest int64, so
# any time derived from it (9.2e9 s) is hopeless and prunes the candidate instead of looking fast.
INFEASIBLE_NS = np.iinfo(np.int64).max

MODE_SINGLE = 0
MODE_INTRA = 1
MODE_NAMES = ("single", "intra")

# Resource classes of an op (what its single-core mode occupies).
NOP, TC, VC, TC_VC, LINK = range(5)
CLASS_NAMES = ("nop", "tc", "vc", "tc+vc", "link")
CLASS_TC = np.array([0, 1, 0, 1, 0], dtype=np.int64)
CLASS_VC = np.array([0, 0, 1, 1, 0], dtype=np.int64)
CLASS_LINK = np.array([0, 0, 0, 0, 1], dtype=np.int64)


def op_class(op: Op) -> int:
    """DESIGN §6 demands: GEMM -> TC (+VC with a fused epilogue), vector -> VC, collective -> link."""
    if op.kind is OpKind.NOP:
        return NOP
    if op.uses_link:
        return LINK
    if op.uses_tc:
        return TC_VC if op.uses_vc else TC
    if op.uses_vc:
        return VC
    raise ValueError(f"op {op.name!r} of kind {op.kind} uses no resource and is not a NOP")


def to_ns(seconds: np.ndarray) -> np.ndarray:
    """Seconds -> int64 ns, rounded UP: `max(1, ceil(s·1e9 − ROUND_TOL_NS))` for s > 0, 0 for s == 0.

    Non-finite durations and durations above MAX_OP_SECONDS become UNAVAILABLE; a negative one is a
    cost-model bug and raises.
    """
    s = np.asarray(seconds, dtype=np.float64)
    if np.any(s < 0):
        raise ValueError("negative op duration from the cost model")
    ok = np.isfinite(s) & (s <= MAX_OP_SECONDS)
    ns = np.full(s.shape, UNAVAILABLE, dtype=np.int64)
    ns[ok] = np.ceil(s[ok] * NS_PER_S - ROUND_TOL_NS).astype(np.int64)
    ns[ok & (s > 0) & (ns < 1)] = 1
    return ns


def consistent_single_ns(single_s: np.ndarray, intra_s: np.ndarray, single_ns: np.ndarray, intra_ns: np.ndarray,
                         op_classes: np.ndarray, n_tc: np.ndarray, n_vc: np.ndarray) -> np.ndarray:
    """Single-core ns durations that keep the cost model's work relation through rounding.

    Where the cost model gives an op on one of k cores at least k times its whole-chip time (l >= k·L:
    a memory-bound op gets 1/k of the bandwidth, so l = k·L exactly), rounding both up to whole ns
    separately can make k·ceil(L) exceed ceil(l) by up to k − 1 ns: single-core mode would look a few ns
    more work-efficient than the model says, and that phantom saving is what keeps a lower bound a few
    ns below a serial schedule that is in fact optimal (proving it costs CP-SAT seconds). Here such an op's
    single-core duration becomes max(ceil(l), k·ceil(L)): still never below the model's time (the
    rounding stays conservative, by < k ns more), and the relation l >= k·L holds on the integers too.
    Applied per resource the single mode uses (k = n_tc for a tensor core, n_vc for a vector core).
    """
    out = single_ns.copy()
    both = (single_ns >= 0) & (intra_ns >= 0)
    for cap, uses in ((n_tc, CLASS_TC[op_classes]), (n_vc, CLASS_VC[op_classes])):
        k = cap[:, None]
        # l >= k·L up to float noise (the two are computed by different expressions)
        ratio_holds = single_s >= k * intra_s * (1.0 - WORK_REL_TOL)
        hit = both & (uses[None, :] == 1) & ratio_holds
        out = np.where(hit, np.maximum(out, k * intra_ns), out)
    return out


def effective_modes(single: np.ndarray, intra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop dominated modes (same rule as `Instance.modes`); returns new arrays, -1 = dropped.

    A zero-length intra interval dominates a positive single one (it occupies nothing for no time);
    otherwise single dominates intra whenever l_i <= L_i (a subset of the resources for no longer).
    Swapping a dominated mode for its dominator at the same start keeps any schedule feasible and its
    makespan no larger, so the optimum is unchanged and the models get smaller.
    """
    s, i = single.copy(), intra.copy()
    both = (s >= 0) & (i >= 0)
    drop_single = both & (i == 0) & (s > 0)
    drop_intra = both & ~drop_single & (s <= i)
    s[drop_single] = UNAVAILABLE
    i[drop_intra] = UNAVAILABLE
    return s, i


@dataclass(frozen=True)
class Instance:
    """One candidate's problem in plain Python (ops in topological order, edges i -> j with i < j)."""

    names: tuple[str, ...]
    op_class: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]
    single: tuple[int, ...]  # ns, UNAVAILABLE = no such mode
    intra: tuple[int, ...]
    n_tc: int
    n_vc: int
    layer: str = ""
    pass_: str = ""

    @property
    def n(self) -> int:
        return len(self.names)

    def raw_duration(self, i: int, mode: int) -> int:
        return self.single[i] if mode == MODE_SINGLE else self.intra[i]

    def modes(self, i: int) -> list[tuple[int, int]]:
        """Non-dominated (mode, duration) pairs of op i, single first (see `effective_modes`)."""
        s, m = self.single[i], self.intra[i]
        if s >= 0 and m >= 0:
            if m == 0 < s:
                return [(MODE_INTRA, 0)]
            if s <= m:
                return [(MODE_SINGLE, s)]
        out = []
        if s >= 0:
            out.append((MODE_SINGLE, s))
        if m >= 0:
            out.append((MODE_INTRA, m))
        return out

    def demand(self, i: int, mode: int, duration: int) -> tuple[int, int, int]:
        """(TC, VC, link) units op i holds in `mode`; a zero-length interval holds nothing."""
        if duration == 0:
            return (0, 0, 0)
        if mode == MODE_INTRA:
            return (self.n_tc, self.n_vc, 0)
        c = self.op_class[i]
        return (int(CLASS_TC[c]), int(CLASS_VC[c]), int(CLASS_LINK[c]))

    def preds(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.names]
        for i, j in self.edges:
            out[j].append(i)
        return out

    def succs(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.names]
        for i, j in self.edges:
            out[i].append(j)
        return out

    def infeasible_reason(self) -> str:
        """Empty if every op has a mode; else names the first op that cannot run at all."""
        for i, name in enumerate(self.names):
            if self.single[i] < 0 and self.intra[i] < 0:
                return f"op {name!r} has no finite duration in either mode"
        return ""


@dataclass(frozen=True)
class Problem:
    """A layer pass's op DAG with per-candidate durations: arrays of shape (candidates, ops), int64 ns."""

    layer: str
    pass_: str
    names: tuple[str, ...]
    op_class: np.ndarray  # (n,) int64, one of NOP..LINK
    edges: np.ndarray  # (E, 2) int64, i < j
    single_ns: np.ndarray  # (C, n) int64, UNAVAILABLE = no single-core mode
    intra_ns: np.ndarray  # (C, n) int64, UNAVAILABLE = no intra-op mode
    n_tc: np.ndarray  # (C,) int64
    n_vc: np.ndarray  # (C,) int64

    @property
    def n_ops(self) -> int:
        return len(self.names)

    @property
    def n_candidates(self) -> int:
        return int(self.n_tc.shape[0])

    @cached_property
    def feasible(self) -> np.ndarray:
        """(C,) bool: every op has at least one available mode."""
        return np.all((self.single_ns >= 0) | (self.intra_ns >= 0), axis=1)

    def instance(self, c: int) -> Instance:
        return Instance(
            names=self.names,
            op_class=tuple(int(k) for k in self.op_class),
            edges=tuple((int(i), int(j)) for i, j in self.edges),
            single=tuple(int(x) for x in self.single_ns[c]),
            intra=tuple(int(x) for x in self.intra_ns[c]),
            n_tc=int(self.n_tc[c]),
            n_vc=int(self.n_vc[c]),
            layer=self.layer,
            pass_=self.pass_,
        )


def _check_edges(edges: np.ndarray, n: int) -> None:
    if edges.size and (edges.min() < 0 or edges.max() >= n or np.any(edges[:, 0] >= edges[:, 1])):
        raise ValueError("layer graph edges must be index pairs i -> j with 0 <= i < j < n_ops")


def make_problem(
    op_classes: Sequence[int],
    edges: Sequence[tuple[int, int]],
    single_s: np.ndarray,
    all_s: np.ndarray,
    n_tc: np.ndarray,
    n_vc: np.ndarray,
    names: Sequence[str] | None = None,
    layer: str = "",
    pass_: str = "",
) -> Problem:
    """Build a Problem from resource classes and durations in seconds (see module doc for modes).

    Collectives have one duration (`min` of the two columns, NaN ignored) and only the single mode;
    NOPs take 0 ns and no resources whatever the arrays say.
    """
    cls = np.asarray(op_classes, dtype=np.int64)
    n = cls.shape[0]
    e = np.asarray(list(edges), dtype=np.int64).reshape(-1, 2)
    _check_edges(e, n)
    single = np.atleast_2d(np.asarray(single_s, dtype=np.float64))
    intra = np.atleast_2d(np.asarray(all_s, dtype=np.float64))
    tc = np.atleast_1d(np.asarray(n_tc, dtype=np.int64))
    vc = np.atleast_1d(np.asarray(n_vc, dtype=np.int64))
    n_cand = tc.shape[0]
    if single.shape != (n_cand, n) or intra.shape != (n_cand, n) or vc.shape != (n_cand,):
        raise ValueError(f"durations must be (candidates, ops) = ({n_cand}, {n}); got {single.shape}, "
                         f"{intra.shape}, n_vc {vc.shape}")
    if n_cand and (tc.min() < 1 or vc.min() < 1):
        raise ValueError("n_tc and n_vc must be >= 1")
    link = cls == LINK
    single_ns = to_ns(np.where(link, np.fmin(single, intra), single))
    intra_ns = to_ns(intra)
    intra_ns[:, link | (cls == NOP)] = UNAVAILABLE
    single_ns[:, cls == NOP] = 0
    single_ns = consistent_single_ns(single, intra, single_ns, intra_ns, cls, tc, vc)
    return Problem(
        layer=layer,
        pass_=pass_,
        names=tuple(names) if names is not None else tuple(f"op{i}" for i in range(n)),
        op_class=cls,
        edges=e,
        single_ns=single_ns,
        intra_ns=intra_ns,
        n_tc=tc,
        n_vc=vc,
    )


def build_problem(
    graph: LayerGraph, single_s: np.ndarray, all_s: np.ndarray, n_tc: np.ndarray, n_vc: np.ndarray
) -> Problem:
    """The Problem of one fused layer graph priced on C candidates (durations from `phaze.cost`)."""
    return make_problem(
        [op_class(op) for op in graph.ops],
        graph.edges,
        single_s,
        all_s,
        n_tc,
        n_vc,
        names=[op.name for op in graph.ops],
        layer=graph.kind,
        pass_=str(graph.pass_),
    )
