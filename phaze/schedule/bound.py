"""Lower bounds on a layer's makespan, for all candidates at once (numpy) and for one (plain Python).

Basic bound of a set of ops S (DESIGN §6):

    LB(S) = max( CP(S), ceil((W_tc(S) + I_tc(S)) / n_tc), ceil((W_vc(S) + I_vc(S)) / n_vc), W_link(S) )

* CP: the longest path of the DAG where each op takes its best duration b_i = min over its modes.
* W_r, the minimum *work* on resource r: each op contributes min over its modes m of demand_r(m)·d(m),
  where an intra-op interval demands ALL n_tc TCs and ALL n_vc VCs (so its TC work is n_tc·L_i, not
  L_i) and a single-core one its unit demands (so a vector op's TC work is 0: it need not touch a TC).
* W_link: collectives serialise on the link (capacity 1).
* I_r: the idle-capacity term of `idle.py` (its own proof there): capacity of r that must idle while an
  op runs on one core of the other resource, since no whole-chip interval can overlap it; 0 adds nothing.

Segmented bound. A *bottleneck* op is comparable with every other op (each other op is its ancestor
or its descendant). Bottlenecks b_1 < ... < b_k cut the DAG into segments S_0..S_k of the ops strictly
between consecutive bottlenecks, and

    LB = max( LB(all ops), sum_k LB(S_k) + sum_k b_{b_k} ).

Layer graphs are near-chains (a block's forward is a chain but for the gate/up pair), so this is much
tighter than the basic bound alone: resource work is charged per segment, where it cannot hide behind
another segment's critical path.

Proof that LB <= optimum. Take any feasible schedule with makespan T and modes m_i.
(1) Along any path the ops run one after another (end_i <= start_j), each for d(m_i) >= b_i, so
    T >= sum of b_i on the path, and T >= CP.
(2) For a resource r of capacity K, the usage u_r(t) never exceeds K, so K·T >= ∫_0^T u_r(t) dt =
    sum_i demand_r(m_i)·d(m_i) >= sum_i min_m demand_r(m)·d(m) = W_r; hence T >= W_r / K and, T being
    an integer number of ns, T >= ceil(W_r / K); with the idle capacity, K·T >= W_r + I_r (`idle.py`).
    Taking the minimum over modes per op is what keeps this
    valid: charging an intra-op op only L_i (its duration) would be weaker but valid, while charging a
    GEMM its single-core work l_i even when n_tc·L_i < l_i (super-linear intra speed-up, e.g. from the
    1/n_tc bandwidth share of single-core mode) could exceed the optimum.
(3) Every op of S_k descends from b_k and precedes b_{k+1}, so it runs inside the window
    [end(b_k), start(b_{k+1})] (S_0 in [0, start(b_1)], S_k in [end(b_k), T]); the schedule restricted to
    S_k is a feasible schedule of S_k alone, so the window is at least OPT(S_k) >= LB(S_k) by (1)-(2).
    The windows and the bottleneck intervals are disjoint and in sequence, hence
    T >= sum_k LB(S_k) + sum_k d(m_{b_k}) >= sum_k LB(S_k) + sum_k b_{b_k}.
Incumbent-conditional strengthening. Given the makespan UB of a known schedule (the greedy one), an op
whose single-core mode alone forces a path of length >= UB (head_i + l_i + tail-after_i, best
durations elsewhere), or whose single-core interval plus the intervals of the ops already forced
intra-op reach UB (l_i + sum_{j forced} L_j >= UB: an intra-op interval holds every core, so it
overlaps no single-core one and no other intra-op one), runs intra-op in every schedule shorter than
UB; the second rule is applied until nothing changes. Removing those single-core modes
gives a problem whose bound LB' holds for every schedule shorter than UB, hence
OPT >= min(UB, LB'), and the bound returned is max(LB, min(UB, LB')). With those ops intra-op, their
whole-chip intervals are disjoint from all other TC/VC use, so the work bounds charge them their full
duration: exactly what serialises a layer whose ops only pay off on the whole chip.
(4) Proof: a schedule with makespan < UB uses the intra mode for each removed op — else the path
    through it, or (by induction over the rounds) its interval and the disjoint whole-chip intervals of
    the ops removed before it, would reach UB — so it is a feasible schedule of the reduced problem.
The bound is computed on the dominance-reduced modes (`problem.effective_modes`), which leave the
optimum unchanged, so it is valid for the original problem too.

Exact integer arithmetic without overflow: ceil(sum_i min(tc_i·l_i, n·L_i) / n) is evaluated as
sum_{i: intra is cheaper} L_i + ceil(sum_{other i} tc_i·l_i / n), never forming n·L_i.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from phaze.schedule.idle import descendants, idle_extra
from phaze.schedule.problem import (
    CLASS_LINK,
    CLASS_TC,
    CLASS_VC,
    INFEASIBLE_NS,
    Problem,
    effective_modes,
)

Edges = Sequence[tuple[int, int]]


def bottleneck_segments(n: int, edges: Edges) -> tuple[list[int], list[list[int]]]:
    """(bottleneck ops in order, segments S_0..S_k as sorted op lists) of a DAG with edges i < j."""
    desc = descendants(n, edges)  # bitsets
    anc = [0] * n
    for i in range(n):
        for j in range(n):
            if desc[j] >> i & 1:
                anc[i] |= 1 << j
    full = (1 << n) - 1
    necks = [i for i in range(n) if (desc[i] | anc[i] | (1 << i)) == full]
    segments: list[list[int]] = [[] for _ in range(len(necks) + 1)]
    neck_set = set(necks)
    for i in range(n):
        if i not in neck_set:
            segments[sum(1 for b in necks if anc[i] >> b & 1)].append(i)
    return necks, segments


def best_durations(single: np.ndarray, intra: np.ndarray) -> np.ndarray:
    """(C, n) min duration over the available modes; 0 where an op has none (infeasible rows)."""
    big = np.iinfo(np.int64).max
    best = np.minimum(np.where(single >= 0, single, big), np.where(intra >= 0, intra, big))
    return np.where(best == big, 0, best)


def succ_lists(n: int, edges: Edges, keep: set[int] | None = None) -> list[list[int]]:
    succ: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges:
        if keep is None or (i in keep and j in keep):
            succ[int(i)].append(int(j))
    return succ


def tails(problem: Problem, dur: np.ndarray) -> np.ndarray:
    """(C, n) longest path from each op to a sink, the op's own duration included (ops are topological)."""
    succ = succ_lists(problem.n_ops, [(int(i), int(j)) for i, j in problem.edges])
    out = dur.copy()
    for i in range(problem.n_ops - 1, -1, -1):
        if succ[i]:
            out[:, i] += out[:, succ[i]].max(axis=1)
    return out


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


