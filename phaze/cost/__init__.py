"""Per-operator latency on arrays of accelerators: GEMMs on systolic arrays, vector ops, collectives
(DESIGN §5)."""

from phaze.cost.collectives import (
    all_gather_s,
    all_reduce_s,
    collective_s,
    p2p_s,
    pipeline_send_s,
    reduce_scatter_s,
    tp_link_bw,
)
from phaze.cost.price import Priced, price_detail, price_graph, price_ops
from phaze.cost.tables import UnknownVectorOpError, cycles_per_element

__all__ = [
    "Priced",
    "UnknownVectorOpError",
    "all_gather_s",
    "all_reduce_s",
    "collective_s",
    "cycles_per_element",
    "p2p_s",
    "pipeline_send_s",
    "price_detail",
    "price_graph",
    "price_ops",
    "reduce_scatter_s",
    "tp_link_bw",
]
