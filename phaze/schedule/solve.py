"""Scheduling a layer pass on a whole hardware space: greedy + bound everywhere, CP-SAT where needed.

`schedule_space` computes, for every candidate at once, the greedy schedule and the lower bound; where
they meet, the greedy schedule is proven optimal and CP-SAT is skipped (DESIGN §6). `solve_candidate`
returns one candidate's `Schedule`: the greedy one when it is closed (or `solver=greedy`) or when the
per-candidate phase bound (`phase_bound`: milliseconds per candidate, too slow for every candidate of a
space) meets it; otherwise CP-SAT's, with the greedy schedule as horizon and hint and the better of the
two bounds as its floor. A CP-SAT budget that runs out returns the better of (greedy, incumbent) as
`feasible` with its gap to the best proven bound — never an exception. Every schedule returned by
`solve_candidate` has passed the plain-Python checker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from phaze.config.solver import SolverConfig, is_deterministic
from phaze.model.ops import LayerGraph
from phaze.schedule.bound import bound_space
from phaze.schedule.cache import ScheduleCache, instance_key
from phaze.schedule.check import check_schedule
from phaze.schedule.cpsat import solve_instance
from phaze.schedule.greedy import GreedyResult, greedy_policy, merge_better
from phaze.schedule.instance import Instance
from phaze.schedule.phase_bound import phase_bound
from phaze.schedule.problem import Problem, build_problem
from phaze.schedule.result import FEASIBLE, INFEASIBLE, OPTIMAL, Schedule


@dataclass(frozen=True)
class SpaceSchedule:
    """Greedy schedules and lower bounds of one layer pass for every candidate (arrays over candidates)."""

    problem: Problem
    greedy: GreedyResult
    bound_ns: np.ndarray  # (C,) int64

    @property
    def feasible(self) -> np.ndarray:
        return self.problem.feasible

    @property
    def greedy_ns(self) -> np.ndarray:
        return self.greedy.makespan_ns

    @property
    def closed(self) -> np.ndarray:
        """(C,) bool: greedy meets the bound, so the greedy schedule is optimal."""
        return self.feasible & (self.greedy.makespan_ns == self.bound_ns)

    def greedy_schedule(self, c: int) -> Schedule:
        """Candidate c's greedy schedule as a Schedule (optimal if closed, else feasible with its gap)."""
        p = self.problem
        if not p.feasible[c]:
            return _infeasible(p.instance(c), c)
        mk, lb = int(self.greedy.makespan_ns[c]), int(self.bound_ns[c])
        return Schedule(p.layer, p.pass_, c, OPTIMAL if mk == lb else FEASIBLE, mk, lb,
                        tuple(int(x) for x in self.greedy.starts_ns[c]),
                        tuple(int(x) for x in self.greedy.modes[c]), "greedy")


# Odd 64-bit multipliers of the row hash in `_distinct_rows` (any fixed odd constants do; a collision is
# detected and falls back to the exact sort, so they affect speed only, never a result).
_ROW_HASH_SEED = 0x5EED


