"""One layer pass's scheduling problem on many candidate accelerators, in integer nanoseconds.

Every candidate of a hardware space schedules the *same* fused op DAG; only the per-op durations and
the core counts differ (DESIGN §6). `Problem` holds the graph once and the durations as (candidates,
ops) integer arrays; `Instance` is one candidate's problem as plain Python data, for the CP-SAT model,
the scalar reference greedy and the checker.

Split by job: time units and rounding (`to_ns`) live in `units`, modes and resource classes in `modes`,
the per-candidate `Instance` in `instance`; this module holds the vectorised `Problem`, the vectorised
dominance rule and the builders that turn a priced layer graph into a Problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from phaze.model.ops import LayerGraph
from phaze.schedule.instance import Instance
from phaze.schedule.modes import LINK, NOP, op_class
from phaze.schedule.units import UNAVAILABLE, consistent_single_ns, to_ns


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

    def take(self, rows: np.ndarray) -> Problem:
        """The same DAG on the listed candidates only (rows are scheduled independently)."""
        return replace(self, single_ns=self.single_ns[rows], intra_ns=self.intra_ns[rows], n_tc=self.n_tc[rows],
                       n_vc=self.n_vc[rows])

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
