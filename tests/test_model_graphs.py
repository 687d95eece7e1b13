"""Structure of the layer graphs: Megatron collectives, derived backward, fusion legality."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import pytest
from conftest import model_cfg

from phaze.model import Collective, LayerGraph, Op, OpKind, Pass, build_model
from phaze.model.fusion import fuse


def collectives(graph: LayerGraph) -> Counter:
    return Counter(op.collective for op in graph.ops if op.kind is OpKind.COLLECTIVE)


def test_tensor_parallel_block_has_two_all_reduces_each_way() -> None:
    block = build_model(model_cfg("gpt3_175b"), 2, 8).layers["block"]
    for graph in (block.fwd, block.bwd):
        assert collectives(graph) == Counter({Collective.ALL_REDUCE: 2})
        for op in graph.ops:
            if op.kind is OpKind.COLLECTIVE:
                assert op.comm_bytes == 2 * 2048 * 12288 * 2 and op.group == 8  # b·s·h fp16 elements


def test_sequence_parallel_swaps_all_reduce_for_scatter_and_gather() -> None:
    block = build_model(model_cfg("gpt3_175b"), 1, 8, sequence_parallel=True).layers["block"]
    assert collectives(block.fwd) == Counter({Collective.ALL_GATHER: 2, Collective.REDUCE_SCATTER: 2})
    # backward: the duals, plus a re-gather of each sharded GEMM input for the weight gradient
    assert collectives(block.bwd) == Counter({Collective.ALL_GATHER: 4, Collective.REDUCE_SCATTER: 2})


def test_no_collectives_without_tensor_parallelism() -> None:
    for layer in build_model(model_cfg("llama2_7b"), 1, 1).layers.values():
        assert not collectives(layer.fwd) and not collectives(layer.bwd)


@pytest.mark.parametrize("name", ["gpt3_175b", "llama2_70b", "opt350m", "bert_large"])
@pytest.mark.parametrize("t", [1, 4])
def test_graphs_are_dags_in_topological_order(name: str, t: int) -> None:
    for layer in build_model(model_cfg(name), 1, t).layers.values():
        for graph in (layer.fwd, layer.bwd, layer.fwd_unfused, layer.bwd_unfused):
            assert all(i < j for i, j in graph.edges)
            assert nx.is_directed_acyclic_graph(graph.graph)
            assert all(op.pass_ is graph.pass_ for op in graph.ops)


def test_block_fusion_matches_the_hand_derived_fused_graph() -> None:
    block = build_model(model_cfg("gpt3_175b"), 1, 1).layers["block"]
    assert [op.name for op in block.fwd.ops] == [
        "ln1", "qkv+qkv.bias", "scores+scale_mask", "softmax+attn_dropout", "context",
        "out_proj+attn.bias+attn.dropout+attn.residual", "ln2", "fc1+fc1.bias+gelu",
        "fc2+mlp.bias+mlp.dropout+mlp.residual"]
    fc1 = block.fwd.ops[7]
    assert fc1.vector_ops == ("add_sub_mul_neg", "gelu") and fc1.numel == 2048 * 49152
    assert fc1.uses_tc and fc1.uses_vc


def _op(name: str, kind: OpKind, numel: int = 8, gemm: tuple[int, int, int, int] | None = None,
        vector_ops: tuple[str, ...] = ()) -> Op:
    return Op(name, kind, Pass.FWD, gemm=gemm, numel=numel, vector_ops=vector_ops, bytes_written=numel * 2)


def test_fusion_refuses_an_epilogue_whose_other_input_is_not_ready() -> None:
    # a: GEMM -> c (add) <- b (vector, parallel to a): b is no ancestor of a, so c may not join a's epilogue
    ops = [_op("a", OpKind.GEMM, gemm=(1, 2, 4, 3)), _op("b", OpKind.VECTOR, vector_ops=("relu",)),
           _op("c", OpKind.VECTOR, vector_ops=("add_sub_mul_neg",))]
    fused = fuse(LayerGraph("block", Pass.FWD, ops, [(0, 2), (1, 2)]))
    assert [op.name for op in fused.ops] == ["a", "b", "c"] and fused.edges == [(0, 2), (1, 2)]


def test_fusion_absorbs_a_residual_add_whose_other_input_is_an_ancestor() -> None:
    # b -> a (GEMM) -> c (add) and b -> c: b is ready before a starts, so c becomes a's epilogue
    ops = [_op("b", OpKind.VECTOR, vector_ops=("relu",)), _op("a", OpKind.GEMM, gemm=(1, 2, 4, 3)),
           _op("c", OpKind.VECTOR, vector_ops=("add_sub_mul_neg",))]
    fused = fuse(LayerGraph("block", Pass.FWD, ops, [(0, 1), (1, 2), (0, 2)]))
    assert [op.name for op in fused.ops] == ["b", "a+c"] and fused.edges == [(0, 1)]
    assert fused.ops[1].vector_ops == ("add_sub_mul_neg",) and fused.ops[1].numel == 8


def test_fusion_needs_a_single_consumer_and_equal_sizes() -> None:
    gemm = _op("g", OpKind.GEMM, gemm=(1, 2, 4, 3))
    two_consumers = [gemm, _op("r", OpKind.VECTOR, vector_ops=("relu",)), _op("s", OpKind.VECTOR, vector_ops=("relu",))]
    assert len(fuse(LayerGraph("block", Pass.FWD, two_consumers, [(0, 1), (0, 2)])).ops) == 3
    reduction = [gemm, _op("sm", OpKind.VECTOR, vector_ops=("softmax",))]
    assert len(fuse(LayerGraph("block", Pass.FWD, reduction, [(0, 1)])).ops) == 2
    resized = [gemm, _op("r", OpKind.VECTOR, numel=16, vector_ops=("relu",))]
    assert len(fuse(LayerGraph("block", Pass.FWD, resized, [(0, 1)])).ops) == 2
