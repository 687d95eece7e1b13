"""Hand-computed placements, the literature split and infeasibility reasons (DESIGN §7)."""

from __future__ import annotations

import dataclasses
from itertools import pairwise

import numpy as np
import pytest

from phaze.config.errors import ConfigError
from phaze.cost.collectives import all_reduce_s as ring_allreduce_s
from phaze.placement import (
    Infeasible,
    LayerChain,
    PlacementSpec,
    best_placement,
    evaluate_literature,
    evaluate_placement,
    least_memory,
    literature_cuts,
)
from phaze.placement.stages import stage_params
from phaze.placement.timing import dp_allreduce_bw, dp_allreduce_s, dp_ranks_per_node

MS = 1e-3
MB = 1e6  # bytes
GB_PER_S = 1e9  # bytes per second


def _spec(**overrides: float) -> PlacementSpec:
    fields = {"devices": 2, "tensor_width": 1, "microbatches": 8, "hbm_bytes": 1e9, "hbm_bw_bytes_per_s": 1e12,
              "dp_link_bw_bytes_per_s": GB_PER_S, "dp_link_latency_s": 0.0}
    fields.update(overrides)
    return PlacementSpec(**fields)


def _two_layers(params: float = 0.0) -> LayerChain:
    """Two layers of 1 ms; sending layer 0's 1 MB output over a 1 GB/s link takes 1 ms."""
    return LayerChain(load_s=[1 * MS, 1 * MS], params=[params, params], act_bytes=[0.0, 0.0],
                      extra_bytes=[0.0, 0.0], boundary_p2p_s=[1 * MB / GB_PER_S, 0.0])


def test_two_stage_p2p_hand_check() -> None:
    # each stage: 1 ms compute + 1 ms p2p (stage 1 sends its output forward, stage 2 the gradient back);
    # 8 micro-batches through 2 stages: (8 + 2 - 1) slots of 2 ms = 18 ms; no all-reduce at d = 1
    got = evaluate_placement(_two_layers(), _spec(), 1, (0, 1, 2))
    assert got.stage_load_s == pytest.approx((2 * MS, 2 * MS), abs=1e-12)
    assert got.iteration_s == pytest.approx(18 * MS, abs=1e-9)
    assert got.throughput_samples_s == pytest.approx(8 / (18 * MS))
    assert best_placement(_two_layers(), _spec(), pipeline=2).iteration_s == pytest.approx(18 * MS, abs=1e-9)
    # without the pipeline the p2p disappears: one stage of 2 ms, 2 replicas of 4 micro-batches = 8 ms
    best = best_placement(_two_layers(), _spec())
    assert (best.pipeline, best.data) == (1, 2)
    assert best.iteration_s == pytest.approx(8 * MS, abs=1e-9)


def test_allreduce_and_optimizer_hand_check() -> None:
    spec = _spec(dp_link_latency_s=1e-5)
    got = evaluate_placement(_two_layers(params=1e6), spec, 2, (0, 2))
    # pipeline 2 ms · ceil(8/2) = 8 ms; ring AR of 2e6 params · 2 B over 2 ranks: 2·(1/2)·4e6 B / 1e9 B/s
    # + 2·1·10 µs = 4.02 ms; Adam step 2e6 · 28 B / 1e12 B/s = 56 µs
    assert got.pipeline_s == pytest.approx(8 * MS, abs=1e-12)
    assert got.allreduce_s == pytest.approx(4.02 * MS, abs=1e-12)
    assert got.optimizer_s == pytest.approx(0.056 * MS, abs=1e-12)
    assert got.iteration_s == pytest.approx(12.076 * MS, abs=1e-12)


def test_ring_allreduce_matches_original_hand_number() -> None:
    # docs/phaze-original.md §10.2: 1 MiB over 8 ranks at 4 GiB/s takes 0.427 ms
    assert ring_allreduce_s(2.0**20, 8.0, 4 * 2.0**30, 0.0) == pytest.approx(0.42724609375e-3, rel=1e-15)
    assert ring_allreduce_s(123.0, 1.0, 1.0, 1.0) == 0.0


def test_stage_memory_follows_1f1b_in_flight_counts() -> None:
    chain = LayerChain(load_s=[1.0, 1.0, 1.0], params=[10.0, 20.0, 30.0], act_bytes=[100.0, 200.0, 300.0],
                       extra_bytes=[0.0, 0.0, 5000.0], boundary_p2p_s=[0.0, 0.0, 0.0])
    spec = _spec(devices=3, microbatches=8, hbm_bytes=1e6)
    got = evaluate_placement(chain, spec, 1, (0, 1, 2, 3))
    # stage k of 3 holds 3 - k + 1 micro-batches: 16 B/param + act · in-flight (+ the head's extra)
    assert got.stage_memory_bytes == (160 + 3 * 100, 320 + 2 * 200, 480 + 300 + 5000)
    # with 2 micro-batches per batch the first stage can only hold 2
    got = evaluate_placement(chain, _spec(devices=3, microbatches=2, hbm_bytes=1e6), 1, (0, 1, 2, 3))
    assert got.stage_memory_bytes[0] == 160 + 2 * 100


