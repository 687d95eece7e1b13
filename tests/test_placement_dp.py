"""The placement optimiser equals brute force over every partition, S and d (DESIGN §7).

Brute force prices every contiguous partition with every admissible d through `evaluate_placement`, the
same evaluation the optimiser's answer comes from, so the optimum must match bit for bit. Instances are
seeded random chains of <= 8 layers whose memory limit is drawn between the smallest possible need and the
memory of the unconstrained optimum, so that it binds; the test also checks that the instances do exercise
binding memory, infeasibility and the parameter-cap trade-off (a test that cannot fail is a defect).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter

import numpy as np
import pytest

from phaze.placement import (
    Infeasible,
    LayerChain,
    PlacementSpec,
    best_placement,
    evaluate_placement,
    least_memory,
)
from phaze.placement.stages import stage_memory_bytes

CASES = 400


def _partitions(n: int):
    for stages in range(1, n + 1):
        for inner in itertools.combinations(range(1, n), stages - 1):
            yield (0, *inner, n)


def _admissible(spec: PlacementSpec, stages: int):
    d = 1
    while d <= spec.microbatches and d * stages * spec.tensor_width <= spec.devices:
        yield d
        d += 1


def brute_best(chain: LayerChain, spec: PlacementSpec, pipeline: int | None = None,
               data: int | None = None):
    """(best placement or None, min max-load per (S, d) over feasible partitions)."""
    best, least_load = None, {}
    for cuts in _partitions(chain.n):
        stages = len(cuts) - 1
        if pipeline is not None and stages != pipeline:
            continue
        for d in _admissible(spec, stages):
            if data is not None and d != data:
                continue
            result = evaluate_placement(chain, spec, d, cuts)
            if not result.feasible:
                continue
            key = (stages, d)
            least_load[key] = min(least_load.get(key, np.inf), result.max_load_s)
            if best is None or result.iteration_s < best.iteration_s:
                best = result
    return best, least_load


def brute_memory(chain: LayerChain, spec: PlacementSpec) -> float:
    """Smallest largest-stage memory over every partition and admissible d."""
    best = np.inf
    for cuts in _partitions(chain.n):
        stages = len(cuts) - 1
        for d in _admissible(spec, stages):
            per_replica = spec.microbatches_per_replica(d)
            worst = max(stage_memory_bytes(chain, spec, a, b, min(stages - k, per_replica))
                        for k, (a, b) in enumerate(itertools.pairwise(cuts)))
            best = min(best, worst)
    return best


def random_instance(rng: np.random.Generator) -> tuple[LayerChain, PlacementSpec]:
    n = int(rng.integers(1, 9))
    params = (rng.integers(1, 5, n) * 2.5e5) if rng.random() < 0.5 else rng.uniform(2.5e5, 1e6, n)
    chain = LayerChain(
        # loads and parameters that disagree on where to cut make the parameter cap trade load for
        # all-reduce/optimizer time; half the instances use a parameter grid so equal sums (tied caps) occur
        load_s=rng.uniform(0.2, 1.0, n) * 1e-3 * np.where(rng.random(n) < 0.3, 3.0, 1.0) * (rng.random(n) > 0.1),
        params=params,
        act_bytes=rng.uniform(0, 4e6, n),
        extra_bytes=rng.uniform(0, 4e6, n) * (rng.random(n) < 0.3),
        boundary_p2p_s=rng.uniform(0, 3e-4, n) * (rng.random() < 0.7),
        # a tied copy of the first layer's parameters in the last: one stage holding both keeps it once
        shared_params=float(min(params[0], params[-1]) * rng.uniform(0, 1) * (rng.random() < 0.3)),
    )
    adam = bool(rng.random() < 0.5)
    spec = PlacementSpec(
        devices=int(rng.integers(1, 7)), tensor_width=int(rng.choice([1, 1, 1, 2])),
        microbatches=int(rng.integers(1, 10)), hbm_bytes=1e30,
        hbm_bw_bytes_per_s=float(10 ** rng.uniform(8, 11)),
        dp_link_bw_bytes_per_s=float(10 ** rng.uniform(7, 10)),
        dp_link_latency_s=float(rng.choice([0.0, 1e-5])),
        node_size=int(rng.choice([1, 2, 4])), tp_link_bw_bytes_per_s=float(10 ** rng.uniform(8, 11)),
        bytes_per_param=16.0 if adam else 4.0, opt_bytes_touched_per_param=28.0 if adam else 8.0,
    )
    return chain, spec


def test_optimum_equals_brute_force() -> None:
    rng = np.random.default_rng(2024)
    seen: Counter[str] = Counter()
    for case in range(CASES):
        chain, free_spec = random_instance(rng)
        free, _ = brute_best(chain, free_spec)
        if free is None:  # tensor width above the device count: nothing to place
            assert isinstance(best_placement(chain, free_spec), Infeasible)
            seen["no devices"] += 1
            continue
        floor_need = brute_memory(chain, free_spec)
        hbm = float(rng.uniform(0.95 * floor_need, 1.5 * free.memory_per_device_bytes))
        spec = dataclasses.replace(free_spec, hbm_bytes=hbm)
        assert least_memory(chain, spec)[0] == floor_need
        expected, least_load = brute_best(chain, spec)
        got = best_placement(chain, spec)
        if expected is None:
            assert isinstance(got, Infeasible)
            assert str(got).startswith("infeasible: no placement fits")
            assert f"{floor_need:.6g} bytes" in got.reason
            seen["infeasible"] += 1
            continue
        assert not isinstance(got, Infeasible), (case, got)
        assert got.iteration_s == expected.iteration_s, case
        assert got == evaluate_placement(chain, spec, got.data, got.cuts)
        assert max(got.stage_memory_bytes) <= hbm
        if expected.iteration_s > free.iteration_s:
            seen["memory binds"] += 1
        if expected.max_load_s > least_load[(expected.pipeline, expected.data)]:
            seen["cap trades load for parameters"] += 1
        if expected.microbatches_per_replica < expected.pipeline:
            seen["fewer micro-batches than stages"] += 1
    # the instances must exercise what the optimiser has to get right
    assert seen["infeasible"] >= 20, seen
    assert seen["memory binds"] >= 40, seen
    assert seen["cap trades load for parameters"] >= 15, seen
    assert seen["fewer micro-batches than stages"] >= 40, seen


@pytest.mark.parametrize("seed", range(3))
def test_fixed_pipeline_or_data_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    checked = 0
    while checked < 10:
        chain, spec = random_instance(rng)
        spec = dataclasses.replace(spec, hbm_bytes=float(rng.uniform(1e7, 4e7)))
        stages = int(rng.integers(1, chain.n + 1))
        data = int(rng.integers(1, 4))
        for kwargs in ({"pipeline": stages}, {"data": data}, {"pipeline": stages, "data": data}):
            expected, _ = brute_best(chain, spec, **kwargs)
            got = best_placement(chain, spec, **kwargs)
            if expected is None:
                assert isinstance(got, Infeasible)
            else:
                assert got.iteration_s == expected.iteration_s
                assert got.pipeline == kwargs.get("pipeline", got.pipeline)
                assert got.data == kwargs.get("data", got.data)
                checked += 1


def test_uniform_chain_matches_closed_form() -> None:
    """Identical blocks, free embed/head, no p2p, ample memory: load·ceil(L/S)·(ceil(m/d)+S−1) + AR + opt."""
    blocks, load, params = 7, 1e-3, 3e6
    spec = PlacementSpec(devices=12, tensor_width=1, microbatches=10, hbm_bytes=1e30, hbm_bw_bytes_per_s=1e11,
                         dp_link_bw_bytes_per_s=2e10, dp_link_latency_s=1e-6)
    chain = LayerChain(np.r_[0.0, np.full(blocks, load), 0.0], np.r_[0.0, np.full(blocks, params), 0.0],
                       np.zeros(blocks + 2), np.zeros(blocks + 2), np.zeros(blocks + 2))
    best = np.inf
    for stages in range(1, blocks + 3):
        for d in _admissible(spec, stages):
            per_stage = -(-blocks // stages)
            p = per_stage * params
            ar = 2 * (d - 1) / d * p * 2.0 / 2e10 + 2 * (d - 1) * 1e-6
            tpb = load * per_stage * (-(-10 // d) + stages - 1) + ar + p * 28.0 / 1e11
            best = min(best, tpb)
    got = best_placement(chain, spec)
    assert got.iteration_s == pytest.approx(best, rel=1e-12)
    assert got.max_load_s == pytest.approx(load * -(-blocks // got.pipeline), rel=1e-12)
