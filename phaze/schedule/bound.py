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
durations elsewhere), or whose single-core interval on a tensor or vector core plus the intervals
of the ops already forced intra-op reach UB (l_i + sum_{j forced} L_j >= UB: an intra-op interval holds
every core, so it overlaps no other intra-op one and no single-core one that holds a core — a collective
or NOP may overlap it), runs intra-op in every schedule shorter than
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

Code: the graph helpers (segments, heads/tails, best durations) are in `dag`, LB(S) itself, with its
exact integer arithmetic, in `bound_basic`; this module combines them into the bound above.
"""

from __future__ import annotations

import numpy as np

from phaze.schedule.bound_basic import basic_bound
from phaze.schedule.dag import best_durations, bottleneck_segments, heads, tails
from phaze.schedule.modes import CLASS_HOLDS_CORE
from phaze.schedule.problem import Problem, effective_modes
from phaze.schedule.units import INFEASIBLE_NS


def _bound_arrays(problem: Problem, single: np.ndarray, intra: np.ndarray, idle: bool) -> np.ndarray:
    """max(LB(all ops), segmented bound) on given (dominance-reduced) mode durations."""
    best = best_durations(single, intra)
    n = problem.n_ops
    out = basic_bound(problem, single, intra, best, list(range(n)), idle)
    necks, segments = bottleneck_segments(n, [(int(i), int(j)) for i, j in problem.edges])
    if necks:
        seg = best[:, necks].sum(axis=1)
        for ops in segments:
            if ops:
                seg += basic_bound(problem, single, intra, best, ops, idle)
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
            more = both & ~forced & CLASS_HOLDS_CORE[problem.op_class] & (single + chip[:, None] >= ub[:, None])
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
        sub = problem.take(rows)
        out[rows] = np.maximum(out[rows], _bound_rows(sub, None if ub is None else ub[rows], idle=True))
    return np.where(problem.feasible, out, INFEASIBLE_NS)
