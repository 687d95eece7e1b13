"""Tensor parallelism in an imported ONNX graph: where it matches Megatron-LM's pattern (Shoeybi et al. 2019).

The one pattern recognised, over the Steps of onnx_import.py:

* block: weight GEMMs reading one tensor X are column-parallel (QKV, or Q, K and V; FC1, or gate and up);
  every op their outputs reach must act per head or per feature (element-wise, Softmax, the QKᵀ and PV
  GEMMs, views), until exactly one weight GEMM closes the region, row-parallel (out-projection; FC2/down).
  No region may leak a tensor, hold a norm or a reduction, and every weight GEMM of the block must be in a
  region. f (identity forward, all-reduce backward) enters each region, g (all-reduce) follows each row GEMM;
* embed: the token-table lookup is vocab-parallel, followed by g;
* head: the GEMM onto the vocabulary is vocab-parallel after f, element-wise ops on the logits and the loss
  are sharded, and the loss all-reduces its three statistics (layers.CE_ALL_REDUCES).

The widths it shards by (heads: the QKᵀ batch; kv_heads: the smallest head count the column outputs are
viewed as; ffn: the MLP's column width) become the model's fields, so `width_divides` checks t as for a YAML
model. A graph that does not match anywhere keeps tensor width 1 (model.tensor_parallel=false).
Sequence parallelism is not derived (parallelism.sequence_parallel must be false for model=onnx).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from phaze.model.onnx_steps import ImportedLayer, Step

TP_ELEMENTWISE = frozenset({"relu", "gelu", "tanh", "sigmoid_silu", "add_sub_mul_neg", "div", "pow_sqrt_exp", "erf",
                            "masked_fill", "dropout"})  # per element: shardable along any axis


def _shardable(st: Step) -> bool:
    """Per head or per feature: a view, a GEMM, an element-wise op, a copy, or a softmax over the attention
    scores (over the keys, while the shards split the heads)."""
    if st.kind in ("view", "gemm"):
        return True
    if st.cycles == ("softmax",):
        return st.core
    return set(st.cycles) <= TP_ELEMENTWISE


def _readers(steps: list[Step]) -> dict[str, list[int]]:
    readers: dict[str, list[int]] = {}
    for i, s in enumerate(steps):
        for t in s.inputs:
            readers.setdefault(t, []).append(i)
    return readers


def _block_regions(steps: list[Step]) -> list[tuple[str, list[int], set[int], int]] | None:
    """Megatron's pattern in one block: weight GEMMs reading one tensor X (column-parallel), every op their
    outputs reach element-wise or per head (including the QKᵀ and PV GEMMs), closing on exactly one weight GEMM
    (row-parallel); every weight GEMM of the block in such a region. None when the block does not match."""
    readers = _readers(steps)
    groups: dict[str, list[int]] = {}
    for i, st in enumerate(steps):
        if st.kind == "gemm" and st.weight:
            groups.setdefault(st.inputs[0], []).append(i)
    assigned: set[int] = set()
    regions = []
    for x, cols in groups.items():
        if any(c in assigned for c in cols):
            continue
        region: set[int] = set()
        rows: set[int] = set()
        inside = {steps[c].name for c in cols}
        queue = list(inside)
        while queue:
            for j in readers.get(queue.pop(), []):
                st = steps[j]
                if j in cols or j in region or j in rows:
                    continue
                if st.kind == "gemm" and st.weight:
                    rows.add(j)
                    continue
                region.add(j)
                inside.add(st.name)
                queue.append(st.name)
        if len(rows) != 1:
            return None
        row = next(iter(rows))
        closed = all(t in inside for j in region for t in steps[j].inputs) and steps[row].inputs[0] in inside
        contained = all(k in region or k == row for j in region | set(cols) for k in readers.get(steps[j].name, []))
        per_head = all(_shardable(steps[j]) for j in region)
        if not (closed and contained and per_head):
            return None
        regions.append((x, cols, region, row))
        assigned.update(cols, region, {row})
    if any(st.kind == "gemm" and st.weight and i not in assigned for i, st in enumerate(steps)):
        return None
    return regions


def _mark_block(steps: list[Step], regions: list[tuple[str, list[int], set[int], int]]) -> list[Step]:
    """The block's steps with their roles, an f (`enter`) before each column group and a g (`leave`) after each
    row-parallel GEMM, whose readers now read the g output."""
    roles = {}
    enter_before: dict[int, tuple[str, str]] = {}
    leave_after: dict[int, str] = {}
    renamed: dict[str, str] = {}
    for x, cols, region, row in regions:
        f = f"{x}.tp_f"
        for c in cols:
            roles[c] = "col"
        for j in region:
            roles[j] = "shard"
        roles[row] = "row"
        enter_before[min(cols)] = (f, x)
        leave_after[row] = f"{steps[row].name}.tp_g"
        renamed[steps[row].name] = leave_after[row]
    out: list[Step] = []
    col_input = {c: f"{x}.tp_f" for x, cols, _, _ in regions for c in cols}
    for i, st in enumerate(steps):
        if i in enter_before:
            f, x = enter_before[i]
            out.append(Step("enter", f, (x,), tp="enter"))
        inputs = (col_input[i],) if i in col_input else tuple(renamed.get(t, t) for t in st.inputs)
        saves = st.saves if i in col_input else tuple(renamed.get(t, t) for t in st.saves)
        out.append(replace(st, inputs=inputs, saves=saves, tp=roles.get(i, "")))
        if i in leave_after:
            out.append(Step("leave", leave_after[i], (st.name,), tp="leave"))
    return out


def _mark_embed(steps: list[Step], ids: str) -> list[Step] | None:
    """The vocab-parallel embedding: the table lookup of the token ids, then g (an all-reduce)."""
    i = next((i for i, st in enumerate(steps) if st.kind == "vector" and st.inputs == (ids,) and st.params), None)
    if i is None:
        return None
    g = f"{steps[i].name}.tp_g"
    rest = [replace(st, inputs=tuple(g if t == steps[i].name else t for t in st.inputs)) for st in steps[i + 1:]]
    return [*steps[:i], replace(steps[i], tp="vocab"), Step("leave", g, (steps[i].name,), tp="leave"), *rest]


def _mark_head(steps: list[Step], vocab: int) -> list[Step] | None:
    """The vocab-parallel LM head: f, the GEMM onto the vocabulary, element-wise ops on the logits, the loss."""
    i = next((i for i in range(len(steps) - 1, -1, -1) if steps[i].kind == "gemm" and steps[i].weight
              and steps[i].dims[2] == vocab), None)
    if i is None or steps[-1].kind != "loss":
        return None
    between = steps[i + 1:-1]
    if any(st.kind != "view" and not set(st.cycles) <= TP_ELEMENTWISE for st in between):
        return None
    f = f"{steps[i].inputs[0]}.tp_f"
    head = replace(steps[i], inputs=(f,), tp="vocab")
    return [*steps[:i], Step("enter", f, (steps[i].inputs[0],), tp="enter"), head,
            *(replace(st, tp="vocab") for st in between), replace(steps[-1], tp="vocab")]


def tensor_parallel(layers: dict[str, ImportedLayer], views: dict[str, list[list[int]]], seq_len: int,
                     vocab: int) -> dict[str, int] | None:
    """Mark the Megatron pattern in place (embed, every block, head); the heads/kv_heads/ffn it shards by, or
    None (the layers unchanged) when any part does not match."""
    regions = _block_regions(layers["block"].steps)
    embed = _mark_embed(layers["embed"].steps, layers["embed"].input)
    head = _mark_head(layers["head"].steps, vocab)
    if regions is None or embed is None or head is None or not regions:
        return None
    block = layers["block"].steps
    heads = [block[j].dims[0] for _, _, region, _ in regions for j in region
             if block[j].kind == "gemm" and not block[j].weight]
    counts = [shape[2] for _, cols, region, _ in regions for j in [*cols, *region]
              for shape in views.get(block[j].name, []) if len(shape) == 4 and shape[1] == seq_len]
    widths = [block[c].dims[2] for _, cols, region, _ in regions for c in cols
              if not any(block[j].kind == "gemm" for j in region)]
    all_widths = [block[c].dims[2] for _, cols, _, _ in regions for c in cols]
    layers["embed"].steps, layers["head"].steps = embed, head
    layers["block"].steps = _mark_block(block, regions)
    ffn = int(np.gcd.reduce(widths or all_widths))
    if not heads:  # no attention: every column width must split (heads and kv_heads stand for them)
        return {"heads": ffn, "kv_heads": ffn, "ffn": ffn}
    return {"heads": heads[0], "kv_heads": min(counts, default=heads[0]), "ffn": ffn}
