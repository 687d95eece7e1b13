"""Solve the CP-SAT model of one (candidate, layer, pass) schedule and read the schedule back.

The model is built by `cpsat_model` (its module doc states it). This module sets the solver parameters,
each with the measurement that chose it, runs CP-SAT and turns its answer into a `CpsatOutcome`: the
schedule if any, and the proven bound. Separate from the model because the parameters are tuned
independently of the formulation, and the rest of the package only needs `solve_instance`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ortools.sat.python import cp_model

from phaze.config.solver import SolverConfig
from phaze.schedule.cpsat_model import build_model
from phaze.schedule.instance import Instance

# CP-SAT reports its bound as a float of an integer objective; ceil after this tolerance.
_BOUND_TOL = 1e-6


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


def solve_instance(inst: Instance, cfg: SolverConfig, horizon: int, bound: int,
                   hint: tuple[list[int], list[int]] | None = None) -> CpsatOutcome:
    """Minimise the makespan of `inst` over schedules of makespan <= horizon (a feasible one exists).

    `bound` must be a valid lower bound (`bound_ref.bound_instance`, `phase_bound`); `hint` a valid (starts, modes) of
    makespan `horizon` (the greedy schedule) or None.
    """
    m, starts, options, lits, lanes = build_model(inst, horizon, bound, hint)

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
