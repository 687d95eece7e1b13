"""The time-per-batch formula of DESIGN §7, written once for scalars and numpy arrays alike.

The optimiser (vectorised over many (S, d) cells) and the evaluation of one placement call the SAME
functions with the same operation order, so both produce bit-identical floats: the optimum the dynamic
program reports is exactly the number `evaluate_placement` returns for its partition.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from phaze.cost.collectives import all_reduce_s
from phaze.placement.problem import PlacementSpec

Num = TypeVar("Num", float, np.ndarray)


def dp_allreduce_bw(data: Num, spec: PlacementSpec) -> Num:
    """Bandwidth of the data-parallel ring over `data` replicas.

    Ranks are numbered tensor-parallel first, then data-parallel, then pipeline (Megatron-LM's
    initialize_model_parallel), so one node of `node_size` devices holds k = min(d, max(1, node_size // t))
    ranks of a data-parallel group. A group inside one node (d·t <= node_size) runs on the intra-node link.
    A group spanning nodes crosses every node boundary on all k ranks' inter-node links at once (NCCL runs
    one ring per link, each carrying 1/k of the data), so its ring runs at min(k·dp_link, intra-node link).
    """
    intra = spec.intra_node_bw_bytes_per_s
    per_node = float(max(1, spec.node_size // spec.tensor_width))
    if isinstance(data, np.ndarray):
        across = np.minimum(np.minimum(data, per_node) * spec.dp_link_bw_bytes_per_s, intra)
        return np.where(data * spec.tensor_width <= spec.node_size, intra, across)
    if data * spec.tensor_width <= spec.node_size:
        return intra  # type: ignore[return-value]
    return min(min(data, per_node) * spec.dp_link_bw_bytes_per_s, intra)  # type: ignore[return-value]


def dp_allreduce_s(max_stage_params: Num, data: Num, spec: PlacementSpec) -> Num:
    """Data-parallel gradient all-reduce of the largest stage: `AR_d(max_k P_k)` (DESIGN §7), a ring at
    `dp_allreduce_bw`.

    All stages reduce concurrently on their own devices, so the largest stage sets the time; the original
    used the first stage only (reference/phaze-original.md §8 B13).
    """
    grad_bytes = max_stage_params * spec.grad_bytes_per_param
    return all_reduce_s(grad_bytes, data, dp_allreduce_bw(data, spec), spec.dp_link_latency_s)


def optimizer_step_s(max_stage_params: Num, spec: PlacementSpec) -> Num:
    """Optimizer step, HBM-bound: `P·bytes_touched/hbm_bw` on the device holding most parameters."""
    return max_stage_params * spec.opt_bytes_touched_per_param / spec.hbm_bw_bytes_per_s


def pipeline_s(max_load_s: Num, fill_factor: Num) -> Num:
    """1F1B / GPipe-flush pipeline: `max_load·(ceil(m/d) + S − 1)`; `fill_factor` is that bracket."""
    return max_load_s * fill_factor


def iteration_s(max_load_s: Num, fill_factor: Num, max_stage_params: Num, data: Num,
                spec: PlacementSpec) -> Num:
    """TPB = `max_load·(ceil(m/d)+S−1) + AR_d(max P_k) + opt_step(max P_k)` (DESIGN §7).

    `fill_factor` = ceil(m/d) + S − 1 and `data` = d, both as float.
    """
    return (pipeline_s(max_load_s, fill_factor) + dp_allreduce_s(max_stage_params, data, spec)) \
        + optimizer_step_s(max_stage_params, spec)
