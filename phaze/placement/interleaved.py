"""Megatron-LM's interleaved 1F1B schedule: v model chunks per device (Narayanan et al. SC21 §2.2.2).

The chain [embed, L blocks, head] is cut into S·v chunks, chunk c on device c mod S (`chunks.py`: the
layout and its memory). Why it is faster: a micro-batch now crosses the pipeline v times in pieces 1/v as
long, so the bubble shrinks from (S − 1) to (S − 1)/v stage loads, at v times the pipeline sends:

    TPB = max_j load_j · (m/d + (S − 1)/v) + AR_d(max_j P_j) + opt_step(max_j P_j)

where load_j sums device j's chunks' stage loads (each chunk pays its own boundary sends). Megatron-LM runs
it only when every replica gets the same m/d micro-batches and that is a multiple of S
(`get_forward_backward_func`), and we require the same. Two departures, both generalisations: Megatron-LM
needs L divisible by S·v (here the remainder goes to the first chunks, as the 1F1B literature rule does), and
its 2021 code needed S > 2 (current Megatron-core allows S = 2 with overlapped p2p; so does phaze).
"""

from __future__ import annotations

import numpy as np

from phaze.placement.chunks import Layout, layout, layout_memory
from phaze.placement.problem import LayerChain, PlacementSpec
from phaze.placement.result import Infeasible, Placement
from phaze.placement.timing import dp_allreduce_bw, dp_allreduce_s, iteration_s, optimizer_step_s, pipeline_s


def price(spec: PlacementSpec, lay: Layout, data: int, memory: tuple[float, ...] | None = None,
          ring: float | None = None) -> Placement | Infeasible:
    """TPB and memory of `data` replicas of the interleaved pipeline `lay` (`memory`, `ring`: its
    `layout_memory` and data-parallel ring bandwidth, when the caller has them)."""
    if isinstance(data, bool) or not isinstance(data, int) or data < 1:
        return Infeasible(f"data-parallel degree d={data!r} must be a positive integer")
    m, t, s, v = spec.microbatches, spec.tensor_width, lay.stages, lay.chunks
    if data > m:
        return Infeasible(f"data-parallel degree d={data} exceeds the m={m} micro-batches per batch")
    if data * s * t > spec.devices:
        return Infeasible(f"d·S·t = {data}·{s}·{t} = {data * s * t} devices exceeds the N={spec.devices} available")
    per_replica = spec.microbatches_per_replica(data)
    if m % data or per_replica % s:
        return Infeasible(f"the interleaved schedule needs m/d micro-batches per replica (m={m}, d={data}) to be "
                          f"a whole multiple of p={s}")
    if memory is None:
        memory = layout_memory(spec, lay, per_replica)
    over = [(mem - spec.hbm_bytes, j) for j, mem in enumerate(memory) if mem > spec.hbm_bytes]
    if over:
        excess, j = max(over)
        return Infeasible(f"device {j + 1} of {s} ({v} chunks) needs {memory[j]:.6g} bytes, {excess:.6g} over "
                          f"hbm_bytes={spec.hbm_bytes:.6g} ({len(over)} device(s) over)")
    max_load, max_params = max(lay.loads), max(lay.params)
    fill = float(per_replica) + (s - 1) / v
    if ring is None:
        ring = dp_allreduce_bw(float(data), spec, s)
    tpb = iteration_s(max_load, fill, max_params, float(data), spec, ring)
    return Placement(
        data=data, pipeline=s, tensor=t, cuts=lay.cuts, microbatches_per_replica=per_replica,
        iteration_s=tpb, max_load_s=max_load, pipeline_s=pipeline_s(max_load, fill),
        allreduce_s=dp_allreduce_s(max_params, float(data), spec, ring),
        optimizer_s=optimizer_step_s(max_params, spec),
        stage_load_s=lay.loads, stage_params=lay.params, stage_memory_bytes=memory,
        throughput_samples_s=spec.global_batch / tpb if tpb > 0 else float("inf"), chunks=v)


def evaluate_interleaved(chain: LayerChain, spec: PlacementSpec, data: int, pipeline: int,
                         chunks: int) -> Placement | Infeasible:
    """A given (d, p) run with the interleaved schedule of `chunks` chunks per device."""
    lay = layout(chain, pipeline, chunks)
    return lay if isinstance(lay, Infeasible) else price(spec, lay, int(data))


def best_interleaved(chain: LayerChain, spec: PlacementSpec, chunks: int) -> Placement | Infeasible:
    """The fastest (S, d) with the interleaved schedule (ties: fewer stages, then smaller d).

    Every admissible cell is timed; memory, the only costly part, is checked only for a cell that would beat
    the incumbent. The returned placement is `price` of that cell, the same number `evaluate_interleaved`
    gives for it.
    """
    blocks, per_stage, m = chain.n - 2, spec.devices // spec.tensor_width, spec.microbatches
    best: Placement | None = None
    first_reason: str | None = None
    least: tuple[float, int, int] | None = None  # (largest device memory, S, d) of the leanest cell priced
    for s in range(2, min(blocks // chunks, per_stage) + 1):
        lay = layout(chain, s, chunks)
        if isinstance(lay, Infeasible):
            continue
        max_load, max_params = max(lay.loads), max(lay.params)
        memory: dict[int, tuple[float, ...]] = {}  # per micro-batches per replica: it alone sets the memory
        d_max = min(per_stage // s, m)
        rings = dp_allreduce_bw(np.arange(1, d_max + 1, dtype=np.float64), spec, s).tolist()
        for d in range(1, d_max + 1):
            q = spec.microbatches_per_replica(d)
            if m % d or q % s:
                continue
            ring = rings[d - 1]
            tpb = iteration_s(max_load, float(q) + (s - 1) / chunks, max_params, float(d), spec, ring)
            if best is not None and not tpb < best.iteration_s:
                continue
            if q not in memory:
                memory[q] = layout_memory(spec, lay, q)
            placed = price(spec, lay, d, memory[q], ring)
            if isinstance(placed, Placement):
                best = placed
                continue
            first_reason = first_reason or placed.reason
            if least is None or max(memory[q]) < least[0]:
                least = (max(memory[q]), s, d)
    if best is not None:
        return best
    if least is not None and least[0] > spec.hbm_bytes:
        return Infeasible(f"no interleaved placement fits: the leanest (p={least[1]}, d={least[2]}, {chunks} chunks) "
                          f"needs {least[0]:.6g} bytes per device, over hbm_bytes={spec.hbm_bytes:.6g}")
    return Infeasible(first_reason or f"no (p, d) with 2 <= p, p·v <= L={blocks} (v={chunks}), d·p·t <= "
                      f"N={spec.devices} and m/d a whole multiple of p (m={m}, t={spec.tensor_width})")
