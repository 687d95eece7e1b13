"""The phase bound: a per-candidate lower bound that sees how evenly single-core ops pack onto the cores.

Why: on designs with a few tensor cores, the vectorised bound (`bound.py`) lets a vector op run on one core
while single-core GEMMs keep every TC busy, as if those GEMMs could be dealt to the cores with no core left
waiting. Whether they can is a number-partitioning question; CP-SAT settles it by search, slowly (seconds on
a 20-op backward block with 4 TCs). This bound settles it directly, per candidate, in milliseconds on a
transformer block (medians 2–4 ms over 400 open blocks, tens of ms at worst); wide graphs cost more (up to
~0.3 s at the enumeration cap below).

Argument. Call an op a *chip op* if every mode of it holds a tensor or a vector core (class TC, VC or TC+VC;
collectives and NOPs hold neither and are left out, as are ops that can take zero time, which hold
nothing). A whole-chip interval holds every core, so in any schedule of makespan T the whole-chip intervals
of chip ops are disjoint from each other and from every single-core chip interval. The rest of [0, T]
falls into *phases*: maximal intervals with no whole-chip chip op. A single-core chip op lies inside one
phase, so with S_P the chip ops of phase P

    T = Σ_{i whole-chip} L_i + Σ_P |P|,    |P| >= c(S_P) = max(chain(S_P), pack_TC(S_P), pack_VC(S_P))

where chain is the longest precedence chain inside S_P at single-core durations, and pack_r the shortest
time n_r cores need for S_P's single-core intervals on r (at most n_r overlap at any time, so they can be
dealt to n_r cores — `lane_pack`). S_P is *convex* among chip ops: a chip op on a path between two of its
ops runs between them, so inside P, so single-core. With base_i = the op's shorter mode and
saving(S) = Σ_{i in S} base_i − c(S),

    T >= Σ_i base_i − Σ_P saving(S_P) >= Σ_i base_i − max over disjoint convex sets of Σ positive saving,

which `phase_bound` returns: it enumerates the convex sets, keeps those with positive saving (cheap sums
first, then chains, then packing) and packs them disjointly. The order of the phases is relaxed away. With
an upper bound ub (greedy's makespan), ops that run whole-chip in every schedule shorter than ub
(`forced_intra`) are not placed in phases, and min(ub, bound) is returned.

Where it is tight: when a vector op can only hide behind GEMMs that cannot be balanced over the cores, no
convex set saves anything and the bound meets greedy's all-whole-chip schedule (measured: 63 of 67 open
llama2_7b backward blocks on 4 TCs, every one on 8 or more). Where it is loose: 2 TCs, where greedy is
usually beaten and the best schedule overlaps several phases' worth of work; it keeps only each phase's
chain and packing, not the order inside it or between phases.
"""

from __future__ import annotations

import numpy as np

from phaze.schedule.bound_ref import forced_intra, without_single
from phaze.schedule.instance import Instance
from phaze.schedule.lane_pack import min_makespan
from phaze.schedule.modes import CLASS_HOLDS_CORE, CLASS_TC, CLASS_VC, MODE_SINGLE
from phaze.schedule.phase_sets import best_disjoint_saving, convex_sets
from phaze.schedule.reach import descendants

# Most convex sets enumerated (int64 arrays of this length). A transformer block's backward graph has at most
# 3,796 (llama2_7b) / 13,440 (gpt3_175b, with its bias and dropout ops) over 200 open candidates; a wide graph
# could have 2^ops, and then the bound is skipped (it is optional). At the cap: ~0.3 s and ~60 MB.
MAX_CONVEX_SETS = 1 << 17
# Most sets whose core packing is searched exactly (`lane_pack.min_makespan`); with more, the vectorised
# packing bounds stand alone. Measured on 2 x 200 open llama2_7b / gpt3_175b backward blocks: without a cap
# the same 180 are closed in 4x the time (6.4 s in all against 1.6 s); a cap of 64 closes 172.
MAX_PACKED_SETS = 512


