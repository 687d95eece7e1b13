"""GPT-3-sized chains (L = 96, N = 1024, m = 4096): the pruned optimiser stays exact (DESIGN §7).

Speed is not asserted here (house rule); the optimiser takes milliseconds per tensor width on these chains.
"""

from __future__ import annotations

import numpy as np
import pytest

from phaze.placement import LayerChain, PlacementSpec, best_placement, evaluate_literature
from phaze.placement.cells import admissible_cells
from phaze.placement.partition import Ladder
from phaze.placement.stages import build_tables
from phaze.placement.timing import iteration_s

BLOCKS, DEVICES, MICROBATCHES = 96, 1024, 4096
SEQ, HIDDEN, VOCAB = 2048, 12288, 50257  # GPT-3 175B (Brown et al. 2020)
BLOCK_PARAMS = 1_812_099_072  # per block at t = 1 (docs/phaze-original.md §10.2)
BLOCK_MACS = 3_813_930_958_848  # forward GEMM MACs per block per sample at s = 2048 (DESIGN §3)
PEAK_FLOPS = 275e12  # TPUv4 bf16 (DESIGN §4)
GIB = 2**30


def _spec(t: int, hbm_gib: float) -> PlacementSpec:
    return PlacementSpec(devices=DEVICES, tensor_width=t, microbatches=MICROBATCHES, hbm_bytes=hbm_gib * GIB,
                         hbm_bw_bytes_per_s=1.2e12, dp_link_bw_bytes_per_s=25e9, dp_link_latency_s=5e-6)


def gpt3_chain(t: int) -> LayerChain:
    """A plausible GPT-3 chain at micro-batch 1: 3 passes of 2·MACs at half of peak, selective recompute."""
    block_load = 3 * 2 * BLOCK_MACS / t / (0.5 * PEAK_FLOPS)
    boundary = SEQ * HIDDEN * 2 / 25e9 + 5e-6  # one bf16 activation over the inter-node link
    return LayerChain(
        load_s=np.r_[1e-3, np.full(BLOCKS, block_load), 5e-3],
        params=np.r_[VOCAB * HIDDEN / t + SEQ * HIDDEN, np.full(BLOCKS, BLOCK_PARAMS / t), 2 * HIDDEN],
        act_bytes=np.r_[SEQ * HIDDEN * 2, np.full(BLOCKS, SEQ * HIDDEN * (10 + 24 / t)), SEQ * HIDDEN * 2],
        extra_bytes=np.r_[0.0, np.zeros(BLOCKS), SEQ * VOCAB * 4 / t],  # fp32 logits of the head
        boundary_p2p_s=np.full(BLOCKS + 2, boundary),
    )


def every_cap_reference(chain: LayerChain, spec: PlacementSpec) -> float:
    """min over ALL caps c and cells of iteration_s(B_S(c), ceil(m/d)+S−1, c, d), with no pruning.

    For m >= N every cell has ceil(m/d) >= S, so one unlimited DP per cap serves every cell.
    """
    cells = admissible_cells(chain.n, spec, None, None)
    assert cells.limits == (0,)
    tables = build_tables(chain, spec)
    best = np.inf
    for cap in np.unique(tables.params[tables.fit >= 1]):
        allowed = np.where(tables.params <= cap, tables.load, np.inf)
        ladder = Ladder.start(chain.n)
        ladder.climb(lambda j, r, a=allowed: np.where(tables.fit[:r, : r + 1] >= j, a[:r, : r + 1], np.inf),
                     tables.params, int(cells.stages.max()))
        loads = np.array([ladder.best(int(s)) for s in cells.stages])
        ok = np.isfinite(loads)
        if ok.any():
            best = min(best, float(np.min(iteration_s(loads[ok], cells.fill[ok], float(cap),
                                                      cells.data_f[ok], spec, cells.ring_bw[ok]))))
    return best


@pytest.mark.parametrize("t", [1, 8])
def test_uniform_gpt3_chain_matches_closed_form(t: int) -> None:
    load, params = 0.02 / t, BLOCK_PARAMS / t
    zeros = np.zeros(BLOCKS + 2)
    chain = LayerChain(np.r_[0.0, np.full(BLOCKS, load), 0.0], np.r_[0.0, np.full(BLOCKS, params), 0.0],
                       zeros, zeros, zeros)
    spec = _spec(t, 1e30)
    best = np.inf
    for stages in range(1, min(BLOCKS + 2, DEVICES // t) + 1):
        d = np.arange(1, min(DEVICES // (t * stages), MICROBATCHES) + 1, dtype=np.float64)
        per_stage = -(-BLOCKS // stages)
        p = per_stage * params
        allreduce = 2 * (d - 1) / d * p * 2.0 / 25e9 + 2 * (d - 1) * 5e-6
        tpb = load * per_stage * (np.ceil(MICROBATCHES / d) + stages - 1) + allreduce + p * 28.0 / 1.2e12
        best = min(best, float(tpb.min()))
    got = best_placement(chain, spec)
    assert got.iteration_s == pytest.approx(best, rel=1e-12)
    assert got.max_load_s == pytest.approx(load * -(-BLOCKS // got.pipeline), rel=1e-12)


@pytest.mark.parametrize(("t", "hbm_gib"), [(4, 32), (8, 80)])
def test_gpt3_chain_equals_every_cap_reference(t: int, hbm_gib: float) -> None:
    chain, spec = gpt3_chain(t), _spec(t, hbm_gib)
    got = best_placement(chain, spec)
    assert got.iteration_s == every_cap_reference(chain, spec)
    assert max(got.stage_memory_bytes) <= hbm_gib * GIB


def test_gpt3_optimum_beats_the_literature_placement() -> None:
    """PHAZE's megatrongpt3 row (p=32, d=8, t=4) fits in 80 GiB (not in 32) and is slower than the optimum."""
    chain = gpt3_chain(4)
    assert "stage 1 of 32 (layers 0..3)" in evaluate_literature(chain, _spec(4, 32), 8, 32).reason
    literature = evaluate_literature(chain, _spec(4, 80), 8, 32)
    assert literature.stage_layers == (4, *[3] * 30, 4)
    assert best_placement(chain, _spec(4, 80)).iteration_s < literature.iteration_s


def test_gpt3_without_recompute_at_t1_does_not_fit_and_says_by_how_much() -> None:
    got = best_placement(gpt3_chain(1), _spec(1, 80))
    assert not got.feasible
    assert got.reason.startswith("no placement fits in hbm_bytes=8.58993e+10: the smallest per-device memory")


@pytest.mark.parametrize("seed", range(3))
def test_heterogeneous_chain_equals_every_cap_reference(seed: int) -> None:
    """Distinct layers give hundreds of caps and a slow data-parallel link makes them matter."""
    rng = np.random.default_rng(seed)
    n = 30
    chain = LayerChain(rng.uniform(0.5, 1.5, n) * 0.05, rng.uniform(0.2, 1.0, n) * 1e9,
                       rng.uniform(0.2, 1.0, n) * 3e8, np.zeros(n), rng.uniform(0, 1e-3, n))
    spec = PlacementSpec(devices=64, tensor_width=1, microbatches=256, hbm_bytes=60 * GIB,
                         hbm_bw_bytes_per_s=1.2e12, dp_link_bw_bytes_per_s=float(rng.choice([1e8, 1e9])))
    assert best_placement(chain, spec).iteration_s == every_cap_reference(chain, spec)