def _basic_bound(problem: Problem, single: np.ndarray, intra: np.ndarray, best: np.ndarray,
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


def heads(problem: Problem, dur: np.ndarray) -> np.ndarray:
    """(C, n) longest path from a source to each op, the op's own duration excluded."""
    preds: list[list[int]] = [[] for _ in range(problem.n_ops)]
    for i, j in problem.edges:
        preds[int(j)].append(int(i))
    out = np.zeros_like(dur)
    for j in range(problem.n_ops):
        if preds[j]:
            out[:, j] = (out[:, preds[j]] + dur[:, preds[j]]).max(axis=1)
    return out


def _bound_arrays(problem: Problem, single: np.ndarray, intra: np.ndarray, idle: bool) -> np.ndarray:
    """max(LB(all ops), segmented bound) on given (dominance-reduced) mode durations."""
    best = best_durations(single, intra)
    n = problem.n_ops
    out = _basic_bound(problem, single, intra, best, list(range(n)), idle)
    necks, segments = bottleneck_segments(n, [(int(i), int(j)) for i, j in problem.edges])
    if necks:
        seg = best[:, necks].sum(axis=1)
        for ops in segments:
            if ops:
                seg += _basic_bound(problem, single, intra, best, ops, idle)
        out = np.maximum(out, seg)
    return out


def _bound_rows(problem: Problem, ub: np.ndarray | None, idle: bool) -> np.ndarray:
    """The bound of every row of `problem` (plain, then incumbent-conditional if `ub` is given)."""
    single, intra = effective_modes(problem.single_ns, problem.intra_ns)
    out = _bound_arrays(problem, single, intra, idle)
    if ub is not None:
        best = best_durations(single, intra)
        through = heads(problem, best) + tails(problem, best) - best + single  # path if i runs single
        both = (single >= 0) & (intra >= 0)
        forced = both & (through >= ub[:, None])
        while True:
            chip = np.where(forced, intra, 0).sum(axis=1)
            more = both & ~forced & (single + chip[:, None] >= ub[:, None])
            if not more.any():
                break
            forced |= more
        if forced.any():
            cond = _bound_arrays(problem, np.where(forced, -1, single), intra, idle)
            out = np.maximum(out, np.minimum(ub, cond))
    return out


def bound_space(problem: Problem, ub: np.ndarray | None = None) -> np.ndarray:
    """(C,) int64 lower bound in ns for every candidate (INFEASIBLE_NS for infeasible ones).

    `ub`, if given, is the makespan of a valid schedule per candidate (the greedy one): it enables the
    incumbent-conditional strengthening of the module doc. The idle-capacity term (`idle.py`) is the
    costly part, so it is evaluated only on rows the cheaper bound leaves below `ub`: elsewhere the bound
    already equals ub, which no valid bound exceeds, so the result is the same as computing it everywhere.
    """
    out = _bound_rows(problem, ub, idle=False)
    rows = np.flatnonzero(problem.feasible if ub is None else problem.feasible & (out < ub))
    if rows.size:
        sub = replace(problem, single_ns=problem.single_ns[rows], intra_ns=problem.intra_ns[rows],
                      n_tc=problem.n_tc[rows], n_vc=problem.n_vc[rows])
        out[rows] = np.maximum(out[rows], _bound_rows(sub, None if ub is None else ub[rows], idle=True))
    return np.where(problem.feasible, out, INFEASIBLE_NS)
