"""Operator fusion over a whole layer graph (DESIGN §3).

Two rules, applied to a fixed point, as in PHAZE's TVM-style pass (docs/phaze-original.md §3.4) but
over the whole layer instead of per traced sub-graph, so results do not depend on layer boundaries:

1. epilogue: a GEMM whose only successor is an element-wise or norm vector op of the GEMM's output size
   absorbs it (bias, activation, dropout, residual add, norm);
2. chain: a vector op whose only successor is an element-wise vector op of the same size absorbs it.

Fusing is legal only if the absorbed op's other inputs are ready before the absorbing op starts, i.e.
their producers are ancestors of it; otherwise fusion would add a dependency (or a cycle).

That is the `fused` kernel profile (parallelism.kernels), what an accelerator compiler would do; the
`megatron_sc21` profile (megatron.py) instead merges only named groups (`fuse_groups`) and runs the
kernels in program order (`serialize`).
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx

from phaze.config.parallelism import KERNELS
from phaze.model.ops import LayerGraph, Op, OpKind

ELEMENTWISE = frozenset({"relu", "gelu", "tanh", "sin_cos", "sigmoid_silu", "add_sub_mul_neg", "div",
                         "pow_sqrt_exp", "dropout", "erf", "masked_fill"})
NORMS = frozenset({"layernorm", "rmsnorm"})

def _is_vector(op: Op, allowed: frozenset[str]) -> bool:
    return op.kind is OpKind.VECTOR and bool(op.vector_ops) and set(op.vector_ops) <= allowed


def out_numel(op: Op) -> int:
    """Elements an op writes: a GEMM's B·N·M outputs, a vector op's `numel`."""
    if op.kind is OpKind.GEMM:
        b, n, m, _ = op.gemm  # type: ignore[misc]
        return b * n * m
    return op.numel


def _absorb(host: Op, guest: Op) -> Op:
    """host followed by guest as one op: host's reads plus guest's extra inputs, guest's writes (and the
    host's dropout mask, which the backward still needs from memory). The kernel is attention-core only if
    both parts are: a mixed kernel streams ordinary tensors too, so it keeps the ordinary HBM rate, and it is
    not re-run by selective recomputation (`LayerKind.selective_ops`). No layer of phaze/conf/model fuses one."""
    internal = host.bytes_written - host.mask_bytes
    rows = [r for r in (host.row_elems, guest.row_elems) if r > 0]
    return replace(host, vector_ops=host.vector_ops + guest.vector_ops, numel=out_numel(host),
                   row_elems=min(rows, default=0),
                   bytes_read=host.bytes_read + max(guest.bytes_read - internal, 0),
                   bytes_written=guest.bytes_written + host.mask_bytes, mask_bytes=host.mask_bytes + guest.mask_bytes,
                   params=host.params + guest.params,
                   saves=host.saves + tuple(s for s in guest.saves if s not in host.saves),
                   attention_core=host.attention_core and guest.attention_core, name=f"{host.name}+{guest.name}")


def _candidate(g: nx.DiGraph, u: int) -> int | None:
    succs = list(g.successors(u))
    if len(succs) != 1:
        return None
    v = succs[0]
    host, guest = g.nodes[u]["op"], g.nodes[v]["op"]
    if host.kind is OpKind.GEMM:
        ok = _is_vector(guest, ELEMENTWISE | NORMS)
    elif host.kind is OpKind.VECTOR and host.vector_ops:
        ok = _is_vector(guest, ELEMENTWISE)
    else:
        ok = False
    if not ok or out_numel(host) != guest.numel:
        return None
    return v if _legal(g, u, v) else None


def _legal(g: nx.DiGraph, u: int, v: int) -> bool:
    """v may join u: v's other inputs come from ancestors of u (fusing adds no dependency)."""
    others = [p for p in g.predecessors(v) if p != u]
    return not others or set(others) <= nx.ancestors(g, u)


def _merge(g: nx.DiGraph, u: int, v: int) -> None:
    """Op v becomes part of op u (u's node keeps its index)."""
    g.nodes[u]["op"] = _absorb(g.nodes[u]["op"], g.nodes[v]["op"])
    for p in g.predecessors(v):
        if p != u:
            g.add_edge(p, u)
    for w in g.successors(v):
        g.add_edge(u, w)
    g.remove_node(v)


def _to_layer(layer: LayerGraph, g: nx.DiGraph) -> LayerGraph:
    order = sorted(g.nodes)  # original indices are already a topological order
    index = {n: i for i, n in enumerate(order)}
    edges = sorted((index[a], index[b]) for a, b in g.edges)
    return LayerGraph(layer.kind, layer.pass_, [g.nodes[n]["op"] for n in order], edges, layer.tensors,
                      layer.input_bytes, layer.output_bytes)


def fuse_groups(layer: LayerGraph, groups: tuple[tuple[str, ...], ...]) -> LayerGraph:
    """Merge each named group of ops (a chain: each op the only successor of the one before) into one
    kernel; groups whose ops are absent or not such a chain are merged as far as they are one."""
    g = layer.graph
    by_name = {g.nodes[n]["op"].name: n for n in g.nodes}
    for group in groups:
        u = by_name.get(group[0])
        for name in group[1:]:
            v = by_name.get(name)
            if u is None or v is None or list(g.successors(u)) != [v] or not _legal(g, u, v):
                break
            _merge(g, u, v)
    return _to_layer(layer, g)


def check_kernels(kernels: str) -> None:
    if kernels not in KERNELS:
        raise ValueError(f"kernels={kernels!r}: expected one of {', '.join(KERNELS)}")


def serialize(layer: LayerGraph) -> LayerGraph:
    """The same kernels in one stream: an edge from each op to the next in program (index) order."""
    edges = sorted(set(layer.edges) | {(i, i + 1) for i in range(len(layer.ops) - 1)})
    return LayerGraph(layer.kind, layer.pass_, layer.ops, edges, layer.tensors, layer.input_bytes,
                      layer.output_bytes)


def fuse(layer: LayerGraph) -> LayerGraph:
    """Return a new LayerGraph grouped into the `fused` profile's kernels: rules 1 and 2 applied until
    nothing changes."""
    g = layer.graph
    changed = True
    while changed:
        changed = False
        for u in list(nx.topological_sort(g)):
            if u not in g:
                continue
            v = _candidate(g, u)
            if v is None:
                continue
            _merge(g, u, v)
            changed = True
    return _to_layer(layer, g)
