"""Plain-Python schedule checker: the independent referee every solver result goes through.

It re-derives everything from the raw instance (not from any solver's internal model): each op's
chosen mode must exist, its interval is [start, start + raw duration) in integer ns, every edge must
satisfy end_i <= start_j, and at every instant the TC, VC and link demands of the running ops must fit
in n_tc, n_vc and 1 (DESIGN §6). Zero-length intervals hold nothing (half-open intervals).
"""

from __future__ import annotations

from collections.abc import Sequence

from phaze.schedule.instance import Instance
from phaze.schedule.modes import MODE_INTRA, MODE_SINGLE


class ScheduleError(AssertionError):
    """A schedule that violates the instance; the message names the first violation."""


def check_schedule(inst: Instance, starts: Sequence[int], modes: Sequence[int]) -> int:
    """Return the makespan (ns) of a valid schedule, else raise ScheduleError."""
    n = inst.n
    if len(starts) != n or len(modes) != n:
        raise ScheduleError(f"expected {n} starts and modes, got {len(starts)} and {len(modes)}")
    ends = []
    for i in range(n):
        if modes[i] not in (MODE_SINGLE, MODE_INTRA):
            raise ScheduleError(f"op {inst.names[i]!r}: unknown mode {modes[i]!r}")
        d = inst.raw_duration(i, modes[i])
        if d < 0:
            raise ScheduleError(f"op {inst.names[i]!r}: mode {modes[i]} is not available")
        if not isinstance(starts[i], int) or starts[i] < 0:
            raise ScheduleError(f"op {inst.names[i]!r}: bad start {starts[i]!r}")
        ends.append(starts[i] + d)
    for i, j in inst.edges:
        if ends[i] > starts[j]:
            raise ScheduleError(f"precedence {inst.names[i]!r} -> {inst.names[j]!r}: ends {ends[i]} "
                                f"after the start {starts[j]}")
    caps = (inst.n_tc, inst.n_vc, 1)
    demands = [inst.demand(i, modes[i], ends[i] - starts[i]) for i in range(n)]
    # Usage is piecewise constant and only rises at a start, so checking at every start suffices.
    for t in sorted({starts[i] for i in range(n) if ends[i] > starts[i]}):
        running = [k for k in range(n) if starts[k] <= t < ends[k]]
        for r, name in enumerate(("TC", "VC", "link")):
            used = sum(demands[k][r] for k in running)
            if used > caps[r]:
                raise ScheduleError(f"{name} over capacity at t={t} ns: {used} > {caps[r]} "
                                    f"({', '.join(inst.names[k] for k in running)})")
    return max(ends, default=0)


# Relative float noise allowed on a summed bandwidth fraction (the shares add up to exactly 1 in theory).
BANDWIDTH_REL_TOL = 1e-9


def check_bandwidth(inst: Instance, starts: Sequence[int], modes: Sequence[int],
                    traffic: Sequence[tuple[float, float]], bw_bytes_per_s: float, name: str) -> float:
    """Peak fraction of one shared bandwidth (HBM or the global buffer) that the running ops of a schedule draw;
    raises ScheduleError above 100%.

    `traffic[i]` is op i's (single-mode, intra-mode) bytes; an op draws bytes / duration on average over its
    interval (the cost model's durations are at least that long, `phaze.cost.price`). Usage only rises at a
    start, so the peak is at one.
    """
    draw = []
    for i in range(inst.n):
        d = inst.raw_duration(i, modes[i])
        nbytes = traffic[i][0] if modes[i] == MODE_SINGLE else traffic[i][1]
        draw.append(nbytes / (d / 1e9) / bw_bytes_per_s if d > 0 else 0.0)
    peak = 0.0
    for t in sorted({starts[i] for i in range(inst.n) if inst.raw_duration(i, modes[i]) > 0}):
        running = [k for k in range(inst.n) if starts[k] <= t < starts[k] + inst.raw_duration(k, modes[k])]
        used = sum(draw[k] for k in running)
        if used > 1.0 + BANDWIDTH_REL_TOL:
            raise ScheduleError(f"{name} bandwidth over 100% at t={t} ns: {100 * used:.3f}% "
                                f"({', '.join(inst.names[k] for k in running)})")
        peak = max(peak, used)
    return peak
