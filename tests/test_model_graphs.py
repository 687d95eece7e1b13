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


def test_megatron_sc21_kernels_of_a_gpt_block() -> None:
    # Narayanan et al. SC21 §4.2: Megatron-LM fuses bias + GeLU, bias + dropout + add and scale + mask +
    # softmax (forward and backward); everything else is its own kernel, including the QKV bias (F.linear on a
    # 3-D input adds it after the matmul), the context's permute back to [s, b, h], baddbmm's alpha applied to
    # the q and k gradients, and the torch.cat of the q/k/v gradients.
    megatron = build_model(model_cfg("gpt3_175b"), 1, 1, kernels="megatron_sc21").layers["block"]
    assert [op.name for op in megatron.fwd.ops] == [
        "ln1", "qkv", "qkv.bias", "scores", "scale_mask+softmax", "attn_dropout", "context", "context.permute",
        "out_proj", "attn.bias+attn.dropout+attn.residual", "ln2", "fc1", "fc1.bias+gelu", "fc2",
        "mlp.bias+mlp.dropout+mlp.residual"]
    assert [op.name for op in megatron.bwd.ops] == [
        "mlp.dropout.bwd", "mlp.bias.dbias", "fc2.dx", "fc2.dw", "fc2.dw_acc", "gelu.bwd", "fc1.bias.dbias",
        "fc1.dx", "fc1.dw", "fc1.dw_acc", "ln2.bwd", "attn.residual.grad_acc", "attn.dropout.bwd", "attn.bias.dbias",
        "out_proj.dx", "out_proj.dw", "out_proj.dw_acc", "context.da", "context.db", "attn_dropout.bwd",
        "softmax.bwd+scale_mask.bwd", "scores.da", "scores.da.alpha", "scores.db", "scores.db.alpha",
        "qkv.bias.grad_concat", "qkv.bias.dbias", "qkv.dx", "qkv.dw", "qkv.dw_acc", "ln1.bwd", "x.grad_acc"]
    ops = {op.name: op for op in megatron.fwd.ops}
    # bias + GeLU reads and writes the s x 4h activation once each: 2048·49152·2 bytes
    assert (ops["fc1.bias+gelu"].bytes_read, ops["fc1.bias+gelu"].bytes_written) == (201_326_592, 201_326_592)
    # scale + mask + softmax: the a x s x s scores once in, once out: 96·2048²·2 bytes
    assert (ops["scale_mask+softmax"].bytes_read, ops["scale_mask+softmax"].bytes_written) == (805_306_368,) * 2
    # dropout writes its 1-byte mask (Korthikanti et al. 2023 §4.1) and its backward reads dy + mask, not x:
    # attention dropout on 96·2048² = 402,653,184 elements: in 2 B, out 2 + 1 B; backward in 2 + 1 B, out 2 B
    bwd = {op.name: op for op in megatron.bwd.ops}
    assert (ops["attn_dropout"].bytes_read, ops["attn_dropout"].bytes_written) == (805_306_368, 1_207_959_552)
    assert (bwd["attn_dropout.bwd"].bytes_read, bwd["attn_dropout.bwd"].bytes_written) == (1_207_959_552, 805_306_368)
    # a backward reads dy and what its forward saved: softmax its output, scale + mask nothing, a norm its input
    assert (bwd["softmax.bwd+scale_mask.bwd"].bytes_read, bwd["softmax.bwd+scale_mask.bwd"].bytes_written) == (
        1_610_612_736, 805_306_368)
    # Apex's layer-norm backward reads dy and x twice (partial gamma/beta gradients, then dx): 4·2048·12288·2 B
    assert (bwd["ln1.bwd"].bytes_read, bwd["ln1.bwd"].bytes_written) == (201_326_592, 50_331_648)
    # the extra copies: the QKV bias over s x 3h, the permute over s x h, alpha on dq, the q/k/v concat
    assert (ops["qkv.bias"].bytes_read, ops["qkv.bias"].bytes_written) == (150_994_944,) * 2
    assert (ops["context.permute"].bytes_read, ops["context.permute"].bytes_written) == (50_331_648,) * 2
    assert (bwd["scores.da.alpha"].bytes_read, bwd["scores.da.alpha"].bytes_written) == (50_331_648,) * 2
    assert (bwd["qkv.bias.grad_concat"].bytes_read, bwd["qkv.bias.grad_concat"].bytes_written) == (150_994_944,) * 2
    # fused bias + dropout + add on 2048·12288 = 25,165,824 elements: x and the residual in (2 + 2 B), the sum
    # out (2 B) and the mask, which the backward needs, still written (1 B)
    assert (ops["attn.bias+attn.dropout+attn.residual"].bytes_read,
            ops["attn.bias+attn.dropout+attn.residual"].bytes_written) == (100_663_296, 75_497_472)
    # the weight gradient is accumulated across micro-batches by its own add (PyTorch AccumulateGrad /
    # Megatron-LM's `main_grad.add_` hook): fc1's 12288·49152 = 603,979,776 fp16 gradients, read twice, written once
    assert (bwd["fc1.dw_acc"].bytes_read, bwd["fc1.dw_acc"].bytes_written) == (2_415_919_104, 1_207_959_552)
    # PHAZE's fusion pass makes fewer, larger kernels of the same work
    fused = build_model(model_cfg("gpt3_175b"), 1, 1).layers["block"]
    # ... and folds the accumulation into the dW GEMM, which then reads the accumulator (a beta = 1 GEMM):
    # x (2048·12288) and dy (2048·49152) and the old gradient (603,979,776) in, the new gradient out, all fp16
    fused_dw = {op.name: op for op in fused.bwd.ops}["fc1.dw+fc1.dw_acc"]
    assert (fused_dw.bytes_read, fused_dw.bytes_written) == (1_459_617_792, 1_207_959_552)
    assert (len(fused.fwd.ops), len(fused.bwd.ops)) == (9, 20)
    for a, b in ((megatron.fwd, fused.fwd), (megatron.bwd, fused.bwd)):
        assert sum(op.macs for op in a.ops) == sum(op.macs for op in b.ops)
    assert megatron.fwd.params == fused.fwd.params
    # one CUDA stream: every kernel follows the one before it
    for graph in (megatron.fwd, megatron.bwd):
        assert set(zip(range(len(graph.ops) - 1), range(1, len(graph.ops)), strict=True)) <= set(graph.edges)


