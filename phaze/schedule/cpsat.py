"""The CP-SAT model of one (candidate, layer, pass) schedule (DESIGN §6, reference/phaze-original §9).

Per op with two (non-dominated) modes: two OPTIONAL fixed-size intervals, each with ITS OWN start
variable, exactly one present; the op's start/end variables equal the present one's (enforced by the
presence literal only). DESIGN §10: alternatives sharing both start and end variables gave wrong
"OPTIMAL" answers in ortools 9.12–9.15, so they never share. Ops with one mode (collectives, NOPs,
dominated or unavailable alternatives) get one fixed interval. Precedences end_i <= start_j;
cumulative TC (capacity n_tc) and VC (capacity n_vc) — a single-core interval demands its unit(s), an
intra-op one the whole chip — and the link as a no-overlap (capacity 1); redundant no-overlaps over the
intervals that take more than half of a resource, and per-core lanes (`_add_lanes`) for a resource of 2 to
MAX_LANES cores. Minimise the makespan.

Time is integer ns (problem.to_ns). The greedy makespan H is the horizon (only schedules at least as
good are searched, and the greedy schedule — a valid solution of makespan H — is the hint), the lower
bound is a redundant constraint on the makespan, and each op's start lies in [head_i, H - tail_i] with
best-duration head/tail paths, which every schedule of makespan <= H satisfies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ortools.sat.python import cp_model

from phaze.config.solver import SolverConfig
from phaze.schedule.bound_ref import critical_path_instance
from phaze.schedule.problem import Instance

# CP-SAT reports its bound as a float of an integer objective; ceil after this tolerance.
_BOUND_TOL = 1e-6
# Resources of up to this many cores also get per-core lanes. Measured on 30 open backward blocks each of
# llama2_7b / gpt3_175b (1 det-s): lanes for every capacity proved 15/30 and 29/30 (VC lanes on designs
# with thousands of vector cores slow llama down); up to 16 cores 18/30 and 28/30; none 11/30 and 18/30.
MAX_LANES = 16

# (start, duration, presence literal or None for a single-mode op, interval, units) of a resource's intervals
_Use = tuple[cp_model.IntVar, int, cp_model.IntVar | None, cp_model.IntervalVar, int]


def _add_lanes(m: cp_model.CpModel, uses: list[_Use], cap: int) -> None:
    """Redundant per-core lanes: each one-unit interval also sits, optionally, on one of `cap` lanes
    (no-overlap each), a whole-resource interval on all of them.

    Why it holds: unit intervals fit a capacity-`cap` cumulative exactly when they can be dealt to `cap`
    lanes without overlap (interval graphs are perfect: at most `cap` overlap anywhere <=> `cap` colours),
    and a whole-resource interval overlaps nothing else on the resource either way. Lanes are identical, so
    the r-th unit interval (in op order, chosen or not) may use lanes 0..r only: relabelling the lanes of
    any colouring by first use gives one that obeys this. Why: CP-SAT's disjunctive reasoning per lane
    (edge finding, detectable precedences) proves packings the cumulative alone cannot — most of the open
    backward blocks on 2–4 tensor cores are such packing questions.
    """
    lanes: list[list[cp_model.IntervalVar]] = [[] for _ in range(cap)]
    rank = 0
    for start, duration, present, interval, units in uses:
        if units == cap:
            for lane in lanes:
                lane.append(interval)
            continue
        picks = []
        for lane in lanes[:min(rank + 1, cap)]:
            pick = m.new_bool_var("")
            lane.append(m.new_optional_fixed_size_interval_var(start, duration, pick, ""))
            picks.append(pick)
        rank += 1
        if present is None:
            m.add_exactly_one(picks)
        else:
            m.add(sum(picks) == present)
    for lane in lanes:
        if len(lane) > 1:
            m.add_no_overlap(lane)


@dataclass(frozen=True)
class CpsatOutcome:
    """What CP-SAT returned: a schedule if it has one, its proven bound and whether it proved optimality."""

    status: str  # OPTIMAL | FEASIBLE | UNKNOWN | INFEASIBLE | MODEL_INVALID
    starts: list[int] | None
    modes: list[int] | None
    makespan: int | None
    bound: int  # best proven lower bound (ns), at least the bound passed in
    wall_s: float
    deterministic_s: float


def _heads(inst: Instance) -> list[int]:
    preds = inst.preds()
    head = [0] * inst.n
    for j in range(inst.n):
        head[j] = max((head[i] + min(d for _, d in inst.modes(i)) for i in preds[j]), default=0)
    return head


def solve_instance(inst: Instance, cfg: SolverConfig, horizon: int, bound: int,
                   hint: tuple[list[int], list[int]] | None = None) -> CpsatOutcome:
    """Minimise the makespan of `inst` over schedules of makespan <= horizon (a feasible one exists).

    `bound` must be a valid lower bound (`bound.bound_instance`); `hint` a valid (starts, modes) of
    makespan `horizon` (the greedy schedule) or None.
    """
    m = cp_model.CpModel()
    head, tail = _heads(inst), critical_path_instance(inst)
    starts, ends, options, lits, alt_starts = [], [], [], [], []
    link_iv: list[cp_model.IntervalVar] = []
    uses: tuple[list[_Use], list[_Use]] = ([], [])  # TC, VC
    for i in range(inst.n):
        best = min(d for _, d in inst.modes(i))
        lo, lf = head[i], horizon - tail[i] + best  # earliest start, latest finish
        opts = [(mode, d) for mode, d in inst.modes(i) if lo + d <= lf]
        dmin = min(d for _, d in opts)
        st = m.new_int_var(lo, lf - dmin, f"s{i}")
        en = m.new_int_var(lo + dmin, lf, f"e{i}")
        op_lits, op_starts = [], []
        for mode, d in opts:
            if len(opts) == 1:
                s_m, lit = st, None
                iv = m.new_fixed_size_interval_var(st, d, f"iv{i}_{mode}")
                m.add(en == st + d)
            else:
                s_m = m.new_int_var(lo, lf - d, f"s{i}_{mode}")
                lit = m.new_bool_var(f"p{i}_{mode}")
                iv = m.new_optional_fixed_size_interval_var(s_m, d, lit, f"iv{i}_{mode}")
                m.add(st == s_m).only_enforce_if(lit)
                m.add(en == s_m + d).only_enforce_if(lit)
                op_lits.append(lit)
                op_starts.append(s_m)
            dem = inst.demand(i, mode, d)  # (0, 0, 0) for a zero-length interval
            for r in (0, 1):
                if dem[r]:
                    uses[r].append((s_m, d, lit, iv, dem[r]))
            if dem[2]:
                link_iv.append(iv)
        if op_lits:
            m.add_exactly_one(op_lits)
        starts.append(st)
        ends.append(en)
        options.append(opts)
        lits.append(op_lits)
        alt_starts.append(op_starts)
    for i, j in inst.edges:
        m.add(ends[i] <= starts[j])
    caps = (inst.n_tc, inst.n_vc)
    for r in (0, 1):
        if uses[r]:
            m.add_cumulative([u[3] for u in uses[r]], [u[4] for u in uses[r]], caps[r])
    if len(link_iv) > 1:
        m.add_no_overlap(link_iv)
    # Redundant: two intervals that each take more than half a resource never overlap, and CP-SAT's
    # disjunctive reasoning (edge finding, detectable precedences) on that subset is stronger than the
    # cumulative's. Intra-op intervals take all of both resources; with one TC (or VC) every interval on
    # it does. Measured on 30 open backward blocks each of llama2_7b / gpt3_175b: 37% / 67% proven
    # optimal instead of 33% / 60%, and shorter schedules, in the same budget.
    for r in (0, 1):
        heavy = [iv for _, _, _, iv, units in uses[r] if 2 * units > caps[r]]
        if len(heavy) > 1:
            m.add_no_overlap(heavy)
    lanes = [1 < cap <= MAX_LANES for cap in caps]
    for r in (0, 1):
        if lanes[r]:
            _add_lanes(m, uses[r], caps[r])
    makespan = m.new_int_var(bound, horizon, "makespan")
    if ends:
        m.add_max_equality(makespan, ends)
    m.minimize(makespan)

    if hint is not None:
        h_starts, h_modes = hint
        for i in range(inst.n):
            m.add_hint(starts[i], h_starts[i])
            m.add_hint(ends[i], h_starts[i] + inst.raw_duration(i, h_modes[i]))
            for (mode, d), lit, s_m in zip(options[i], lits[i], alt_starts[i], strict=False):
                m.add_hint(lit, mode == h_modes[i])
                m.add_hint(s_m, min(h_starts[i], horizon - tail[i] + min(x for _, x in options[i]) - d))
        m.add_hint(makespan, horizon)

    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_deterministic_time = float(cfg.max_deterministic_time)
    if cfg.max_time_in_seconds is not None:
        p.max_time_in_seconds = float(cfg.max_time_in_seconds)
    p.num_workers = int(cfg.workers)
    p.random_seed = int(cfg.seed)
    p.interleave_search = bool(cfg.interleave_search)
    p.linearization_level = int(cfg.linearization_level)
    # Stronger cumulative propagation (timetable edge-finding, overload checking, precedence-aware
    # energy): measured on llama2_7b backward blocks of the default space, it proves some instances the
    # default misses in the same deterministic budget, at a few percent more time per det-second.
    p.use_timetable_edge_finding_in_cumulative = True
    # ...but not the overload checker where per-core lanes exist: their per-core disjunctive reasoning
    # covers it, and with both, CP-SAT's deterministic time stopped tracking the wall clock (one llama2_7b
    # backward block on 4 TCs: 53 s for 1 det-s, 1.4 s without lanes, 3.8 s with lanes but without it;
    # over 30 open llama2_7b blocks the slowest solve went from 56 s to 14 s, 18 -> 17 proven).
    p.use_overload_checker_in_cumulative = not any(lanes)
    p.use_hard_precedences_in_cumulative = True
    status = solver.solve(m)
    name = solver.status_name(status)
    wall, det = solver.wall_time, solver.deterministic_time
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return CpsatOutcome(name, None, None, None, bound, wall, det)
    proven = max(bound, math.ceil(solver.best_objective_bound - _BOUND_TOL))
    vals = [int(solver.value(s)) for s in starts]
    modes = []
    for i in range(inst.n):
        if lits[i]:
            modes.append(next(mode for (mode, _), lit in zip(options[i], lits[i], strict=True)
                              if solver.boolean_value(lit)))
        else:
            modes.append(options[i][0][0])
    return CpsatOutcome(name, vals, modes, round(solver.objective_value), proven, wall, det)
