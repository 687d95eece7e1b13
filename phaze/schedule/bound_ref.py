"""The lower bound of `bound.py` for ONE candidate in plain Python integers: the reference the tests
compare `bound_space` with, and the source of the forced modes and head/tail paths CP-SAT uses. The
rules and their proofs are in `bound.py`'s module docstring."""

from __future__ import annotations

from dataclasses import replace

from phaze.schedule.bound import bottleneck_segments, succ_lists
from phaze.schedule.problem import INFEASIBLE_NS, MODE_INTRA, MODE_SINGLE, UNAVAILABLE, Instance


def critical_path_instance(inst: Instance) -> list[int]:
    """Per op, the longest path to a sink with best durations (its own included)."""
    succ = inst.succs()
    tail = [0] * inst.n
    for i in range(inst.n - 1, -1, -1):
        best = min((d for _, d in inst.modes(i)), default=0)
        tail[i] = best + max((tail[j] for j in succ[i]), default=0)
    return tail


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
        more = {i for i, m in enumerate(both) if len(m) == 2 and i not in forced and m[MODE_SINGLE] + chip >= ub}
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
