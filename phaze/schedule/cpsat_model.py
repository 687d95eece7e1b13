"""The CP-SAT model of one (candidate, layer, pass) schedule (DESIGN §6, docs/phaze-original.md §9).

Per op with two (non-dominated) modes: two OPTIONAL fixed-size intervals, each with ITS OWN start
variable, exactly one present; the op's start/end variables equal the present one's (enforced by the
presence literal only). DESIGN §10: alternatives sharing both start and end variables gave wrong
"OPTIMAL" answers in ortools 9.12–9.15, so they never share. Ops with one mode (collectives, NOPs,
dominated or unavailable alternatives) get one fixed interval. Precedences end_i <= start_j;
cumulative TC (capacity n_tc) and VC (capacity n_vc) — a single-core interval demands its unit(s), an
intra-op one the whole chip — and the link as a no-overlap (capacity 1); redundant no-overlaps over the
intervals that take more than half of a resource, and per-core lanes (`add_lanes`) for a resource of 2 to
MAX_LANES cores. Minimise the makespan.

Time is integer ns (units.to_ns). The greedy makespan H is the horizon (only schedules at least as
good are searched, and the greedy schedule — a valid solution of makespan H — is the hint), the lower
bound is a redundant constraint on the makespan, and each op's start lies in [head_i, H - tail_i] with
best-duration head/tail paths, which every schedule of makespan <= H satisfies.

Building the model is kept apart from solving it (`cpsat`: solver parameters, reading the answer back)
so that the formulation and the solver tuning can each be read and changed on their own.
"""

from __future__ import annotations

from typing import NamedTuple

from ortools.sat.python import cp_model

from phaze.schedule.bound_ref import critical_path_instance
from phaze.schedule.cpsat_lanes import MAX_LANES, ResourceUse, add_lanes
from phaze.schedule.instance import Instance


class CpsatModel(NamedTuple):
    """A built model and the handles `cpsat.solve_instance` reads the solution back through."""

    model: cp_model.CpModel
    starts: list[cp_model.IntVar]  # per op
    options: list[list[tuple[int, int]]]  # per op: (mode, duration) of each of its intervals
    lits: list[list[cp_model.IntVar]]  # per op: presence literal per option; [] for a single-mode op
    lanes: list[bool]  # per resource (TC, VC): whether per-core lanes were added


def _heads(inst: Instance) -> list[int]:
    preds = inst.preds()
    head = [0] * inst.n
    for j in range(inst.n):
        head[j] = max((head[i] + min(d for _, d in inst.modes(i)) for i in preds[j]), default=0)
    return head


def build_model(inst: Instance, horizon: int, bound: int,
                hint: tuple[list[int], list[int]] | None = None) -> CpsatModel:
    """The model of the module doc for `inst`: makespan in [bound, horizon], `hint` (if any) as the hint."""
    m = cp_model.CpModel()
    head, tail = _heads(inst), critical_path_instance(inst)
    starts, ends, options, lits, alt_starts = [], [], [], [], []
    link_iv: list[cp_model.IntervalVar] = []
    uses: tuple[list[ResourceUse], list[ResourceUse]] = ([], [])  # TC, VC
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
            add_lanes(m, uses[r], caps[r])
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
    return CpsatModel(m, starts, options, lits, lanes)
