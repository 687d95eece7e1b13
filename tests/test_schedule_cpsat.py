"""CP-SAT: reproducibility, budgets that run out, the cache and the checker (DESIGN §6, §10)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from phaze.config.solver import SolverConfig
from phaze.schedule import (
    FEASIBLE,
    MODE_INTRA,
    MODE_SINGLE,
    OPTIMAL,
    Problem,
    ScheduleCache,
    ScheduleError,
    SpaceSchedule,
    check_schedule,
    instance_key,
    make_problem,
    schedule_space,
    solve_candidate,
)
from phaze.schedule.modes import LINK, TC, TC_VC, VC

BUDGET = 20.0  # deterministic s: far more than the fixture needs (~0.3 s wall on the reference machine)


def _fixture_50() -> Problem:
    """Ten repeats of norm -> {GEMM, GEMM+epilogue} -> join -> all-reduce on 2 TCs and 2 VCs: 50 ops
    whose greedy schedule is not optimal and not closed by the bound."""
    rng = np.random.default_rng(4)
    cls: list[int] = []
    edges: list[tuple[int, int]] = []
    for k in range(10):
        b = 5 * k
        cls += [VC, TC, TC_VC, VC, LINK]
        edges += [(b, b + 1), (b, b + 2), (b + 1, b + 3), (b + 2, b + 3), (b + 3, b + 4)]
        if k:
            edges.append((b - 1, b))
    single = rng.integers(50, 400, 50).astype(float)
    intra = single / rng.uniform(1.0, 3.0, 50)
    return make_problem(cls, edges, single[None] / 1e9, intra[None] / 1e9, [2], [2])


@pytest.fixture(scope="module")
def space() -> SpaceSchedule:
    s = schedule_space(_fixture_50())
    assert s.greedy_ns[0] > s.bound_ns[0]  # CP-SAT has work to do
    return s


def test_same_optimum_across_workers_and_seeds(space: SpaceSchedule) -> None:
    inst = space.problem.instance(0)
    results = [solve_candidate(space, 0, SolverConfig(max_deterministic_time=BUDGET, workers=w, seed=s))
               for w, s in ((1, 0), (2, 0), (1, 1), (1, 2))]
    for r in results:
        assert r.status == OPTIMAL and r.solver == "cpsat"
        assert check_schedule(inst, r.starts_ns, r.modes) == r.makespan_ns
    assert {r.makespan_ns for r in results} == {6527}
    assert space.bound_ns[0] <= 6527 < space.greedy_ns[0]
    assert [r.reproducible for r in results] == [True, False, True, True]  # 2 workers, no interleave


def test_deterministic_mode_returns_identical_schedules(space: SpaceSchedule) -> None:
    for cfg in (SolverConfig(max_deterministic_time=BUDGET), SolverConfig(max_deterministic_time=0.05)):
        a, b = solve_candidate(space, 0, cfg), solve_candidate(space, 0, cfg)
        assert a == b and a.reproducible


def test_exhausted_budget_returns_best_known_with_gap(space: SpaceSchedule) -> None:
    sched = solve_candidate(space, 0, SolverConfig(max_deterministic_time=1e-6))
    assert sched.status == FEASIBLE and sched.reproducible
    assert sched.makespan_ns is not None and sched.makespan_ns <= space.greedy_ns[0]
    assert sched.bound_ns >= space.bound_ns[0]
    assert sched.gap == (sched.makespan_ns - sched.bound_ns) / sched.makespan_ns > 0
    check_schedule(space.problem.instance(0), sched.starts_ns, sched.modes)


def test_wall_clock_stop_is_marked_not_reproducible(space: SpaceSchedule) -> None:
    sched = solve_candidate(space, 0, SolverConfig(max_deterministic_time=BUDGET, max_time_in_seconds=1e-3))
    assert sched.status == FEASIBLE and not sched.reproducible


def test_greedy_solver_reports_its_gap(space: SpaceSchedule) -> None:
    sched = solve_candidate(space, 0, SolverConfig(name="greedy"))
    g, lb = int(space.greedy_ns[0]), int(space.bound_ns[0])
    assert (sched.status, sched.solver, sched.makespan_ns, sched.bound_ns) == (FEASIBLE, "greedy", g, lb)
    assert sched.gap == pytest.approx((g - lb) / g)


def test_cache_memory_and_disk(space: SpaceSchedule, tmp_path: Path) -> None:
    cfg = SolverConfig(max_deterministic_time=BUDGET)
    cache = ScheduleCache(tmp_path)
    first = solve_candidate(space, 0, cfg, cache)
    assert (cache.hits, cache.misses, len(cache)) == (0, 1, 1)
    assert solve_candidate(space, 0, cfg, cache) == first and cache.hits == 1
    reread = ScheduleCache(tmp_path)
    assert solve_candidate(space, 0, cfg, reread) == first and reread.hits == 1
    assert len(list(tmp_path.rglob("*.json"))) == 1


def test_cache_key_is_content() -> None:
    cfg = SolverConfig()
    p = make_problem([TC, VC], [(0, 1)], np.array([[3e-9, 4e-9], [3e-9, 5e-9]]),
                     np.array([[2e-9, 2e-9], [2e-9, 2e-9]]), [2, 2], [2, 2])
    a, b = p.instance(0), p.instance(1)
    assert instance_key(a, cfg) == instance_key(replace(a, names=("x", "y"), layer="head"), cfg)
    assert instance_key(a, cfg) != instance_key(b, cfg)
    assert instance_key(a, cfg) != instance_key(a, SolverConfig(seed=1))
    assert instance_key(a, cfg) != instance_key(replace(a, n_tc=4), cfg)


def test_checker_rejects_violations() -> None:
    p = make_problem([TC, TC, VC], [(0, 2)], np.array([[4e-9, 4e-9, 2e-9]]), np.array([[3e-9, np.inf, 1e-9]]),
                     [1], [1])
    inst = p.instance(0)
    assert check_schedule(inst, [0, 4, 4], [MODE_SINGLE, MODE_SINGLE, MODE_SINGLE]) == 8
    with pytest.raises(ScheduleError, match="precedence"):
        check_schedule(inst, [0, 4, 3], [MODE_SINGLE] * 3)
    with pytest.raises(ScheduleError, match="TC over capacity"):
        check_schedule(inst, [0, 3, 4], [MODE_SINGLE] * 3)
    with pytest.raises(ScheduleError, match="TC over capacity"):  # an intra interval holds every core
        check_schedule(inst, [0, 4, 4], [MODE_SINGLE, MODE_SINGLE, MODE_INTRA])
    with pytest.raises(ScheduleError, match="not available"):
        check_schedule(inst, [0, 4, 4], [MODE_SINGLE, MODE_INTRA, MODE_SINGLE])
    with pytest.raises(ScheduleError, match="expected 3"):
        check_schedule(inst, [0, 4], [MODE_SINGLE, MODE_SINGLE])
