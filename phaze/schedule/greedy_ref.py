"""Critical-path list scheduling for ONE candidate, in plain Python: the reference for `greedy.py`.

The rule (a parallel schedule-generation scheme, Kolisch 1996, with per-op mode choice):
time t advances from event to event (op completions). At each t, among the *ready* ops (all
predecessors finished, not started) that can start now, start the one with the longest tail — the
critical path from it to a sink with best durations, its own included — ties to the lower index; repeat
until none can start, then advance t to the next completion. Whether and how a ready op can start:
* chip idle (no TC/VC busy): intra-op if the op has a (non-dominated) intra mode, else single-core if
  its unit demand fits (a collective needs the free link);
* chip busy: single-core if its unit demand fits and, when it also has an intra mode, finishing now on
  one core is no later than waiting for the whole chip: t + l_i <= F + L_i, with F the time every
  running TC/VC op has ended. Otherwise it waits.
Modes are first reduced by dominance (`Instance.modes`), so an op with both modes has L_i < l_i; a
zero-length op holds nothing and always starts at once.

Two policies differ only on an idle chip: `whole` (the default) always takes the intra-op mode when
there is one; `spread` takes the single-core mode instead for a *frugal* op — one whose single-core
work is no more than its whole-chip work, ceil(l_i / n) <= L_i with n the core count of its resource —
when at least two ops are ready, so that several ops can share the chip. Neither dominates (spread alone
can be far worse), so `greedy_best` runs both and keeps the shorter (ties: `whole`).
"""

from __future__ import annotations

from phaze.schedule.bound_ref import critical_path_instance
from phaze.schedule.instance import Instance
from phaze.schedule.modes import CLASS_LINK, CLASS_TC, CLASS_VC, MODE_INTRA, MODE_SINGLE


def greedy_instance(inst: Instance, spread: bool = False) -> tuple[list[int], list[int], int]:
    """(starts_ns, modes, makespan_ns) of the greedy schedule; the instance must be feasible."""
    n = inst.n
    if inst.infeasible_reason():
        raise ValueError(inst.infeasible_reason())
    tail = critical_path_instance(inst)
    modes = [dict(inst.modes(i)) for i in range(n)]
    succ = inst.succs()
    pred_left = [len(p) for p in inst.preds()]
    started = [False] * n
    starts, chosen, ends = [0] * n, [MODE_SINGLE] * n, [0] * n
    running: list[int] = []
    used = [0, 0, 0]
    t = chip_free = 0

    def finish(i: int) -> None:
        for j in succ[i]:
            pred_left[j] -= 1

    caps = (inst.n_tc, inst.n_vc)
    # spread policy: on an idle chip, run on one core an op whose one-core work is no larger than its
    # whole-chip work (l_i <= n·L_i on its resource) when another op is ready to share the chip
    frugal = [len(modes[i]) == 2 and 0 not in modes[i].values()
              and -(-modes[i][MODE_SINGLE] // caps[0 if CLASS_TC[inst.op_class[i]] else 1]) <= modes[i][MODE_INTRA]
              for i in range(n)]
    while not all(started):
        idle = used[0] == 0 and used[1] == 0
        crowd = spread and sum(1 for j in range(n) if not started[j] and not pred_left[j]) >= 2
        slack = max(chip_free - t, 0)
        best = -1
        for j in range(n):
            if started[j] or pred_left[j]:
                continue
            m = modes[j]
            zero = 0 in m.values()
            c = inst.op_class[j]
            fit = zero or ((not CLASS_TC[c] or used[0] < inst.n_tc) and (not CLASS_VC[c] or used[1] < inst.n_vc)
                           and (not CLASS_LINK[c] or used[2] == 0))
            if idle:
                ok = MODE_INTRA in m or fit
            elif MODE_SINGLE not in m:
                ok = zero
            elif MODE_INTRA in m and not zero:
                ok = fit and m[MODE_SINGLE] - m[MODE_INTRA] <= slack
            else:
                ok = fit
            if ok and (best < 0 or tail[j] > tail[best]):
                best = j
        if best >= 0:
            j = best
            if idle:
                mode = MODE_INTRA if MODE_INTRA in modes[j] and not (crowd and frugal[j]) else MODE_SINGLE
            else:
                mode = MODE_SINGLE if MODE_SINGLE in modes[j] else MODE_INTRA
            d = modes[j][mode]
            started[j], starts[j], chosen[j], ends[j] = True, t, mode, t + d
            if d == 0:
                finish(j)
                continue
            dem = inst.demand(j, mode, d)
            used = [u + x for u, x in zip(used, dem, strict=True)]
            running.append(j)
            if dem[0] or dem[1]:
                chip_free = max(chip_free, t + d)
            continue
        t = min(ends[k] for k in running)
        for k in [k for k in running if ends[k] <= t]:
            running.remove(k)
            dem = inst.demand(k, chosen[k], ends[k] - starts[k])
            used = [u - x for u, x in zip(used, dem, strict=True)]
            finish(k)
    return starts, chosen, max(ends, default=0)


def greedy_best(inst: Instance) -> tuple[list[int], list[int], int]:
    """The shorter of the `whole` and `spread` greedy schedules (ties: `whole`)."""
    whole = greedy_instance(inst)
    spread = greedy_instance(inst, spread=True)
    return spread if spread[2] < whole[2] else whole
