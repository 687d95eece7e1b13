"""Megatron-LM's interleaved 1F1B schedule (Narayanan et al. SC21 §2.2.2): hand-computed times, the in-flight
micro-batches of each device, infeasibility reasons, and the best (p, d) against brute force."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from phaze.cost.collectives import all_reduce_s
from phaze.placement import Infeasible, LayerChain, PlacementSpec, evaluate_placement
from phaze.placement.chunks import layout
from phaze.placement.inflight import peak_inflight
from phaze.placement.interleaved import best_interleaved, evaluate_interleaved
from phaze.placement.result import Placement

MS = 1e-3


def _spec(**overrides: float) -> PlacementSpec:
    fields = {"devices": 2, "tensor_width": 1, "microbatches": 8, "hbm_bytes": 1e12, "hbm_bw_bytes_per_s": 1e12,
              "dp_link_bw_bytes_per_s": 1e9, "dp_link_latency_s": 0.0}
    fields.update(overrides)
    return PlacementSpec(**fields)


def _uniform(blocks: int, p2p_s: float = 0.0, act: float = 0.0) -> LayerChain:
    """Zero-cost embed and head around `blocks` blocks of 1 ms each."""
    n = blocks + 2
    load = [0.0] + [1 * MS] * blocks + [0.0]
    return LayerChain(load_s=load, params=[0.0] * n, act_bytes=[0.0] + [act] * blocks + [0.0],
                      extra_bytes=[0.0] * n, boundary_p2p_s=[p2p_s] * n)


def test_two_devices_two_chunks_hand_check() -> None:
    # 4 blocks in 4 chunks of one block; each device holds 2 ms of blocks per micro-batch. 8 micro-batches:
    # (8 + (2 - 1)/2) = 8.5 slots of 2 ms = 17 ms, against (8 + 2 - 1) · 2 ms = 18 ms with plain 1F1B.
    chain = _uniform(4)
    got = evaluate_interleaved(chain, _spec(), 1, 2, 2)
    assert isinstance(got, Placement)
    assert got.cuts == (0, 2, 3, 4, 6) and got.chunks == 2
    assert got.stage_load_s == pytest.approx((2 * MS, 2 * MS), abs=1e-12)
    assert got.iteration_s == pytest.approx(17 * MS, abs=1e-12)
    assert evaluate_placement(chain, _spec(), 1, (0, 3, 6)).iteration_s == pytest.approx(18 * MS, abs=1e-12)


def test_every_chunk_pays_its_boundary_sends() -> None:
    # 0.25 ms per send: device 0 sends chunk 0's and chunk 2's outputs and chunk 2's input gradient (3 sends),
    # device 1 chunk 1's and chunk 3's input gradients and chunk 1's output (3 sends): 2.75 ms per micro-batch
    got = evaluate_interleaved(_uniform(4, p2p_s=0.25 * MS), _spec(), 1, 2, 2)
    assert got.stage_load_s == pytest.approx((2.75 * MS, 2.75 * MS), abs=1e-12)
    assert got.iteration_s == pytest.approx(8.5 * 2.75 * MS, abs=1e-12)


def test_allreduce_and_optimizer_are_added_once() -> None:
    chain = LayerChain(load_s=[0.0, MS, MS, MS, MS, 0.0], params=[0.0, 1e6, 1e6, 1e6, 1e6, 0.0],
                       act_bytes=[0.0] * 6, extra_bytes=[0.0] * 6, boundary_p2p_s=[0.0] * 6)
    spec = _spec(devices=4)
    got = evaluate_interleaved(chain, spec, 2, 2, 2)
    # d = 2: 4 micro-batches per replica; each device holds 2e6 parameters
    ar = all_reduce_s(2e6 * 2.0, 2, spec.intra_node_bw_bytes_per_s, 0.0)
    opt = 2e6 * 28.0 / 1e12
    assert got.iteration_s == pytest.approx(2 * MS * (4 + 0.5) + ar + opt, rel=1e-12)


def test_in_flight_units_follow_megatron_order() -> None:
    # S = 2, v = 2, 4 micro-batches per replica. Device 0 warms up with 2·(2-0-1) + (2-1)·2 = 4 forwards
    # (chunk 0 of micro-batches 0, 1, then chunk 1 of 0, 1), then forward/backward pairs. It peaks at
    # 3 + 2 units when chunk 1 is heavier, at 4 + 1 when chunk 0 is (it holds chunk 0 of four micro-batches
    # before chunk 0 of the first one goes backward).
    assert peak_inflight(2, 0, 2, 4, (1.0, 10.0)) == (23.0, (3, 2))
    assert peak_inflight(2, 0, 2, 4, (10.0, 1.0)) == (41.0, (4, 1))
    # device 1 warms up with 2 forwards and holds at most 3 units
    assert peak_inflight(2, 1, 2, 4, (1.0, 10.0)) == (12.0, (2, 1))
    assert peak_inflight(2, 1, 2, 4, (10.0, 1.0)) == (30.0, (3, 0))
    # micro-batches per replica = S: every forward runs first
    assert peak_inflight(2, 0, 2, 2, (1.0, 1.0)) == (4.0, (2, 2))


def test_memory_uses_the_in_flight_units() -> None:
    chain = _uniform(4, act=1e6)
    got = evaluate_interleaved(chain, _spec(microbatches=4), 1, 2, 2)
    assert got.stage_memory_bytes == pytest.approx((5e6, 3e6))
    tight = evaluate_interleaved(chain, _spec(microbatches=4, hbm_bytes=4e6), 1, 2, 2)
    assert isinstance(tight, Infeasible) and "device 1 of 2" in tight.reason and "hbm_bytes=4e+06" in tight.reason


@pytest.mark.parametrize(("data", "stages", "chunks", "needle"), [
    (1, 1, 2, "at least 2 stages"),
    (1, 2, 3, "exceed the L=4 blocks"),
    (3, 2, 2, "multiple of p=2"),  # 8 micro-batches do not split evenly over 3 replicas
    (2, 2, 2, "exceeds the N=2"),
])
def test_infeasible_strategies_say_why(data: int, stages: int, chunks: int, needle: str) -> None:
    got = evaluate_interleaved(_uniform(4), _spec(devices=2 if data == 2 else 8), data, stages, chunks)
    assert isinstance(got, Infeasible) and needle in got.reason


def test_micro_batches_per_replica_must_be_a_multiple_of_the_stages() -> None:
    # 8 micro-batches over d = 4 replicas: 2 each, not a multiple of p = 4; over d = 2: 4 each, fine
    chain, spec = _uniform(8), _spec(devices=16)
    bad = evaluate_interleaved(chain, spec, 4, 4, 2)
    assert isinstance(bad, Infeasible) and "whole multiple of p=4" in bad.reason
    assert isinstance(evaluate_interleaved(chain, spec, 2, 4, 2), Placement)


def test_best_names_the_leanest_placement_when_nothing_fits() -> None:
    # 8 blocks of 1 MB activations, 4 micro-batches, 1 MB of HBM. p=2, d=2: 2 micro-batches per replica = p,
    # so all 4 units of 2 MB are in flight: 8 MB; p=2, d=1: 5 units of 2 MB; p=4, d=1: all 8 units of 1 MB,
    # 8 MB again (the first found is named); nothing fits
    got = best_interleaved(_uniform(8, act=1e6), _spec(devices=8, microbatches=4, hbm_bytes=1e6), 2)
    assert isinstance(got, Infeasible)
    assert got.reason == ("no interleaved placement fits: the leanest (p=2, d=2, 2 chunks) needs 8e+06 bytes per "
                          "device, over hbm_bytes=1e+06")


@pytest.mark.parametrize("seed", range(12))
def test_best_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    blocks = int(rng.integers(4, 9))
    n = blocks + 2
    chain = LayerChain(load_s=rng.uniform(0.1, 2.0, n) * MS, params=rng.uniform(0, 1e7, n),
                       act_bytes=rng.uniform(0, 1e8, n), extra_bytes=np.zeros(n),
                       boundary_p2p_s=rng.uniform(0, 0.2, n) * MS)
    spec = _spec(devices=int(rng.integers(4, 17)), microbatches=int(rng.choice([4, 8, 12, 16])),
                 hbm_bytes=float(rng.uniform(2e8, 1.2e9)))
    chunks = int(rng.integers(2, 4))
    tries = [evaluate_interleaved(chain, spec, d, s, chunks) for s in range(1, n + 1) for d in range(1, 17)]
    feasible = [p for p in tries if isinstance(p, Placement)]
    got = best_interleaved(chain, spec, chunks)
    if not feasible:
        assert isinstance(got, Infeasible)
        return
    assert isinstance(got, Placement)
    assert got.iteration_s == min(p.iteration_s for p in feasible)


def test_layout_splits_blocks_like_the_literature_rule() -> None:
    lay = layout(_uniform(10), 2, 2)  # 10 blocks in 4 chunks: 3, 3, 2, 2; embed and head at the ends
    assert lay.cuts == (0, 4, 7, 9, 12)
    assert lay.chunk_range(0, 1) == (7, 9) and lay.chunk_range(1, 1) == (9, 12)


def test_evaluate_cli_with_interleaved_schedule(tmp_path: Path) -> None:
    proc = run_cli("task=evaluate", "model=gpt3_175b", "hw=a100", "parallelism.schedule=interleaved",
                   "parallelism.chunks=2", "parallelism.tensor_widths=[8]", "parallelism.recompute=[full]",
                   "parallelism.microbatch_sizes=[1]", "solver=greedy", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    best = json.loads((tmp_path / "result.json").read_text())["best"]
    placement = best["placement"]
    assert placement["chunks"] == 2 and len(placement["cuts"]) == 2 * placement["pipeline"] + 1
    assert len(best["memory_per_stage"]) == placement["pipeline"]
    assert "interleaved:" in proc.stdout


@pytest.mark.parametrize(("overrides", "field"), [
    (["task=evaluate", "hw=a100", "parallelism.schedule=interleaved", "parallelism.chunks=1"], "parallelism.chunks"),
    (["task=evaluate", "hw=a100", "parallelism.schedule=gpipe"], "parallelism.schedule"),
])
def test_bad_schedule_input_is_one_line(overrides: list[str], field: str, tmp_path: Path) -> None:
    proc = run_cli("model=llama2_7b", *overrides, f"hydra.run.dir={tmp_path}")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], proc.stderr
