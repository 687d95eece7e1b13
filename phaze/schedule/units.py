"""Time in integer nanoseconds: the unit, the rounding from the cost model's seconds, the ns sentinels.

Time is converted from seconds to integer nanoseconds ONCE, here, by `to_ns` (ceil, so a positive
duration never rounds to 0 and a rounded schedule is never optimistic; a float product that lands a
hair above an integer, e.g. 61e-9 s -> 61.00000000000001 ns, is first pulled back by ROUND_TOL_NS so an
exact number of ns stays exact; `consistent_single_ns` then lifts a single-core duration to k times
the whole-chip one where the model has l >= k·L), and every later stage —
greedy, lower bound, CP-SAT, checker — works on these same integers, so "greedy meets the bound" is an
exact integer equality rather than a float comparison.

Kept apart from `problem` because every stage (greedy, bounds, CP-SAT, checker, results) needs the unit
and the sentinels, most of them without the Problem arrays; the rounding rules are what make the stages
agree exactly, so they live in one place. Depends only on the resource classes of `modes`.
"""

from __future__ import annotations

import numpy as np

from phaze.schedule.modes import CLASS_TC, CLASS_VC

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
