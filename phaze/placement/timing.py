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


def dp_ranks_per_node(data: Num, stages: Num, spec: PlacementSpec) -> Num:
    """The fewest ranks one data-parallel group has on any node it spans, over the groups of all S stages;
    0 when every group sits inside one node.

    Ranks are numbered tensor-parallel first, then data-parallel, then pipeline (Megatron-LM's
    initialize_model_parallel): stage k's group with tensor rank 0 is ranks k·d·t + i·t, i < d. When d·t is
    not a multiple or a divisor of the node size, some stages' groups straddle a node boundary with only a
    few ranks on one side (node 8, t = 1, d = 3: the third stage's group is ranks 6, 7 | 8). The first rank
    of stage k modulo the node size repeats with period at most node_size, so min(S, node_size) stages
    cover every case.
    """
    t, node = spec.tensor_width, spec.node_size
    d, s = np.broadcast_arrays(np.asarray(data, dtype=np.int64), np.asarray(stages, dtype=np.int64))
    span, none = t * d, np.iinfo(np.int64).max
    whole = node // t if node >= t else none  # ranks in a node the group covers entirely
    worst = np.full(d.shape, none)
    for k in range(min(int(s.max(initial=1)), node)):
        first_rank = k * span
        last_rank = first_rank + t * (d - 1)
        first, last = first_rank // node, last_rank // node
        head = (node * (first + 1) - first_rank + t - 1) // t  # ranks in the first node
        tail = (last_rank - node * last) // t + 1  # ranks in the last node
        fewest = np.minimum(np.minimum(head, tail), np.where(last - first >= 2, whole, none))
        worst = np.where((k < s) & (last > first), np.minimum(worst, fewest), worst)
    out = np.where(worst == none, 0, worst)
    return out if isinstance(data, np.ndarray) or isinstance(stages, np.ndarray) else int(out)  # type: ignore[return-value]


def dp_allreduce_bw(data: Num, spec: PlacementSpec, stages: Num = 1) -> Num:  # type: ignore[assignment]
    """Bandwidth of the data-parallel ring over `data` replicas, the slowest of the S stages' groups.

    A group inside one node runs on the intra-node link. A group spanning nodes crosses each node boundary on
    all the ranks it has in that node at once (NCCL runs one ring per inter-node link, each carrying its
    share), so its ring runs at min(k·dp_link, intra-node link) with k its fewest ranks on a node
    (`dp_ranks_per_node`; node-aligned groups have k = min(d, node_size // t)).
    """
    intra = spec.intra_node_bw_bytes_per_s
    k = dp_ranks_per_node(data, stages, spec)
    if isinstance(k, np.ndarray):
        return np.where(k == 0, intra, np.minimum(k * spec.dp_link_bw_bytes_per_s, intra))
    return intra if k == 0 else min(k * spec.dp_link_bw_bytes_per_s, intra)  # type: ignore[return-value]


def dp_allreduce_s(max_stage_params: Num, data: Num, spec: PlacementSpec, bw: Num | None = None,
                   stages: Num = 1) -> Num:  # type: ignore[assignment]
    """Data-parallel gradient all-reduce of the largest stage: `AR_d(max_k P_k)` (DESIGN §7), a ring at
    `dp_allreduce_bw` (pass `bw` when it is already known).

    All stages reduce concurrently on their own devices; the largest stage at the slowest group's bandwidth
    bounds the time (the original used the first stage only: docs/phaze-original.md §8 B13).
    """
    grad_bytes = max_stage_params * spec.grad_bytes_per_param
    ring = dp_allreduce_bw(data, spec, stages) if bw is None else bw
    return all_reduce_s(grad_bytes, data, ring, spec.dp_link_latency_s)


def optimizer_step_s(max_stage_params: Num, spec: PlacementSpec) -> Num:
    """Optimizer step, HBM-bound: `P·bytes_touched/hbm_bw` on the device holding most parameters."""
    return max_stage_params * spec.opt_bytes_touched_per_param / spec.hbm_bw_bytes_per_s


def pipeline_s(max_load_s: Num, fill_factor: Num) -> Num:
    """1F1B / GPipe-flush pipeline: `max_load·(ceil(m/d) + S − 1)`; `fill_factor` is that bracket."""
    return max_load_s * fill_factor


def iteration_s(max_load_s: Num, fill_factor: Num, max_stage_params: Num, data: Num,
                spec: PlacementSpec, bw: Num) -> Num:
    """TPB = `max_load·(ceil(m/d)+S−1) + AR_d(max P_k) + opt_step(max P_k)` (DESIGN §7).

    `fill_factor` = ceil(m/d) + S − 1 and `data` = d, both as float; `bw` = `dp_allreduce_bw(d, spec, S)`.
    """
    return (pipeline_s(max_load_s, fill_factor) + dp_allreduce_s(max_stage_params, data, spec, bw)) \
        + optimizer_step_s(max_stage_params, spec)
