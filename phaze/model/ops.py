"""Operator and layer-graph types shared by every pipeline stage.

A layer kind (embed, block, head) is a DAG of `Op`s. The types here are plain data: the model builder
fills them from hyper-parameters, the cost model prices them on arrays of accelerators, the scheduler
orders them. Sizes are in elements or bytes, never in "words", so that no stage has to guess a unit
(the original mixed them: docs/phaze-original.md §8 B18).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import networkx as nx


class OpKind(StrEnum):
    """What engine an op occupies: GEMMs a tensor core (plus a vector core when an epilogue is fused),
    vector ops a vector core, collectives the link, nops nothing (zero duration)."""

    GEMM = "gemm"
    VECTOR = "vector"
    COLLECTIVE = "collective"
    NOP = "nop"


class Pass(StrEnum):
    FWD = "fwd"
    BWD = "bwd"


class Collective(StrEnum):
    ALL_REDUCE = "all_reduce"
    REDUCE_SCATTER = "reduce_scatter"
    ALL_GATHER = "all_gather"


@dataclass(frozen=True)
class Op:
    """One operator of a layer graph.

    gemm: (B, N, M, C) = B independent `N x C @ C x M` products; MACs = B·N·M·C (DESIGN §3).
    vector_ops: vector-op keys priced per element (phaze.cost.tables: phaze/data/vector_compositions.csv, or the
        original's phaze/data/vector_cycles.csv) applied to `numel`
        elements; for a VECTOR op the fused chain, for a GEMM its fused epilogue (empty if none).
    pass_: which column of the cycle table prices `vector_ops` (fwd or bwd).
    row_elems: elements per row of the op's row reductions (a norm's hidden size, softmax's key length, the
        cross-entropy's vocabulary columns per rank): the vector-cost model amortises per-row work (rsqrt,
        reciprocal) over it; 0 for element-wise ops, and where no row is known per-row work is charged per element.
    bytes_read / bytes_written: off-chip traffic if the op ran alone (inputs, weights, outputs).
    mask_bytes: the part of bytes_written that is a dropout mask kept for the backward: it leaves the chip
        even when the op is fused into a kernel with its consumer (fusion.py).
    params: trainable parameters the op owns (forward ops only; backward ops carry 0).
    collective / comm_bytes / group: a tensor-parallel collective of `comm_bytes` over `group` ranks.
    saves: names of the tensors this op keeps for its backward (keys of LayerGraph.tensors).
    attention_core: the op streams the b·a·s² attention-score tensor (the QKᵀ and PV batched GEMMs, the
        scale/mask/softmax and attention-dropout kernels, and their backward): the cost model prices its
        HBM traffic at the chip's attention-core bandwidth where the hardware config measures one
        (`hw.attention_core_hbm_fraction`).
    """

    name: str
    kind: OpKind
    pass_: Pass = Pass.FWD
    gemm: tuple[int, int, int, int] | None = None
    weight_gemm: bool = False
    vector_ops: tuple[str, ...] = ()
    numel: int = 0
    row_elems: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    mask_bytes: int = 0
    params: int = 0
    collective: Collective | None = None
    comm_bytes: int = 0
    group: int = 1
    saves: tuple[str, ...] = ()
    attention_core: bool = False

    @property
    def macs(self) -> int:
        if self.gemm is None:
            return 0
        b, n, m, c = self.gemm
        return b * n * m * c

    @property
    def uses_tc(self) -> bool:
        return self.kind is OpKind.GEMM

    @property
    def uses_vc(self) -> bool:
        """A vector op, or a GEMM with a fused element-wise epilogue (DESIGN §3 fusion)."""
        return self.kind is OpKind.VECTOR or (self.kind is OpKind.GEMM and bool(self.vector_ops))

    @property
    def uses_link(self) -> bool:
        return self.kind is OpKind.COLLECTIVE


@dataclass(frozen=True)
class Tensor:
    """An activation tensor that some op may save for backward; `numel` is the per-rank count for the
    (micro-batch, tensor width, sequence-parallel) mode the graph was built in."""

    name: str
    numel: int
    bytes_per_elem: int
    selective: bool = False  # recomputed under selective recompute (Korthikanti et al. 2023 §4)

    @property
    def bytes(self) -> int:
        return self.numel * self.bytes_per_elem


@dataclass
class LayerGraph:
    """A layer kind's op DAG for one pass, in a fixed topological order.

    `ops[i]` and `edges` (index pairs i -> j, i before j) are the array form the cost model and the
    scheduler use; `graph` is the same DAG as networkx for inspection and fusion.
    """

    kind: str  # "embed" | "block" | "head"
    pass_: Pass
    ops: list[Op]
    edges: list[tuple[int, int]]
    tensors: dict[str, Tensor] = field(default_factory=dict)
    input_bytes: int = 0  # bytes of the layer's input activation (what full recompute keeps)
    output_bytes: int = 0  # bytes of the layer's output activation (the pipeline p2p payload)

    @property
    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        for i, op in enumerate(self.ops):
            g.add_node(i, op=op)
        g.add_edges_from(self.edges)
        return g

    @property
    def params(self) -> int:
        return sum(op.params for op in self.ops)

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    def predecessors(self) -> list[list[int]]:
        preds: list[list[int]] = [[] for _ in self.ops]
        for i, j in self.edges:
            preds[j].append(i)
        return preds
