"""Exact reference optimum for tiny instances: every mode vector x every topological order, each decoded
by the serial schedule-generation scheme (SGS), DESIGN §6 tests.

Serial SGS places the ops one by one in list order, each at its earliest start that respects its
predecessors and leaves every resource within capacity over its whole interval (Kelley 1963; Kolisch
1996). Over all precedence-feasible lists it generates every active schedule, and for a regular
objective such as the makespan some active schedule is optimal — so with every mode vector the minimum
is the optimum. Modes are the RAW available ones (no dominance reduction), so this also checks the
reductions the solvers make. The search is a depth-first walk over (next op, mode) choices that shares
decoded prefixes and drops a prefix whose partial makespan already reaches the best found (adding ops
never lowers the makespan). Exponential: meant for <= 7 ops.
"""

from __future__ import annotations

from phaze.schedule.instance import Instance
from phaze.schedule.modes import MODE_INTRA, MODE_SINGLE

Placed = list[tuple[int, int, tuple[int, int, int]]]  # (start, end, demand) of scheduled ops


def earliest_start(placed: Placed, est: int, d: int, dem: tuple[int, int, int], caps: tuple[int, ...]) -> int:
    """The earliest t >= est with dem fitting on top of `placed` throughout [t, t + d)."""
    if d == 0 or not any(dem):
        return est
    for t in sorted({est} | {e for _, e, _ in placed if e > est}):
        points = {t} | {s for s, _, _ in placed if t < s < t + d}
        if all(sum(pd[r] for s, e, pd in placed if s <= x < e) + dem[r] <= caps[r]
               for x in points for r in range(3)):
            return t
    raise AssertionError("unreachable: after the last end the chip is free")


def sgs_decode(inst: Instance, order: list[int], modes: list[int]) -> list[int]:
    """Starts (ns) of the serial SGS schedule of `order` (precedence-feasible) in `modes`."""
    preds, caps = inst.preds(), (inst.n_tc, inst.n_vc, 1)
    starts, ends = [0] * inst.n, [0] * inst.n
    placed: Placed = []
    for i in order:
        d = inst.raw_duration(i, modes[i])
        dem = inst.demand(i, modes[i], d)
        starts[i] = earliest_start(placed, max((ends[p] for p in preds[i]), default=0), d, dem, caps)
        ends[i] = starts[i] + d
        placed.append((starts[i], ends[i], dem))
    return starts


def brute_force(inst: Instance) -> tuple[int, list[int], list[int]]:
    """(optimal makespan, starts, modes) by exhaustive SGS enumeration; the instance must be feasible."""
    if inst.infeasible_reason():
        raise ValueError(inst.infeasible_reason())
    preds, caps, n = inst.preds(), (inst.n_tc, inst.n_vc, 1), inst.n
    avail = [[m for m in (MODE_SINGLE, MODE_INTRA) if inst.raw_duration(i, m) >= 0] for i in range(n)]
    best: list = [None, [], []]
    starts, ends, modes = [0] * n, [0] * n, [MODE_SINGLE] * n
    done = [False] * n
    placed: Placed = []

    def walk(count: int, span: int) -> None:
        if best[0] is not None and span >= best[0]:
            return
        if count == n:
            best[:] = [span, starts.copy(), modes.copy()]
            return
        for i in range(n):
            if done[i] or not all(done[p] for p in preds[i]):
                continue
            est = max((ends[p] for p in preds[i]), default=0)
            for m in avail[i]:
                d = inst.raw_duration(i, m)
                dem = inst.demand(i, m, d)
                starts[i] = earliest_start(placed, est, d, dem, caps)
                ends[i], modes[i], done[i] = starts[i] + d, m, True
                placed.append((starts[i], ends[i], dem))
                walk(count + 1, max(span, ends[i]))
                placed.pop()
                done[i] = False

    walk(0, 0)
    return best[0], best[1], best[2]