def test_literature_cuts() -> None:
    assert literature_cuts(96, 32) == (0, *range(4, 97, 3), 98)
    # 54 blocks on 8 stages: 54 mod 8 = 6 stages of 7 blocks then 2 of 6; embed first, head last
    cuts = literature_cuts(54, 8)
    sizes = [b - a for a, b in pairwise(cuts)]
    assert sizes == [8, 7, 7, 7, 7, 7, 6, 7]
    assert literature_cuts(4, 1) == (0, 6)
    assert isinstance(literature_cuts(4, 5), Infeasible)


def test_literature_goes_through_the_same_evaluation() -> None:
    blocks = 6
    chain = LayerChain(np.r_[0.5, np.arange(1.0, blocks + 1), 0.7], np.full(blocks + 2, 10.0),
                       np.full(blocks + 2, 1.0), np.zeros(blocks + 2), np.full(blocks + 2, 0.01))
    spec = _spec(devices=8, microbatches=16)
    got = evaluate_literature(chain, spec, 2, 4)
    # 6 blocks on 4 stages: 2, 2, 1, 1 blocks; embed (layer 0) joins the first, head (layer 7) the last
    assert got == evaluate_placement(chain, spec, 2, (0, 3, 5, 6, 8))
    assert got.stage_layers == (3, 2, 1, 2)
    assert str(evaluate_literature(chain, spec, 2, 7)).startswith("infeasible: pipeline degree p=7")


@pytest.mark.parametrize(("data", "cuts", "spec", "reason"), [
    (3, (0, 1, 2), {}, "d·S·t = 3·2·1 = 6 devices exceeds the N=2 available"),
    (9, (0, 2), {"devices": 16}, "data-parallel degree d=9 exceeds the m=8 micro-batches per batch"),
    (0, (0, 2), {}, "data-parallel degree d=0 must be a positive integer"),
    (1, (0, 2, 2), {}, "must rise strictly"),
    (1, (1, 2), {}, "must start at 0 and end at the chain length 2"),
    (1, (0, 3), {}, "must start at 0 and end at the chain length 2"),
    (1, (0, 1, 2), {"tensor_width": 2}, "d·S·t = 1·2·2 = 4 devices exceeds the N=2 available"),
])
def test_fixed_strategy_infeasible_reasons(data: int, cuts: tuple[int, ...], spec: dict, reason: str) -> None:
    got = evaluate_placement(_two_layers(), _spec(**spec), data, cuts)
    assert isinstance(got, Infeasible)
    assert reason in got.reason
    assert str(got) == f"infeasible: {got.reason}"


def test_memory_overflow_names_the_stage_and_the_excess() -> None:
    chain = LayerChain(load_s=[1.0, 1.0], params=[1000.0, 10.0], act_bytes=[0.0, 0.0],
                       extra_bytes=[0.0, 0.0], boundary_p2p_s=[0.0, 0.0])
    got = evaluate_placement(chain, _spec(hbm_bytes=15000.0), 1, (0, 1, 2))
    # stage 1 holds 1000 params · 16 B = 16000 B: 1000 B over 15000
    assert got.reason == "stage 1 of 2 (layers 0..0) needs 16000 bytes per device, 1000 over hbm_bytes=15000 " \
                         "(1 stage(s) over)"


def test_optimiser_infeasible_reasons() -> None:
    assert best_placement(_two_layers(), _spec(tensor_width=4)).reason == "tensor width t=4 exceeds the N=2 devices"
    assert "no (S=3, d=any)" in best_placement(_two_layers(), _spec(), pipeline=3).reason
    chain = LayerChain(load_s=[1.0, 1.0], params=[1000.0, 3000.0], act_bytes=[10.0, 10.0],
                       extra_bytes=[0.0, 0.0], boundary_p2p_s=[0.0, 0.0])
    spec = _spec(hbm_bytes=40000.0, microbatches=4)
    # best is 2 stages on 2 devices: the second holds 3000 · 16 + 10 = 48010 B
    assert least_memory(chain, spec) == (48010.0, 2, 1)
    got = best_placement(chain, spec)
    assert got.reason == ("no placement fits in hbm_bytes=40000: the smallest per-device memory need is "
                          "48010 bytes (S=2, d=1, t=1)")


def test_results_are_deterministic_and_serialisable() -> None:
    rng = np.random.default_rng(7)
    chain = LayerChain(*(rng.uniform(0, 1, 12) for _ in range(5)))
    spec = _spec(devices=16, microbatches=32, hbm_bytes=1e3)
    first, second = best_placement(chain, spec), best_placement(chain, spec)
    assert first == second
    out = first.as_dict()
    assert out["stages"] == list(first.stage_layers)
    assert sum(out["stages"]) == 12
    assert out["devices_used"] == first.data * first.pipeline