def phase_bound(inst: Instance, ub: int | None = None) -> int:
    """A lower bound on the makespan of `inst` (module doc); 0 if the instance is too wide to enumerate.

    With `ub`, a bound valid for the schedules shorter than ub, capped at ub: it proves ub optimal when
    it returns ub.
    """
    if inst.infeasible_reason():
        return 0
    if ub is not None:
        forced = forced_intra(inst, ub)
        return min(ub, _bound(without_single(inst, forced) if forced else inst))
    return _bound(inst)


def _bound(inst: Instance) -> int:
    """Σ base over the chip ops minus the best disjoint saving (module doc); 0 when the convex sets are too
    many to enumerate (that is the trivial bound, not a claim)."""
    modes = [dict(inst.modes(i)) for i in range(inst.n)]
    base = [min(m.values()) for m in modes]
    chip = [i for i in range(inst.n) if base[i] > 0 and CLASS_HOLDS_CORE[inst.op_class[i]]]
    cands = [i for i in chip if MODE_SINGLE in modes[i]]
    total = sum(base[i] for i in chip)
    if len(cands) < 2:  # no set of two ops can share a phase: every phase saves nothing
        return total
    desc = descendants(inst.n, inst.edges)
    sets = convex_sets(desc, chip, cands, MAX_CONVEX_SETS)
    if sets is None:
        return 0
    return total - best_disjoint_saving(*_saving_sets(inst, desc, cands, [base[i] for i in cands], sets))


def _saving_sets(inst: Instance, desc: list[int], cands: list[int], base: list[int],
                 sets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(masks, savings) of the sets whose saving (module doc) is positive, filtered cheapest test first."""
    single = [inst.single[i] for i in cands]
    on_tc = [bool(CLASS_TC[inst.op_class[i]]) for i in cands]
    on_vc = [bool(CLASS_VC[inst.op_class[i]]) for i in cands]
    member = [((sets >> k) & 1).astype(bool) for k in range(len(cands))]
    saved = sum(np.where(member[k], base[k], 0) for k in range(len(cands)))
    tc = sum(np.where(member[k] & on_tc[k], single[k], 0) for k in range(len(cands)))
    vc = sum(np.where(member[k] & on_vc[k], single[k], 0) for k in range(len(cands)))
    cost = np.maximum(-(-tc // inst.n_tc), -(-vc // inst.n_vc))
    keep = cost < saved
    sets, saved, cost = sets[keep], saved[keep], cost[keep]
    member = [((sets >> k) & 1).astype(bool) for k in range(len(cands))]
    ends: list[np.ndarray] = []  # longest chain inside the set ending at cands[k]
    for k, op in enumerate(cands):
        before = [ends[j] for j in range(k) if desc[cands[j]] >> op & 1]
        start = np.maximum.reduce(before) if before else np.zeros(sets.size, dtype=np.int64)
        ends.append(np.where(member[k], start + single[k], 0))
        cost = np.maximum(cost, ends[-1])
    for uses, cores in ((on_tc, inst.n_tc), (on_vc, inst.n_vc)):
        if sets.size and cores < sum(uses):  # the classic packing bound, for every set at once
            jobs = -np.sort(-np.stack([np.where(member[k] & uses[k], single[k], 0) for k in range(len(cands))],
                                      axis=1))
            cost = np.maximum(cost, jobs[:, cores - 1] + jobs[:, cores])
    keep = cost < saved
    sets, saved, cost = sets[keep], saved[keep], cost[keep]
    if sets.size <= MAX_PACKED_SETS:
        for row, (mask, s) in enumerate(zip(sets.tolist(), saved.tolist(), strict=True)):
            for uses, cores in ((on_tc, inst.n_tc), (on_vc, inst.n_vc)):
                jobs = [single[k] for k in range(len(cands)) if mask >> k & 1 and uses[k]]
                if len(jobs) > cores and cost[row] < s:
                    cost[row] = max(cost[row], min_makespan(jobs, cores))
    keep = cost < saved
    return sets[keep], saved[keep] - cost[keep]