def test_megatron_sc21_cross_entropy_is_fp32_kernels_over_the_logits() -> None:
    # Megatron-LM takes the loss on logits.float(): cast, max, subtract, exp, sum, divide forward; multiply and
    # cast back in backward. gpt3_175b, b = 1, t = 1: N = 2048·50,257 = 102,926,336 logits
    head = build_model(model_cfg("gpt3_175b"), 1, 1, kernels="megatron_sc21").layers["head"]
    fwd = {op.name: op for op in head.fwd.ops}["cross_entropy"]
    bwd = {op.name: op for op in head.bwd.ops}["cross_entropy.bwd"]
    assert fwd.numel == 102_926_336
    assert (fwd.bytes_read, fwd.bytes_written) == (102_926_336 * (2 + 5 * 4), 102_926_336 * 4 * 4)
    assert (bwd.bytes_read, bwd.bytes_written) == (102_926_336 * 2 * 4, 102_926_336 * (4 + 2))
    # the compiler profile keeps one log-softmax pass: logits in, log-probabilities out
    fused = {op.name: op for op in build_model(model_cfg("gpt3_175b"), 1, 1).layers["head"].fwd.ops}
    assert (fused["cross_entropy"].bytes_read, fused["cross_entropy"].bytes_written) == (205_852_672, 205_852_672)


def test_megatron_sc21_layer_time_is_the_sum_of_its_kernels() -> None:
    # Serial kernels on a GPU: the schedule is proven optimal by greedy = bound and its makespan is the
    # sum of each kernel's best duration, collectives included (nothing overlaps them).
    from conftest import compose_cfg

    from phaze.cost import price_graph
    from phaze.hardware import Accelerators
    from phaze.schedule import build_problem, schedule_space
    from phaze.schedule.dag import best_durations

    acc = Accelerators.from_config(compose_cfg(["hw=a100"]).hw)
    block = build_model(model_cfg("gpt3_175b"), 1, 8, kernels="megatron_sc21").layers["block"]
    for graph in (block.fwd, block.bwd):
        single, intra = price_graph(graph, acc)
        problem = build_problem(graph, single, intra, acc.n_tc, acc.n_vc)
        space = schedule_space(problem)
        assert space.closed[0]
        assert space.greedy_ns[0] == best_durations(problem.single_ns, problem.intra_ns)[0].sum()
        assert sum(op.kind is OpKind.COLLECTIVE for op in graph.ops) == 2


def test_unknown_kernel_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="kernels='xla'"):
        build_model(model_cfg("gpt3_175b"), 1, 1, kernels="xla")
