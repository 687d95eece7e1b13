"""Collective and point-to-point communication time (DESIGN §5).

Ring algorithms (Patarasuk & Yuan 2009; the NCCL ring): an all-reduce of `bytes` over g ranks moves
2·(g−1)/g·bytes per rank in 2·(g−1) steps; reduce-scatter and all-gather are each half of it.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from phaze.model.ops import Collective

Num = TypeVar("Num", float, np.ndarray)


def all_reduce_s(bytes_: Num, group: Num, bw_bytes_per_s: float, latency_s: float) -> Num:
    """Ring all-reduce: `2·(g−1)/g·bytes / bw + 2·(g−1)·latency`; exactly 0 for a group of one.

    Plain arithmetic, so scalars and numpy arrays (e.g. every data-parallel degree at once) give
    bit-identical values; pass `group` as a float to keep it that way.
    """
    return 2.0 * (group - 1.0) / group * bytes_ / bw_bytes_per_s + 2.0 * (group - 1.0) * latency_s


def reduce_scatter_s(bytes_: float, group: int, bw_bytes_per_s: float, latency_s: float) -> float:
    """Ring reduce-scatter of `bytes` (the full tensor): half an all-reduce."""
    return 0.5 * all_reduce_s(bytes_, group, bw_bytes_per_s, latency_s)


def all_gather_s(bytes_: float, group: int, bw_bytes_per_s: float, latency_s: float) -> float:
    """Ring all-gather of `bytes` (the full tensor): half an all-reduce."""
    return 0.5 * all_reduce_s(bytes_, group, bw_bytes_per_s, latency_s)


def p2p_s(bytes_: float, bw_bytes_per_s: float, latency_s: float) -> float:
    """Pipeline point-to-point send: `bytes / bw + latency`."""
    return bytes_ / bw_bytes_per_s + latency_s


def pipeline_send_s(bytes_: float, tensor_width: int, replicated: bool, *, node_size: int,
                    tp_link_bw_bytes_per_s: float, dp_link_bw_bytes_per_s: float, link_latency_s: float) -> float:
    """One stage-to-stage send of a tensor of `bytes` per rank, with Megatron-LM's scatter/gather
    (Narayanan et al. SC21 §4.1): when the t ranks of a tensor-parallel group all hold the same tensor, each
    sends a 1/t slice over its own inter-node link and the receiving group all-gathers the slices over the
    intra-node link, when that is faster than one plain send (it is not once the group spans nodes). A sharded
    tensor (sequence parallelism) or t = 1 is one plain p2p per rank."""
    plain = p2p_s(bytes_, dp_link_bw_bytes_per_s, link_latency_s)
    if tensor_width == 1 or not replicated:
        return plain
    gather_bw = tp_link_bw(tensor_width, node_size, tp_link_bw_bytes_per_s, dp_link_bw_bytes_per_s)
    scattered = p2p_s(bytes_ / tensor_width, dp_link_bw_bytes_per_s, link_latency_s) \
        + all_gather_s(bytes_, tensor_width, gather_bw, link_latency_s)
    return min(plain, scattered)


COLLECTIVE_S = {Collective.ALL_REDUCE: all_reduce_s, Collective.REDUCE_SCATTER: reduce_scatter_s,
                Collective.ALL_GATHER: all_gather_s}


def fits_node(group: int, node_size: int) -> bool:
    """A tensor-parallel group rides the intra-node link while it fits in a node, else the inter-node one."""
    return group <= node_size


def tp_link_bw(group: int, node_size: int, tp_link_bw_bytes_per_s: float, dp_link_bw_bytes_per_s: float) -> float:
    """The link a tensor-parallel group's collectives run on (`fits_node`)."""
    return tp_link_bw_bytes_per_s if fits_node(group, node_size) else dp_link_bw_bytes_per_s


def ring_bytes_per_rank(kind: Collective, bytes_: float, group: int) -> float:
    """Bytes each rank sends in a ring collective of `bytes` over `group` ranks: 2·(g−1)/g·bytes for an
    all-reduce, half of it for a reduce-scatter or all-gather (the module doc); 0 for a group of one."""
    g = float(group)
    share = 2.0 * (g - 1.0) / g if g > 1 else 0.0
    return share * bytes_ * (1.0 if Collective(kind) == Collective.ALL_REDUCE else 0.5)


def collective_s(kind: Collective, bytes_: float, group: int, *, node_size: int, tp_link_bw_bytes_per_s: float,
                 dp_link_bw_bytes_per_s: float, link_latency_s: float) -> float:
    """Time of one tensor-parallel collective of `bytes` over `group` ranks."""
    bw = tp_link_bw(group, node_size, tp_link_bw_bytes_per_s, dp_link_bw_bytes_per_s)
    return COLLECTIVE_S[Collective(kind)](bytes_, group, bw, link_latency_s)