def test_inputs_are_validated() -> None:
    with pytest.raises(ConfigError, match="devices"):
        _spec(devices=0)
    with pytest.raises(ConfigError, match="hbm_bytes"):
        _spec(hbm_bytes=-1.0)
    with pytest.raises(ValueError, match="params has 1 layers"):
        LayerChain([1.0, 2.0], [1.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="finite and >= 0"):
        LayerChain([1.0, -2.0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0])


def test_data_parallel_ring_bandwidth_follows_the_ranks_per_node() -> None:
    # nodes of 8, 25 GB/s inter-node link per device, 235 GB/s inside the node; ranks tensor-parallel first
    spec = PlacementSpec(devices=512, tensor_width=1, microbatches=64, hbm_bytes=1e12, hbm_bw_bytes_per_s=1e12,
                         dp_link_bw_bytes_per_s=25e9, node_size=8, tp_link_bw_bytes_per_s=235e9)
    assert dp_allreduce_bw(8.0, spec) == 235e9  # the whole group inside one node
    assert dp_allreduce_bw(32.0, spec) == 200e9  # 8 ranks per node, one ring per link: 8 x 25 GB/s
    t4 = dataclasses.replace(spec, tensor_width=4)
    assert dp_allreduce_bw(2.0, t4) == 235e9 and dp_allreduce_bw(32.0, t4) == 50e9  # 2 ranks per node
    t8 = dataclasses.replace(spec, tensor_width=8)
    assert dp_allreduce_bw(32.0, t8) == 25e9  # one rank per node
    fast_nics = dataclasses.replace(spec, dp_link_bw_bytes_per_s=50e9)
    assert dp_allreduce_bw(32.0, fast_nics) == 235e9  # capped by the intra-node link
    # the vectorised form gives the same numbers
    d = np.array([1.0, 2.0, 8.0, 16.0, 32.0])
    assert list(dp_allreduce_bw(d, spec)) == [dp_allreduce_bw(float(x), spec) for x in d]
    # 1 GB of gradients over 32 ranks at 200 GB/s: 2·31/32·1e9/200e9 = 9.6875 ms
    assert dp_allreduce_s(5e8, 32.0, spec) == pytest.approx(9.6875e-3, rel=1e-12)


def _fewest_ranks_by_enumeration(d: int, stages: int, t: int, node: int) -> int:
    """Number every rank (tensor fastest, then data, then pipeline), take every data-parallel group and
    count its ranks per node; the fewest on any node a spanning group touches, 0 if none spans."""
    fewest = 0
    for k in range(stages):
        for r in range(t):
            ranks = [r + t * i + t * d * k for i in range(d)]
            per_node: dict[int, int] = {}
            for rank in ranks:
                per_node[rank // node] = per_node.get(rank // node, 0) + 1
            if len(per_node) > 1:
                low = min(per_node.values())
                fewest = low if fewest == 0 else min(fewest, low)
    return fewest


@pytest.mark.parametrize("node", [4, 8])
@pytest.mark.parametrize("t", [1, 2, 4, 8, 16])
def test_ranks_per_node_equal_enumeration(t: int, node: int) -> None:
    spec = PlacementSpec(devices=4096, tensor_width=t, microbatches=64, hbm_bytes=1e12, hbm_bw_bytes_per_s=1e12,
                         dp_link_bw_bytes_per_s=25e9, node_size=node)
    d = np.array([x for x in range(1, 41) for _ in range(1, 13)])
    s = np.array([y for _ in range(1, 41) for y in range(1, 13)])
    got = dp_ranks_per_node(d, s, spec)
    want = [_fewest_ranks_by_enumeration(int(a), int(b), t, node) for a, b in zip(d, s, strict=True)]
    assert list(got) == want
    assert dp_ranks_per_node(3, 3, spec) == want[2 * 12 + 2]  # scalars too


def test_straddling_data_parallel_group_runs_at_its_fewest_nics() -> None:
    # node 8, t = 1, d = 3: stages 1 and 2 sit inside node 0 (ranks 0-2, 3-5), stage 3 is ranks 6, 7 | 8:
    # one rank on node 1, so its ring crosses nodes on one 25 GB/s link
    spec = PlacementSpec(devices=512, tensor_width=1, microbatches=64, hbm_bytes=1e12, hbm_bw_bytes_per_s=1e12,
                         dp_link_bw_bytes_per_s=25e9, node_size=8, tp_link_bw_bytes_per_s=235e9)
    assert dp_allreduce_bw(3.0, spec, 2) == 235e9
    assert dp_allreduce_bw(3.0, spec, 3) == 25e9
    # d = 12: stage 1 has 8 + 4 ranks on two nodes, so 4 links; stage 2 (ranks 12-23) 4 + 8 as well
    assert dp_allreduce_bw(12.0, spec, 2) == 100e9


def test_one_stage_keeps_a_tied_copy_once() -> None:
    chain = LayerChain(load_s=[1.0, 1.0, 1.0], params=[100.0, 50.0, 30.0], act_bytes=[0.0] * 3,
                       extra_bytes=[0.0] * 3, boundary_p2p_s=[0.0] * 3, shared_params=20.0)
    assert stage_params(chain, 0, 3) == 160.0  # 180 - the copy
    assert stage_params(chain, 1, 3) == 80.0 and stage_params(chain, 0, 2) == 150.0
