"""Parameter counts and GEMM work against published numbers (tests/data/*.csv) and DESIGN §3 formulas."""

from __future__ import annotations

import pytest
from conftest import model_cfg, read_csv

from phaze.model import build_model
from phaze.model.summary import model_summary

MODELS = read_csv("models.csv")
ALL_MODELS = [row["name"] for row in MODELS] + ["megatron_bert_large", "megatron_gpt2_xl", "megatron_gpt2_2b5",
                                                "megatron_gpt2_8b3"]


@pytest.mark.parametrize("row", MODELS, ids=[r["name"] for r in MODELS])
def test_published_parameter_counts(row: dict[str, str]) -> None:
    summary = model_summary(build_model(model_cfg(row["name"]), microbatch=1))
    assert summary["params_total"] == int(row["params_total"])
    assert summary["params_per_block"] == int(row["params_per_block"])


@pytest.mark.parametrize("row", read_csv("megatron_params.csv"), ids=lambda r: r["name"])
def test_megatron_parameter_counts_ignore_vocab_padding(row: dict[str, str]) -> None:
    graphs = build_model(model_cfg(row["name"]), microbatch=1)
    assert model_summary(graphs)["params_total"] == int(row["params_total"])
    # the graph itself carries the padded vocabulary: 50257 -> 50304 rows (a multiple of 128)
    width = graphs.cfg.hidden
    assert graphs.total("params") - int(row["params_total"]) == (50304 - 50257) * width


def test_gpt3_block_forward_macs() -> None:
    block = build_model(model_cfg("gpt3_175b"), microbatch=1).layers["block"]
    assert block.fwd_macs == 3_813_930_958_848


def test_llama2_7b_block_forward_macs() -> None:
    block = build_model(model_cfg("llama2_7b"), microbatch=1).layers["block"]
    assert block.fwd_macs == 966_367_641_600


@pytest.mark.parametrize("name", ALL_MODELS)
def test_backward_gemm_work_is_twice_forward(name: str) -> None:
    cfg = model_cfg(name)
    for t in (1, 5) if cfg.heads % 2 else (1, 2):
        graphs = build_model(cfg, microbatch=2, tensor_width=t)
        for kind, layer in graphs.layers.items():
            assert layer.bwd_macs == 2 * layer.fwd_macs, (name, t, kind)
            assert layer.bwd.macs == layer.bwd_unfused.macs == layer.bwd_macs  # fusion keeps the work


@pytest.mark.parametrize(("t", "expected"), [(4, 453_080_064), (8, 226_576_896)])
def test_gpt3_params_per_rank(t: int, expected: int) -> None:
    assert build_model(model_cfg("gpt3_175b"), 1, t).layers["block"].params == expected


def test_gpt3_training_flops_match_kaplan() -> None:
    summary = model_summary(build_model(model_cfg("gpt3_175b"), 1))
    kaplan = 6 * 174_604_259_328 + 12 * 96 * 2048 * 12288
    assert summary["flops_train_per_token_kaplan"] == kaplan
    assert abs(summary["flops_train_per_token"] / kaplan - 1) < 0.02


@pytest.mark.parametrize("name", ["gpt3_175b", "llama2_70b", "opt350m", "bert_large"])
def test_microbatch_scales_every_op(name: str) -> None:
    one, four = (build_model(model_cfg(name), b, 1) for b in (1, 4))
    for kind in one.layers:
        a, b = one.layers[kind], four.layers[kind]
        assert b.fwd_macs == 4 * a.fwd_macs and b.bwd_macs == 4 * a.bwd_macs
        for op_a, op_b in zip(a.fwd_unfused.ops, b.fwd_unfused.ops, strict=True):
            assert op_b.numel == 4 * op_a.numel and op_b.comm_bytes == 4 * op_a.comm_bytes
        for mode in ("none", "selective", "full"):
            assert b.activation_bytes(mode) == 4 * a.activation_bytes(mode)


def test_llama2_70b_grouped_query_attention_shapes() -> None:
    block = build_model(model_cfg("llama2_70b"), 1, 8).layers["block"]
    qkv = next(op for op in block.fwd_unfused.ops if op.name == "qkv")
    # per rank: 64/8 query heads and 8/8 kv heads of 128 -> (1024 + 2·128) columns
    assert qkv.gemm == (1, 4096, 1024 + 2 * 128, 8192)
    scores = next(op for op in block.fwd_unfused.ops if op.name == "scores")
    assert scores.gemm == (8, 4096, 4096, 128)
