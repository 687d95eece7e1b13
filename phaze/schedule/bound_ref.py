"""The lower bound of `bound.py` for ONE candidate in plain Python integers: the reference the tests
compare `bound_space` with, and the source of the forced modes and head/tail paths CP-SAT uses. The
rules and their proofs are in `bound.py`'s module docstring."""

from __future__ import annotations

from dataclasses import replace

from phaze.schedule.dag import bottleneck_segments, succ_lists
from phaze.schedule.idle import SAFE_PRODUCT, blocker_chains, holds_other, resource_roles
from phaze.schedule.instance import Instance
from phaze.schedule.modes import CLASS_HOLDS_CORE, MODE_INTRA, MODE_SINGLE
from phaze.schedule.reach import comparable, descendants
from phaze.schedule.units import INFEASIBLE_NS, UNAVAILABLE


def critical_path_instance(inst: Instance) -> list[int]:
    """Per op, the longest path to a sink with best durations (its own included)."""
    succ = inst.succs()
    tail = [0] * inst.n
    for i in range(inst.n - 1, -1, -1):
        best = min((d for _, d in inst.modes(i)), default=0)
        tail[i] = best + max((tail[j] for j in succ[i]), default=0)
    return tail


def idle_extra_instance(inst: Instance, ops: list[int], resource: int) -> int:
    """`idle.idle_extra` for one candidate, by direct enumeration: for every blocker chain, the minimum
    over X (blockers run on one core) of the whole-chip work of the others plus the best cut value
    g(Y) over Y ⊆ X (`idle.py` module doc)."""
    cap = (inst.n_tc, inst.n_vc)[resource]
    cap_other = (inst.n_vc, inst.n_tc)[resource]
    desc = descendants(inst.n, inst.edges)
    blocker_cls, user_cls = resource_roles(inst.op_class, resource)
    modes = [dict(inst.modes(i)) for i in range(inst.n)]
    blockers = [i for i in ops if inst.op_class[i] in blocker_cls]
    # a user that also holds the other resource's only unit never runs beside a blocker (idle.py)
    users = [j for j in ops if inst.op_class[j] in user_cls and MODE_SINGLE in modes[j]
             and not (cap_other < 2 and holds_other(inst.op_class[j], resource))]
    best_all = 0
    for chain in blocker_chains(desc, blockers):
        live = [v for v in chain if modes[v].get(MODE_SINGLE, 0) > 0]  # the others add nothing
        worst = max(max(modes[v].get(MODE_SINGLE, 0), modes[v].get(MODE_INTRA, 0)) for v in chain)
        if float(cap) * float(worst) * (len(chain) + 1) >= SAFE_PRODUCT:
            continue
        best = None
        for x in range(1 << len(live)):
            in_x = [v for b, v in enumerate(live) if x >> b & 1]
            out_x = [v for v in live if v not in in_x]
            if any(MODE_INTRA not in modes[v] for v in out_x):
                continue  # a one-core-only blocker cannot run on the whole chip
            value = sum(cap * modes[v][MODE_INTRA] for v in out_x)
            cut = 0
            for y in range(1 << len(in_x)):
                ys = [v for b, v in enumerate(in_x) if y >> b & 1]
                g = sum(cap * modes[v][MODE_SINGLE] for v in ys)
                for j in users:
                    beside = sum(modes[v][MODE_SINGLE] for v in ys if not comparable(desc, j, v))
                    g -= min(modes[j][MODE_SINGLE], beside)
                cut = max(cut, g)
            best = value + cut if best is None else min(best, value + cut)
        best_all = max(best_all, best or 0)
    return best_all


def _basic_bound_instance(inst: Instance, ops: list[int]) -> int:
    keep = set(ops)
    succ = succ_lists(inst.n, inst.edges, keep)
    tail: dict[int, int] = {}
    works = [0, 0, 0]
    for i in reversed(ops):
        modes = inst.modes(i)
        tail[i] = min(d for _, d in modes) + max((tail[j] for j in succ[i]), default=0)
        for r in range(3):
            works[r] += min(inst.demand(i, m, d)[r] * d for m, d in modes)
    caps = (inst.n_tc, inst.n_vc, 1)
    works[0] += idle_extra_instance(inst, ops, 0)
    works[1] += idle_extra_instance(inst, ops, 1)
    return max(max(tail.values(), default=0), *(-(-w // c) for w, c in zip(works, caps, strict=True)))


def _bound_instance_modes(inst: Instance) -> int:
    out = _basic_bound_instance(inst, list(range(inst.n)))
    necks, segments = bottleneck_segments(inst.n, inst.edges)
    if necks:
        seg = sum(min(d for _, d in inst.modes(b)) for b in necks)
        seg += sum(_basic_bound_instance(inst, ops) for ops in segments if ops)
        out = max(out, seg)
    return out


def forced_intra(inst: Instance, ub: int) -> set[int]:
    """Ops that run intra-op in every schedule with makespan < ub (the rules of the module doc)."""
    tail = critical_path_instance(inst)
    preds = inst.preds()
    best = [min(d for _, d in inst.modes(i)) for i in range(inst.n)]
    head = [0] * inst.n
    for j in range(inst.n):
        head[j] = max((head[i] + best[i] for i in preds[j]), default=0)
    both = [dict(inst.modes(i)) for i in range(inst.n)]
    forced = {i for i, m in enumerate(both) if len(m) == 2 and head[i] + m[MODE_SINGLE] + tail[i] - best[i] >= ub}
    while True:
        chip = sum(both[i][MODE_INTRA] for i in forced)
        more = {i for i, m in enumerate(both) if len(m) == 2 and i not in forced and m[MODE_SINGLE] + chip >= ub
                and CLASS_HOLDS_CORE[inst.op_class[i]]}
        if not more:
            return forced
        forced |= more


def without_single(inst: Instance, ops: set[int]) -> Instance:
    """The instance with the single-core mode of `ops` removed."""
    return replace(inst, single=tuple(UNAVAILABLE if i in ops else x for i, x in enumerate(inst.single)))


def bound_instance(inst: Instance, ub: int | None = None) -> int:
    """The same bound for one candidate, in plain Python integers (the reference for `bound_space`)."""
    if inst.infeasible_reason():
        return int(INFEASIBLE_NS)
    out = _bound_instance_modes(inst)
    if ub is None:
        return out
    forced = forced_intra(inst, ub)
    if forced:
        out = max(out, min(ub, _bound_instance_modes(without_single(inst, forced))))
    return out
