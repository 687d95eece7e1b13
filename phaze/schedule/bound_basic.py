"""The basic bound LB(S) of one op subset, for all candidates at once: the kernel that `bound` applies
to the whole layer and to each segment between bottlenecks.

LB(S), its terms and the proof that it never exceeds the optimum are in `bound`'s module docstring; this
module only evaluates it, kept apart so that `bound` reads as the combination (segments,
incumbent-conditional strengthening, idle-capacity rows) over one kernel.

Exact integer arithmetic without overflow: ceil(sum_i min(tc_i·l_i, n·L_i) / n) is evaluated as
sum_{i: intra is cheaper} L_i + ceil(sum_{other i} tc_i·l_i / n), never forming n·L_i.
"""

from __future__ import annotations

import numpy as np

from phaze.schedule.dag import succ_lists
from phaze.schedule.idle import idle_extra
from phaze.schedule.modes import CLASS_LINK, CLASS_TC, CLASS_VC
from phaze.schedule.problem import Problem
from phaze.schedule.reach import descendants


def _work_bound(single: np.ndarray, intra: np.ndarray, unit: np.ndarray, cap: np.ndarray,
                extra: np.ndarray | None = None) -> np.ndarray:
    """ceil((sum_i min(unit_i·l_i, cap·L_i) + extra) / cap) exactly, without forming cap·L_i (module doc);
    `extra` is the idle-capacity work of `idle.py`."""
    capc = cap[:, None]
    single_cost_ceil = -(-(unit[None, :] * np.maximum(single, 0)) // capc)  # ceil(unit·l / cap)
    intra_cheaper = (intra >= 0) & ((single < 0) | ((unit[None, :] > 0) & (intra < single_cost_ceil)))
    a = np.where(intra_cheaper, intra, 0).sum(axis=1)
    b = np.where(~intra_cheaper & (single >= 0), unit[None, :] * single, 0).sum(axis=1)
    if extra is not None:
        b = b + extra
    return a + (-(-b // cap))


def basic_bound(problem: Problem, single: np.ndarray, intra: np.ndarray, best: np.ndarray,
                 ops: list[int], idle: bool = False) -> np.ndarray:
    """(C,) LB(S) for the op subset `ops` (sorted), on the dominance-reduced durations."""
    succ = succ_lists(problem.n_ops, [(int(i), int(j)) for i, j in problem.edges], set(ops))
    tail = best[:, ops].copy()
    pos = {op: k for k, op in enumerate(ops)}
    for k in range(len(ops) - 1, -1, -1):
        nxt = [pos[j] for j in succ[ops[k]]]
        if nxt:
            tail[:, k] += tail[:, nxt].max(axis=1)
    cp = tail.max(axis=1, initial=0)
    cls = problem.op_class[ops]
    s, m = single[:, ops], intra[:, ops]
    extra_tc = extra_vc = None
    if idle:
        desc = descendants(problem.n_ops, [(int(i), int(j)) for i, j in problem.edges])
        extra_tc = idle_extra(problem.op_class, desc, ops, single, intra, problem.n_tc, 0, problem.n_vc)
        extra_vc = idle_extra(problem.op_class, desc, ops, single, intra, problem.n_vc, 1, problem.n_tc)
    tc = _work_bound(s, m, CLASS_TC[cls], problem.n_tc, extra_tc)
    vc = _work_bound(s, m, CLASS_VC[cls], problem.n_vc, extra_vc)
    link = np.where(s >= 0, s, 0)[:, CLASS_LINK[cls] == 1].sum(axis=1)
    return np.maximum.reduce([cp, tc, vc, link])
