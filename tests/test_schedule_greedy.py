"""The vectorised greedy and bound equal their plain-Python references, row by row (DESIGN §6)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from phaze.schedule import (
    INFEASIBLE_NS,
    MODE_INTRA,
    MODE_SINGLE,
    bound_instance,
    bound_space,
    check_schedule,
    greedy_best,
    greedy_instance,
    greedy_space,
    make_problem,
    schedule_space,
)
from phaze.schedule.dag import bottleneck_segments
from phaze.schedule.modes import TC, TC_VC, VC
from phaze.schedule.synthetic import random_problem


@pytest.mark.parametrize(("n_ops", "edge_prob", "seed"), [(1, 0.0, 0), (5, 0.0, 1), (8, 0.3, 2), (12, 0.2, 3),
                                                          (20, 0.15, 4), (30, 0.5, 5)])
def test_vectorised_greedy_and_bound_equal_scalar(n_ops: int, edge_prob: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = random_problem(rng, n_ops, 150, edge_prob=edge_prob)
    g = greedy_space(p, block_rows=64)  # several blocks, the last one partial
    lb = bound_space(p, g.makespan_ns)
    assert np.array_equal(g.makespan_ns, greedy_space(p).makespan_ns)  # blocking changes nothing
    per_policy = {spread: greedy_space(p, policies=(spread,)) for spread in (False, True)}
    for c in range(p.n_candidates):
        inst = p.instance(c)
        if inst.infeasible_reason():
            assert g.makespan_ns[c] == INFEASIBLE_NS and lb[c] == INFEASIBLE_NS
            assert (g.starts_ns[c] == -1).all()
            continue
        for spread, gp in per_policy.items():
            ref = greedy_instance(inst, spread=spread)
            assert (gp.starts_ns[c].tolist(), gp.modes[c].tolist(), int(gp.makespan_ns[c])) == ref
            assert check_schedule(inst, ref[0], ref[1]) == ref[2]
        starts, modes, makespan = greedy_best(inst)
        assert g.starts_ns[c].tolist() == starts
        assert g.modes[c].tolist() == modes
        assert g.makespan_ns[c] == makespan == check_schedule(inst, starts, modes)
        assert lb[c] == bound_instance(inst, makespan) <= makespan
        assert bound_space(p)[c] == bound_instance(inst) <= lb[c]


def test_greedy_per_candidate_hand_computed() -> None:
    # gemm (TC+VC) -> vec (VC), plus an independent TC gemm; three candidates with different cores.
    cls, edges = [TC_VC, VC, TC], [(0, 1)]
    single = np.array([[8, 4, 6], [8, 4, 6], [8, 4, 6]]) / 1e9
    intra = np.array([[4, 2, 3], [8, 4, 6], [2, 1, 7]]) / 1e9
    p = make_problem(cls, edges, single, intra, [2, 1, 4], [2, 1, 4])
    g = greedy_space(p)
    # Tails (longest path to a sink, best durations) order the ready ops.
    # c0 (2+2 cores): gemm intra [0,4); tc may not start on one core while the chip is held; at 4 the
    #   chip is idle: tc (tail 3) intra [4,7), then vec intra [7,9). Bound: with UB = 9 every op's
    #   one-core mode reaches UB (gemm on its path, tc and vec with the others' whole-chip time), so
    #   all are whole-chip and mutually exclusive: 4 + 3 + 2 = 9, closed.
    # c1 (1+1 cores): no intra mode is faster, so all are single: gemm [0,8) holds the TC and the VC;
    #   at 8 tc [8,14) and vec [8,12). Bound: TC work 8 + 6 on one TC = 14, closed.
    # c2 (4+4 cores): tc is faster on one core (6 < 7), so single only, and has the longest tail:
    #   [0,6); gemm: one-core finish 8 <= chip-free 6 + 2, so single [0,8); vec intra [8,9). The
    #   optimum is 8 (gemm intra [0,2), then tc and vec side by side). Bound: with UB = 9 gemm is
    #   whole-chip (its one-core path 8 + 1 reaches UB); while tc holds a TC for 6, no whole-chip op
    #   can run, so the 4 VCs serve only vec (<= 4 VC-ns) and idle >= 4·6 − 4 = 20 VC-ns (idle.py):
    #   VC time >= gemm 4·2 + vec 4 + idle 20 = 32 = 4 VCs x 8, so the bound is 8 = the optimum.
    assert g.makespan_ns.tolist() == [9, 14, 9]
    assert g.starts_ns.tolist() == [[0, 7, 4], [0, 8, 8], [0, 8, 0]]
    assert g.modes.tolist() == [[MODE_INTRA] * 3, [MODE_SINGLE] * 3, [MODE_SINGLE, MODE_INTRA, MODE_SINGLE]]
    s = schedule_space(p)
    assert s.bound_ns.tolist() == [9, 14, 8]
    assert s.closed.tolist() == [True, True, False]


def test_bottleneck_segments() -> None:
    # 0 -> {1, 2} -> 3 -> 4, plus 5 hanging off 3: bottlenecks 0 and 3
    necks, segs = bottleneck_segments(6, [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (3, 5)])
    assert necks == [0, 3]
    assert segs == [[], [1, 2], [4, 5]]
    assert bottleneck_segments(3, []) == ([], [[0, 1, 2]])
    assert bottleneck_segments(3, [(0, 1), (1, 2)]) == ([0, 1, 2], [[], [], [], []])


def test_schedule_space_deduplicates_without_changing_rows() -> None:
    rng = np.random.default_rng(9)
    base = random_problem(rng, 10, 40, edge_prob=0.3)
    rows = rng.integers(0, 40, 300)  # many repeated candidates, in shuffled order
    p = replace(base, single_ns=base.single_ns[rows], intra_ns=base.intra_ns[rows], n_tc=base.n_tc[rows],
                n_vc=base.n_vc[rows])
    s, g = schedule_space(p), greedy_space(p)
    assert np.array_equal(s.greedy.makespan_ns, g.makespan_ns)
    assert np.array_equal(s.greedy.starts_ns, g.starts_ns)
    assert np.array_equal(s.greedy.modes, g.modes)
    assert np.array_equal(s.bound_ns, bound_space(p, g.makespan_ns))
