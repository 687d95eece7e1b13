"""`model=onnx`: ONNX exports read into phaze's layer graphs match the analytic builder on the same network.

tests/data/onnx/tiny_{gpt2,llama}.onnx were written by torch.onnx.export (tools/export_onnx.py; the .json
beside each holds its generating config, torch's own parameter count and the builder fields describing the
same network). Other graphs here are built with onnx.helper in the layout torch writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import ROOT, run_cli
from onnx import TensorProto, helper, numpy_helper

from phaze.config.errors import ConfigError
from phaze.config.model import ModelConfig, validate
from phaze.model import RECOMPUTE_MODES, build_model
from phaze.model.onnx_import import import_onnx, onnx_model_fields
from phaze.model.summary import model_summary

ONNX_DIR = ROOT / "tests" / "data" / "onnx"
EXPORTS = ("tiny_gpt2", "tiny_llama")


def imported(path: Path, **overrides: object) -> ModelConfig:
    cfg = ModelConfig(name=path.stem, onnx_path=str(path), **{**onnx_model_fields(str(path)), **overrides})
    validate(cfg)
    return cfg


def meta(name: str) -> dict:
    return json.loads((ONNX_DIR / f"{name}.json").read_text())


def analytic(name: str) -> ModelConfig:
    cfg = ModelConfig(name=name, **meta(name)["phaze_model"])
    validate(cfg)
    return cfg


@pytest.mark.parametrize("name", EXPORTS)
def test_export_files_are_small_and_have_their_generating_config(name: str) -> None:
    assert (ONNX_DIR / f"{name}.onnx").stat().st_size < 2_000_000
    assert meta(name)["exporter"].startswith("torch.onnx.export") and meta(name)["config"]["name"] == name


def collectives(graphs, kind: str) -> list[tuple]:
    layer = graphs.layers[kind]
    return sorted((op.pass_, op.collective, op.comm_bytes, op.group) for g in (layer.fwd, layer.bwd) for op in g.ops
                  if op.collective)


@pytest.mark.parametrize("name", EXPORTS)
@pytest.mark.parametrize(("microbatch", "t"), [(1, 1), (3, 1), (2, 2)])
def test_export_matches_the_analytic_builder(name: str, microbatch: int, t: int) -> None:
    """Same parameters (= torch's count at t = 1), forward and backward MACs, saved bytes in every recompute mode
    and, at t = 2 (the Megatron pattern matched in the graph), the same tensor-parallel collectives."""
    ours_graphs = build_model(imported(ONNX_DIR / f"{name}.onnx"), microbatch, t)
    ref_graphs = build_model(analytic(name), microbatch, t)
    ours, ref = model_summary(ours_graphs), model_summary(ref_graphs)
    assert ours["params_total"] == ref["params_total"]
    if t == 1:
        assert ours["params_total"] == meta(name)["params"]
    assert ours["activation_bytes_per_microbatch"] == ref["activation_bytes_per_microbatch"]
    for kind in ("embed", "block", "head"):
        a, b = ours["layers"][kind], ref["layers"][kind]
        for key in ("count", "params", "fwd_macs", "bwd_macs", "activation_bytes"):
            assert a[key] == b[key], (kind, key)
        assert collectives(ours_graphs, kind) == collectives(ref_graphs, kind), kind
    assert ours["flops_train_per_token"] == ref["flops_train_per_token"]


@pytest.mark.parametrize("t", [1, 2])
def test_gpt2_export_has_the_builders_ops_one_for_one(t: int) -> None:
    ours = model_summary(build_model(imported(ONNX_DIR / "tiny_gpt2.onnx"), 2, t))
    ref = model_summary(build_model(analytic("tiny_gpt2"), 2, t))
    for kind in ("embed", "block", "head"):
        assert (ours["layers"][kind]["ops"], ours["layers"][kind]["ops_bwd"]) == \
            (ref["layers"][kind]["ops"], ref["layers"][kind]["ops_bwd"]), kind


def test_llama_export_differs_only_in_the_rotary_ops() -> None:
    """The builder prices RoPE as one op; the export writes it out (Mul, Slice, Neg, Concat, Mul, Add for q and
    for k): 14 more forward ops, none of them a GEMM or saving a tensor."""
    graphs = build_model(imported(ONNX_DIR / "tiny_llama.onnx"), 1)
    ref = build_model(analytic("tiny_llama"), 1)
    assert graphs.layers["block"].op_count() - ref.layers["block"].op_count() == 14
    ours_gemms = sorted(op.gemm for op in graphs.layers["block"].fwd_unfused.ops if op.gemm)
    assert len(ours_gemms) == 9  # q, k, v (separate in the export, one QKV GEMM in the builder), scores, context, ...


def test_detected_fields() -> None:
    gpt2 = onnx_model_fields(str(ONNX_DIR / "tiny_gpt2.onnx"))
    assert {k: gpt2[k] for k in ("layers", "hidden", "heads", "vocab", "seq_len", "tied_head", "norm", "biases",
                                 "position_embedding", "ffn")} == \
        {"layers": 2, "hidden": 64, "heads": 4, "vocab": 256, "seq_len": 32, "tied_head": True, "norm": "layernorm",
         "biases": True, "position_embedding": "learned", "ffn": 256}
    llama = onnx_model_fields(str(ONNX_DIR / "tiny_llama.onnx"))
    assert (llama["layers"], llama["norm"], llama["activation"], llama["tied_head"], llama["biases"]) == \
        (3, "rmsnorm", "swiglu", False, False)
    # the widths the Megatron pattern shards by: 4 query heads, 2 kv heads (GQA), the SwiGLU width
    assert (llama["tensor_parallel"], llama["heads"], llama["kv_heads"], llama["ffn"]) == (True, 4, 2, 160)


# --- graphs built with onnx.helper -------------------------------------------------------------------------------
V, H, F, S = 50, 16, 24, 8


def _init(name: str, shape: tuple[int, ...], seed: int) -> TensorProto:
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), name)


def mlp_model(layers: int = 2, extra_op: str | None = None, loss: bool = True, seq: int | str = S) -> onnx.ModelProto:
    """ids -> Gather -> [LayerNorm -> Gemm(transB) -> Relu -> Gemm(transB) -> + residual] x layers -> LayerNorm
    -> MatMul(tableᵀ) -> SoftmaxCrossEntropyLoss: the Gemm layout torch writes for 2-D inputs."""
    nodes, inits = [], [_init("table", (V, H), 0), numpy_helper.from_array(np.array([S, H], np.int64), "flat"),
                        numpy_helper.from_array(np.array([-1], np.int64), "flat_labels")]
    nodes.append(helper.make_node("Gather", ["table", "ids"], ["emb"]))
    nodes.append(helper.make_node("Reshape", ["emb", "flat"], ["x0"]))
    x = "x0"
    for i in range(layers):
        inits += [_init(f"ln{i}.w", (H,), 10 * i + 1), _init(f"ln{i}.b", (H,), 10 * i + 2),
                  _init(f"fc1_{i}.w", (F, H), 10 * i + 3), _init(f"fc1_{i}.b", (F,), 10 * i + 4),
                  _init(f"fc2_{i}.w", (H, F), 10 * i + 5), _init(f"fc2_{i}.b", (H,), 10 * i + 6)]
        nodes += [helper.make_node("LayerNormalization", [x, f"ln{i}.w", f"ln{i}.b"], [f"n{i}"], axis=-1),
                  helper.make_node("Gemm", [f"n{i}", f"fc1_{i}.w", f"fc1_{i}.b"], [f"h{i}"], transB=1),
                  helper.make_node(extra_op or "Relu", [f"h{i}"], [f"a{i}"]),
                  helper.make_node("Gemm", [f"a{i}", f"fc2_{i}.w", f"fc2_{i}.b"], [f"m{i}"], transB=1),
                  helper.make_node("Add", [x, f"m{i}"], [f"x{i + 1}"])]
        x = f"x{i + 1}"
    inits += [_init("lnf.w", (H,), 98), _init("lnf.b", (H,), 99),
              numpy_helper.from_array(np.asarray(numpy_helper.to_array(inits[0]).T), "head.w")]
    nodes += [helper.make_node("LayerNormalization", [x, "lnf.w", "lnf.b"], ["nf"], axis=-1),
              helper.make_node("MatMul", ["nf", "head.w"], ["logits"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [S, V])]
    if loss:
        nodes += [helper.make_node("Reshape", ["labels", "flat_labels"], ["lab"]),
                  helper.make_node("SoftmaxCrossEntropyLoss", ["logits", "lab"], ["loss"])]
        outputs = [helper.make_tensor_value_info("loss", TensorProto.FLOAT, [])]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, seq]),
                                            helper.make_tensor_value_info("labels", TensorProto.INT64, [1, seq])],
                              outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def save(model: onnx.ModelProto, tmp_path: Path, name: str = "mlp.onnx") -> Path:
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def test_gemm_graph_counts_by_hand(tmp_path: Path) -> None:
    cfg = imported(save(mlp_model(layers=3), tmp_path))
    graphs = build_model(cfg, microbatch=2)
    summary = model_summary(graphs)
    per_block = 2 * H + F * H + F + H * F + H
    assert (cfg.layers, cfg.hidden, cfg.vocab, cfg.tied_head, cfg.ffn) == (3, H, V, True, F)
    assert summary["params_per_block"] == per_block
    assert summary["params_total"] == V * H + 3 * per_block + 2 * H  # the head's weight is the table, transposed
    block = graphs.layers["block"]
    assert block.fwd_macs == 2 * (2 * S * H * F) and block.bwd_macs == 2 * block.fwd_macs
    assert graphs.layers["head"].fwd_macs == 2 * S * H * V
    # saved for backward per block (2 bytes each): norm input, fc1 input, relu input, fc2 input
    assert block.activation_bytes("none") == 2 * (2 * S * H + 2 * S * F) * 2
    assert block.activation_bytes("full") == 2 * S * H * 2
    # t = 2: FC1 column-parallel (weight and bias halved), FC2 row-parallel (its bias whole), one all-reduce of
    # the 2 x S x H block output forward (g) and one backward (f); the vocabulary 50 is padded to 50
    assert cfg.tensor_parallel and cfg.ffn == F
    tp = build_model(cfg, microbatch=2, tensor_width=2)
    assert tp.layers["block"].params == 2 * H + (F * H + F) // 2 + H * F // 2 + H
    assert tp.layers["block"].fwd_macs == block.fwd_macs // 2
    payload = 2 * S * H * 2
    assert collectives(tp, "block") == [("bwd", "all_reduce", payload, 2), ("fwd", "all_reduce", payload, 2)]
    assert tp.layers["embed"].params == V // 2 * H


@pytest.mark.parametrize(("model", "match"), [
    (lambda: mlp_model(layers=1), "two identical"),
    (lambda: mlp_model(extra_op="HardSwish"), "HardSwish"),
    (lambda: mlp_model(loss=False), "training loss"),
    (lambda: mlp_model(seq="seq"), "fixed sequence length"),
])
def test_graphs_phaze_cannot_import_are_one_line_errors(tmp_path: Path, model, match: str) -> None:
    path = save(model(), tmp_path)
    with pytest.raises(ConfigError, match=match) as err:
        import_onnx(str(path))
    assert "model.onnx_path" in str(err.value) and "\n" not in str(err.value)


def test_symbolic_batch_is_fixed_to_one(tmp_path: Path) -> None:
    model = mlp_model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    assert import_onnx(str(save(model, tmp_path))).batch == 1


def test_a_graph_without_the_megatron_pattern_keeps_width_one(tmp_path: Path) -> None:
    """A softmax over the MLP's features mixes the column-parallel axis: no tensor-parallel form."""
    cfg = imported(save(mlp_model(extra_op="Softmax"), tmp_path))
    assert not cfg.tensor_parallel
    with pytest.raises(ConfigError, match="tensor-parallel"):
        build_model(cfg, 1, tensor_width=2)
    with pytest.raises(ConfigError, match="kv_heads=2"):  # GQA with 2 kv heads: t = 4 does not divide them
        build_model(imported(ONNX_DIR / "tiny_llama.onnx"), 1, tensor_width=4)


@pytest.mark.parametrize(("args", "field"), [
    (["model=onnx"], "model.onnx_path"),
    (["model=onnx", "model.onnx_path=/nonexistent.onnx"], "model.onnx_path"),
    (["model=onnx", "model.onnx_path=NOT_ONNX"], "model.onnx_path"),
    (["model=onnx", f"model.onnx_path={ONNX_DIR / 'tiny_llama.onnx'}", "inspect.tensor_width=4"],
     "inspect.tensor_width"),
    (["model=onnx", f"model.onnx_path={ONNX_DIR / 'tiny_llama.onnx'}", "inspect.tensor_width=2",
      "inspect.sequence_parallel=true"], "inspect.sequence_parallel"),
    (["model=hf", f"model.onnx_path={ONNX_DIR / 'tiny_gpt2.onnx'}"], "model.onnx_path"),
])
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], field: str) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 this is not a protobuf \xff" * 10)
    args = [a.replace("NOT_ONNX", str(junk)) for a in args]
    proc = run_cli("task=inspect", "tracking=none", *args, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and field in proc.stderr, proc.stderr


TINY_SEARCH = ["hw.space.n_tc.max=4", "hw.space.n_vc.max=4", "hw.space.tc_width.max=32", "hw.space.tc_depth.max=32",
               "hw.space.glb_mib.max=4", "hw.space.min_area_fraction=0", "parallelism.devices=8",
               "parallelism.global_batch=16", "parallelism.microbatch_sizes=[1,2]", "parallelism.tensor_widths=[1,2]",
               "search.chunk_size=8", "search.progress=false", "search.spotlight.evaluations=5", "tracking=none",
               "solver=greedy"]


def test_search_on_an_imported_model_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run_cli("task=search", "model=onnx", f"model.onnx_path={ONNX_DIR / 'tiny_llama.onnx'}", *TINY_SEARCH,
                   f"hydra.run.dir={out}", f"search.cache_dir={tmp_path / 'cache'}", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "result.json").read_text())
    assert result["model"]["params_total"] == meta("tiny_llama")["params"]
    assert result["best"]["placement"]["tensor"] in (1, 2) and result["best"]["throughput_samples_s"] > 0
    assert "onnx_path: " in (out / "config.resolved.yaml").read_text()


def test_recompute_modes_are_ordered() -> None:
    block = build_model(imported(ONNX_DIR / "tiny_llama.onnx"), 1).layers["block"]
    saved = [block.activation_bytes(m) for m in RECOMPUTE_MODES]
    assert saved[0] > saved[1] > saved[2] > 0
