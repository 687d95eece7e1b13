"""Lower bounds on a layer's makespan, for all candidates at once (numpy) and for one (plain Python).

    LB = max( CP, ceil(W_tc / n_tc), ceil(W_vc / n_vc), W_link )                       (DESIGN §6)

* CP: the longest path of the DAG where each op takes its best duration b_i = min over its modes.
* W_r, the minimum *work* on resource r: each op contributes min over its modes m of demand_r(m)·d(m),
  where an intra-op interval demands ALL n_tc TCs and ALL n_vc VCs (so its TC work is n_tc·L_i, not
  L_i) and a single-core one its unit demands (so a vector op's TC work is 0: it need not touch a TC).
* W_link: collectives serialise on the link (capacity 1).

Proof that LB <= optimum. Take any feasible schedule with makespan T and modes m_i.
(1) Along any path the ops run one after another (end_i <= start_j), each for d(m_i) >= b_i, so
    T >= sum of b_i on the path, and T >= CP.
(2) For a resource r of capacity K, the usage u_r(t) never exceeds K, so K·T >= ∫_0^T u_r(t) dt =
    sum_i demand_r(m_i)·d(m_i) >= sum_i min_m demand_r(m)·d(m) = W_r; hence T >= W_r / K and, T being
    an integer number of ns, T >= ceil(W_r / K). Taking the minimum over modes per op is what keeps this
    valid: charging an intra-op op only L_i (its duration) would be weaker but valid, while charging a
    GEMM its single-core work l_i even when n_tc·L_i < l_i (super-linear intra speed-up, e.g. from the
    1/n_tc bandwidth share of single-core mode) could exceed the optimum.
The bound is computed on the dominance-reduced modes (`problem.effective_modes`), which leave the
optimum unchanged, so it is valid for the original problem too.

Exact integer arithmetic without overflow: ceil(sum_i min(tc_i·l_i, n·L_i) / n) is evaluated as
sum_{i: intra is cheaper} L_i + ceil(sum_{other i} tc_i·l_i / n), never forming n·L_i.
"""

from __future__ import annotations

import numpy as np

from phaze.schedule.problem import (
    CLASS_LINK,
    CLASS_TC,
    CLASS_VC,
    Instance,
    Problem,
    effective_modes,
)


def best_durations(single: np.ndarray, intra: np.ndarray) -> np.ndarray:
    """(C, n) min duration over the available modes; 0 where an op has none (infeasible rows)."""
    big = np.iinfo(np.int64).max
    best = np.minimum(np.where(single >= 0, single, big), np.where(intra >= 0, intra, big))
    return np.where(best == big, 0, best)


def tails(problem: Problem, dur: np.ndarray) -> np.ndarray:
    """(C, n) longest path from each op to a sink, the op's own duration included (ops are topological)."""
    succ: list[list[int]] = [[] for _ in range(problem.n_ops)]
    for i, j in problem.edges:
        succ[int(i)].append(int(j))
    out = dur.copy()
    for i in range(problem.n_ops - 1, -1, -1):
        if succ[i]:
            out[:, i] += out[:, succ[i]].max(axis=1)
    return out


def _work_bound(single: np.ndarray, intra: np.ndarray, unit: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """ceil(sum_i min(unit_i·l_i, cap·L_i) / cap) exactly, without forming cap·L_i (see module doc)."""
    capc = cap[:, None]
    single_cost_ceil = -(-(unit[None, :] * np.maximum(single, 0)) // capc)  # ceil(unit·l / cap)
    intra_cheaper = (intra >= 0) & ((single < 0) | ((unit[None, :] > 0) & (intra < single_cost_ceil)))
    a = np.where(intra_cheaper, intra, 0).sum(axis=1)
    b = np.where(~intra_cheaper & (single >= 0), unit[None, :] * single, 0).sum(axis=1)
    return a + (-(-b // cap))


def bound_space(problem: Problem) -> np.ndarray:
    """(C,) int64 lower bound in ns for every candidate (0 for infeasible ones)."""
    single, intra = effective_modes(problem.single_ns, problem.intra_ns)
    cp = tails(problem, best_durations(single, intra)).max(axis=1, initial=0)
    cls = problem.op_class
    tc = _work_bound(single, intra, CLASS_TC[cls], problem.n_tc)
    vc = _work_bound(single, intra, CLASS_VC[cls], problem.n_vc)
    link = np.where(single >= 0, single, 0)[:, CLASS_LINK[cls] == 1].sum(axis=1)
    out = np.maximum.reduce([cp, tc, vc, link])
    return np.where(problem.feasible, out, 0)


def critical_path_instance(inst: Instance) -> list[int]:
    """Per op, the longest path to a sink with best durations (its own included)."""
    succ = inst.succs()
    tail = [0] * inst.n
    for i in range(inst.n - 1, -1, -1):
        best = min((d for _, d in inst.modes(i)), default=0)
        tail[i] = best + max((tail[j] for j in succ[i]), default=0)
    return tail


def bound_instance(inst: Instance) -> int:
    """The same bound for one candidate, in plain Python integers (the reference for `bound_space`)."""
    if inst.infeasible_reason():
        return 0
    cp = max(critical_path_instance(inst), default=0)
    works = [0, 0, 0]
    for i in range(inst.n):
        per_mode = [inst.demand(i, m, d) for m, d in inst.modes(i)]
        durs = [d for _, d in inst.modes(i)]
        for r in range(3):
            works[r] += min(dem[r] * d for dem, d in zip(per_mode, durs, strict=True))
    caps = (inst.n_tc, inst.n_vc, 1)
    res = [-(-w // c) for w, c in zip(works, caps, strict=True)]
    return max(cp, *res)

