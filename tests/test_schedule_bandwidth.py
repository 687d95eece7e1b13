"""No schedule draws more than 100% of HBM or global-buffer bandwidth (phaze.cost.price's shares, DESIGN §6):
greedy and CP-SAT schedules of random DAGs of real priced ops on random designs, checked by the checker."""

from __future__ import annotations

import numpy as np
import pytest
from test_cost_price import random_ops

from phaze.config.hw import HwConfig, SpaceConfig
from phaze.config.solver import SolverConfig
from phaze.cost import price_detail
from phaze.hardware import Accelerators
from phaze.model.ops import LayerGraph, Op, OpKind, Pass
from phaze.schedule import schedule_space, solve_candidate
from phaze.schedule.check import ScheduleError, check_bandwidth
from phaze.schedule.instance import Instance
from phaze.schedule.modes import MODE_SINGLE, VC
from phaze.schedule.problem import build_problem


@pytest.fixture(scope="module")
def space() -> Accelerators:
    return Accelerators.from_config(HwConfig(name="search", space=SpaceConfig()))


def random_graph(rng: np.random.Generator, k: int) -> LayerGraph:
    ops = random_ops(rng, k)
    edges = [(i, j) for j in range(k) for i in range(j) if rng.random() < 0.2]
    return LayerGraph("block", Pass.FWD, ops, edges)


def peaks(graph: LayerGraph, acc: Accelerators, c: int, starts: tuple[int, ...], modes: tuple[int, ...],
          inst: Instance) -> tuple[float, float]:
    p = price_detail(graph.ops, acc)
    hbm = [(float(p.single_hbm_bytes[c, i]), float(p.hbm_bytes[c, i])) for i in range(len(graph.ops))]
    glb = [(float(p.single_glb_bytes[c, i]), float(p.glb_bytes[c, i])) for i in range(len(graph.ops))]
    return (check_bandwidth(inst, starts, modes, hbm, acc.hbm_bw_bytes_per_s, "HBM"),
            check_bandwidth(inst, starts, modes, glb, float(acc.glb_bw_bytes_per_cycle[c]) * acc.freq_hz, "GLB"))


@pytest.mark.parametrize("seed", range(12))
def test_greedy_and_cpsat_schedules_stay_within_both_bandwidths(space: Accelerators, seed: int) -> None:
    rng = np.random.default_rng(seed)
    graph = random_graph(rng, 12)
    acc = space.take(np.sort(rng.choice(len(space), size=6, replace=False)))
    priced = price_detail(graph.ops, acc)
    single, intra = priced.single_s, priced.intra_s
    problem = build_problem(graph, single, intra, acc.n_tc, acc.n_vc)
    sched_space = schedule_space(problem)
    for c in range(len(acc)):
        inst = problem.instance(c)
        for sched in (sched_space.greedy_schedule(c),
                      solve_candidate(sched_space, c, SolverConfig(max_deterministic_time=0.5))):
            if sched.makespan_ns is None:
                continue
            hbm_peak, glb_peak = peaks(graph, acc, c, sched.starts_ns, sched.modes, inst)
            assert 0.0 <= hbm_peak <= 1.0 + 1e-9 and 0.0 <= glb_peak <= 1.0 + 1e-9


def test_one_core_ops_together_reach_but_never_pass_the_chip_bandwidth() -> None:
    # 1 tensor core + 3 vector cores, HBM 4 B/s, buffer unbounded: a streaming vector op on one core gets 1/4 of
    # HBM (1 B/s), so its 16 B take 16 s; three side by side draw exactly 3/4 of HBM, and the checker says so.
    acc = Accelerators.from_config(HwConfig(name="t", n_tc=1, n_vc=3, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2,
                                            freq_hz=1.0, hbm_bw_bytes_per_s=4.0, glb_banks=1, glb_bank_bytes=10**15,
                                            has_area=False))
    ops = [Op(f"v{i}", OpKind.VECTOR, numel=1, vector_ops=("relu",), bytes_read=8, bytes_written=8) for i in range(3)]
    graph = LayerGraph("block", Pass.FWD, ops, [])
    p = price_detail(ops, acc)
    assert float(p.single_s[0, 0]) == 16.0  # 16 B at 1 B/s (a quarter of 4 B/s)
    problem = build_problem(graph, p.single_s, p.intra_s, acc.n_tc, acc.n_vc)
    inst = problem.instance(0)
    starts, modes = (0, 0, 0), (MODE_SINGLE,) * 3
    hbm = [(16.0, 16.0)] * 3
    assert check_bandwidth(inst, starts, modes, hbm, 4.0, "HBM") == pytest.approx(0.75)


def test_checker_rejects_an_over_draw() -> None:
    # two one-core ops of 10 ns that each move 6 B through a 1 B/ns HBM: 60% each, 120% together
    inst = Instance(names=("a", "b"), op_class=(VC, VC), edges=(), single=(10, 10), intra=(-1, -1), n_tc=1, n_vc=2)
    traffic = [(6.0, 0.0)] * 2
    with pytest.raises(ScheduleError, match=r"HBM bandwidth over 100% at t=0 ns: 120.000%"):
        check_bandwidth(inst, (0, 0), (MODE_SINGLE, MODE_SINGLE), traffic, 1e9, "HBM")
    # one after the other they are fine
    assert check_bandwidth(inst, (0, 10), (MODE_SINGLE, MODE_SINGLE), traffic, 1e9, "HBM") == pytest.approx(0.6)
