"""Price one given placement: (d, S, t, stage cuts) -> `Placement` or `Infeasible` (DESIGN §7).

This is THE evaluation: the optimiser (`optimal.best_placement`) returns the result of this function for
the partition it found, and fixed/literature strategies (`parallelism.fixed`, baselines) go through it
too, so every throughput in a report comes from one formula. It never raises on a bad strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from phaze.placement.problem import LayerChain, PlacementSpec
from phaze.placement.result import Infeasible, Placement
from phaze.placement.stages import stage_load_s, stage_memory_bytes, stage_params
from phaze.placement.timing import dp_allreduce_bw, dp_allreduce_s, iteration_s, optimizer_step_s, pipeline_s


def _check_cuts(cuts: Sequence[int], n: int) -> str | None:
    try:
        values = [int(c) for c in cuts]
    except (TypeError, ValueError):
        return f"stage cuts {cuts!r} are not integers"
    if len(values) < 2 or values[0] != 0 or values[-1] != n:
        return f"stage cuts {values} must start at 0 and end at the chain length {n}"
    if any(b <= a for a, b in pairwise(values)):
        return f"stage cuts {values} must rise strictly (no empty stage)"
    return None


def evaluate_placement(chain: LayerChain, spec: PlacementSpec, data: int,
                       cuts: Sequence[int]) -> Placement | Infeasible:
    """TPB and memory of `data` replicas of the pipeline whose stage k is layers `[cuts[k], cuts[k+1])`."""
    bad = _check_cuts(cuts, chain.n)
    if bad is not None:
        return Infeasible(bad)
    cuts = tuple(int(c) for c in cuts)
    stages, t, m = len(cuts) - 1, spec.tensor_width, spec.microbatches
    if isinstance(data, bool) or not isinstance(data, int | np.integer) or data < 1:
        return Infeasible(f"data-parallel degree d={data!r} must be a positive integer")
    data = int(data)
    if data > m:
        return Infeasible(f"data-parallel degree d={data} exceeds the m={m} micro-batches per batch")
    used = data * stages * t
    if used > spec.devices:
        return Infeasible(f"d·S·t = {data}·{stages}·{t} = {used} devices exceeds the N={spec.devices} available")
    per_replica = spec.microbatches_per_replica(data)
    ranges = list(pairwise(cuts))
    memory = tuple(stage_memory_bytes(chain, spec, a, b, min(stages - k, per_replica))
                   for k, (a, b) in enumerate(ranges))
    over = [(mem - spec.hbm_bytes, k) for k, mem in enumerate(memory) if mem > spec.hbm_bytes]
    if over:
        excess, k = max(over)
        a, b = ranges[k]
        return Infeasible(
            f"stage {k + 1} of {stages} (layers {a}..{b - 1}) needs {memory[k]:.6g} bytes per device, "
            f"{excess:.6g} over hbm_bytes={spec.hbm_bytes:.6g} ({len(over)} stage(s) over)")
    loads = tuple(stage_load_s(chain, a, b) for a, b in ranges)
    params = tuple(stage_params(chain, a, b) for a, b in ranges)
    max_load, max_params = max(loads), max(params)
    fill = float(per_replica + stages - 1)
    ring = dp_allreduce_bw(float(data), spec, stages)
    tpb = iteration_s(max_load, fill, max_params, float(data), spec, ring)
    return Placement(
        data=data, pipeline=stages, tensor=t, cuts=cuts, microbatches_per_replica=per_replica,
        iteration_s=tpb, max_load_s=max_load, pipeline_s=pipeline_s(max_load, fill),
        allreduce_s=dp_allreduce_s(max_params, float(data), spec, ring),
        optimizer_s=optimizer_step_s(max_params, spec), stage_load_s=loads, stage_params=params,
        stage_memory_bytes=memory, throughput_samples_s=spec.global_batch / tpb if tpb > 0 else float("inf"),
    )


def literature_cuts(blocks: int, stages: int) -> tuple[int, ...] | Infeasible:
    """Cuts of the literature rule for the chain [embed, L blocks, head] (DESIGN §7).

    The first `L mod p` stages get ceil(L/p) blocks, the rest floor(L/p); the embedding joins the first
    stage and the head the last (the original shifted every boundary by one: docs/phaze-original.md §8 B7).
    """
    if stages < 1 or stages > blocks:
        return Infeasible(f"pipeline degree p={stages} must be between 1 and the L={blocks} blocks")
    small, bigger = divmod(blocks, stages)
    sizes = [small + 1] * bigger + [small] * (stages - bigger)
    cuts = [0]
    for size in sizes:
        cuts.append(cuts[-1] + size)
    cuts = [0] + [c + 1 for c in cuts[1:-1]] + [blocks + 2]
    return tuple(cuts)


def evaluate_literature(chain: LayerChain, spec: PlacementSpec, data: int,
                        pipeline: int) -> Placement | Infeasible:
    """A fixed (d, p) strategy with the literature stage split; the chain must be [embed, L blocks, head]."""
    blocks = chain.n - 2
    if blocks < 1:
        return Infeasible(f"the chain has {chain.n} layers; the literature split needs embed, >= 1 block, head")
    cuts = literature_cuts(blocks, pipeline)
    if isinstance(cuts, Infeasible):
        return cuts
    return evaluate_placement(chain, spec, data, cuts)