def _distinct_rows(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """(first index of each distinct candidate row, inverse map): many designs price a layer alike.

    Rows are grouped by a 64-bit multiply-add hash, a 1-D sort (np.unique over whole rows sorts them
    lexicographically, 5-10x slower on 10^5 rows); the grouping is then verified row by row, and on any
    collision the exact row sort is used instead, so the result never depends on the hash.
    """
    key = np.concatenate([problem.single_ns, problem.intra_ns, problem.n_tc[:, None], problem.n_vc[:, None]],
                         axis=1)
    mult = np.random.default_rng(_ROW_HASH_SEED).integers(1, 2**63, size=key.shape[1], dtype=np.uint64) | 1
    h = (key.view(np.uint64) * mult).sum(axis=1, dtype=np.uint64)  # wraps mod 2^64, by design
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if np.array_equal(key[first[inverse]], key):
        return first, inverse
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def schedule_space(problem: Problem) -> SpaceSchedule:
    """Vectorised greedy + lower bound for all candidates of `problem`: for each, the better of the two
    greedy policies (`greedy_space`) and `bound_space` with that schedule as incumbent.

    Computed with less work, to the same arrays:
    * candidates whose integer durations and core counts coincide are scheduled once (each row is
      computed independently, so the result is the same as scheduling every row);
    * the spread policy runs only where the plain policy's schedule is open (above its bound) and the
      spread policy would fork from it: a closed schedule is optimal, so no policy beats it, and ties
      keep the plain one. Where spread wins, the bound is recomputed with its shorter incumbent.
    """
    first, inverse = _distinct_rows(problem)
    sub = problem.take(first)
    g, forks = greedy_policy(sub, spread=False)
    bound = bound_space(sub, g.makespan_ns)
    todo = np.flatnonzero(forks & (g.makespan_ns > bound))
    if todo.size:
        won = merge_better(g, todo, greedy_policy(sub.take(todo), spread=True)[0])
        if won.size:
            bound[won] = bound_space(sub.take(won), g.makespan_ns[won])
    greedy = GreedyResult(g.makespan_ns[inverse], g.starts_ns[inverse], g.modes[inverse])
    return SpaceSchedule(problem, greedy, bound[inverse])


def _infeasible(inst: Instance, c: int) -> Schedule:
    return Schedule(inst.layer, inst.pass_, c, INFEASIBLE, None, 0, (), (), "greedy",
                    reason=inst.infeasible_reason())


def solve_candidate(space: SpaceSchedule, c: int, cfg: SolverConfig,
                    cache: ScheduleCache | None = None) -> Schedule:
    """Candidate c's schedule under `cfg` (see module doc); checked before it is returned."""
    greedy = space.greedy_schedule(c)
    if greedy.status != FEASIBLE or cfg.name == "greedy":
        if greedy.makespan_ns is not None:
            check_schedule(space.problem.instance(c), greedy.starts_ns, greedy.modes)
        return greedy
    inst = space.problem.instance(c)
    key = instance_key(inst, cfg) if cache is not None else ""
    if cache is not None and (hit := cache.get(key, inst, c)) is not None:
        return hit
    sched = _solve_open(inst, greedy, cfg)
    if cache is not None:
        cache.put(key, sched)
    return sched


def _solve_open(inst: Instance, greedy: Schedule, cfg: SolverConfig) -> Schedule:
    """An open candidate's checked schedule: greedy's if the phase bound proves it optimal, else CP-SAT's
    (or greedy's, if CP-SAT finds nothing shorter) with the better of the two bounds as its floor."""
    c = greedy.candidate
    assert greedy.makespan_ns is not None
    bound = max(greedy.bound_ns, phase_bound(inst, greedy.makespan_ns))
    if bound >= greedy.makespan_ns:  # the phase bound proves greedy's schedule optimal: no CP-SAT
        check_schedule(inst, greedy.starts_ns, greedy.modes)
        return replace(greedy, status=OPTIMAL, bound_ns=greedy.makespan_ns)
    out = solve_instance(inst, cfg, greedy.makespan_ns, bound,
                         (list(greedy.starts_ns), list(greedy.modes)) if cfg.hint else None)
    if out.status not in ("OPTIMAL", "FEASIBLE", "UNKNOWN"):
        raise RuntimeError(f"CP-SAT returned {out.status} on {inst.layer}/{inst.pass_} candidate {c}, "
                           "which has a checked greedy schedule: a model or solver defect")
    if out.makespan is not None and out.makespan < greedy.makespan_ns:
        assert out.starts is not None and out.modes is not None
        mk, starts, modes = out.makespan, tuple(out.starts), tuple(out.modes)
        if check_schedule(inst, starts, modes) != mk:
            raise RuntimeError(f"CP-SAT objective {mk} differs from its schedule's makespan (candidate {c})")
    else:
        mk, starts, modes = greedy.makespan_ns, greedy.starts_ns, greedy.modes
        check_schedule(inst, starts, modes)
    optimal = out.status == "OPTIMAL" or mk <= out.bound
    wall_stopped = cfg.max_time_in_seconds is not None and not optimal and (
        out.deterministic_s < cfg.max_deterministic_time)
    return Schedule(inst.layer, inst.pass_, c, OPTIMAL if optimal else FEASIBLE, mk,
                    mk if optimal else out.bound, starts, modes, "cpsat",
                    reproducible=is_deterministic(cfg) and not wall_stopped)


def schedule_layer(graph: LayerGraph, single_s: np.ndarray, all_s: np.ndarray, n_tc: np.ndarray,
                   n_vc: np.ndarray, cfg: SolverConfig, cache: ScheduleCache | None = None,
                   candidates: Sequence[int] | None = None) -> list[Schedule]:
    """One Schedule per candidate (all, or the listed indices) of a fused layer graph priced on a space."""
    space = schedule_space(build_problem(graph, single_s, all_s, n_tc, n_vc))
    idx = range(space.problem.n_candidates) if candidates is None else candidates
    return [solve_candidate(space, int(c), cfg, cache) for c in idx]
