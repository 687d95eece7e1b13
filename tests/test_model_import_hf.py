"""`model=hf`: Hugging Face config.json files mapped onto the analytic builder give the published counts.

The config.json files in tests/data/hf_configs/ are the published configurations of the models (sources in
tests/data/hf_models.csv, with the parameter counts and where each count comes from).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, read_csv, run_cli

from phaze.config.errors import ConfigError
from phaze.config.model import ModelConfig, validate
from phaze.model import build_model
from phaze.model.hf_config import hf_model_fields, read_hf_config
from phaze.model.summary import model_summary

DATA = ROOT / "tests" / "data"
HF_MODELS = read_csv("hf_models.csv")


def config_path(name: str) -> Path:
    return DATA / "hf_configs" / name / "config.json"


def mapped(name: str, **overrides: object) -> ModelConfig:
    path = str(config_path(name))
    fields, _ = hf_model_fields(read_hf_config(path), path)
    cfg = ModelConfig(name=name, hf_config=path, **{**fields, **overrides})
    validate(cfg)
    return cfg


def test_at_least_ten_public_models_of_every_required_family() -> None:
    assert len(HF_MODELS) >= 10
    assert {r["model_type"] for r in HF_MODELS} >= {"llama", "mistral", "qwen2", "gemma", "gpt2", "opt", "gpt_neox",
                                                   "falcon", "phi3", "bert"}
    for row in HF_MODELS:
        assert json.loads(config_path(row["name"]).read_text())["model_type"] == row["model_type"]


@pytest.mark.parametrize("row", HF_MODELS, ids=[r["name"] for r in HF_MODELS])
def test_published_parameter_counts(row: dict[str, str]) -> None:
    summary = model_summary(build_model(mapped(row["name"]), microbatch=1))
    assert summary["params_total"] == int(row["params_total"])


def test_gemma_uses_its_head_dim_geglu_tied_head_and_scaled_embedding() -> None:
    cfg = mapped("gemma-7b")
    assert (cfg.head_dim, cfg.heads, cfg.hidden, cfg.activation, cfg.tied_head, cfg.embed_scale) == \
        (256, 16, 3072, "geglu", True, True)
    block = build_model(cfg, 1).layers["block"]
    # q, k, v and out-projection are 4096 wide (16 x 256), not 3072: s·h·(4·4096) + 3 GEMMs of h·ffn
    s, h = 4096, 3072
    assert block.fwd_macs == s * h * 4 * 4096 + 3 * s * h * 24576 + 2 * s * s * 4096
    names = [op.name for op in block.fwd_unfused.ops]
    assert "gelu" in names and "geglu_mul" in names


def test_qwen2_has_qkv_biases_only() -> None:
    cfg = mapped("Qwen2-0.5B")
    assert (cfg.biases, cfg.qkv_bias, cfg.kv_heads) == (False, True, 2)
    names = {op.name for op in build_model(cfg, 1).layers["block"].fwd_unfused.ops}
    assert "qkv.bias" in names and "attn.bias" not in names and "fc1.bias" not in names


def test_gpt_neox_parallel_residual_is_a_parallel_block_with_two_norms() -> None:
    cfg = mapped("pythia-160m")
    assert cfg.parallel_block and not cfg.shared_block_norm and cfg.rotary_fraction == 0.25
    fwd = build_model(cfg, 1).layers["block"].forward
    readers_of_x = [n.op.name for n in fwd.nodes if "x" in n.inputs]
    assert readers_of_x == ["ln1", "ln2", "attn.residual"]  # both branches read the layer input
    rope = next(n.op for n in fwd.nodes if n.op.name == "rope")
    assert rope.numel == 2048 * 3 * 768 // 4  # rotary_pct 0.25 of the q/k/v columns
    # a sequential layout of the same GEMMs does the same GEMM work
    sequential = ModelConfig(**{**cfg.__dict__, "parallel_block": False, "rotary_fraction": 1.0})
    assert build_model(sequential, 1).layers["block"].fwd_macs == build_model(cfg, 1).layers["block"].fwd_macs


def test_falcon_has_one_norm_for_both_branches_and_multi_query_attention() -> None:
    cfg = mapped("falcon-7b")
    assert (cfg.parallel_block, cfg.shared_block_norm, cfg.kv_heads, cfg.biases) == (True, True, 1, False)
    names = [op.name for op in build_model(cfg, 1).layers["block"].fwd_unfused.ops]
    assert names.count("ln1") == 1 and "ln2" not in names


def test_sliding_window_caps_the_default_sequence_and_rejects_a_longer_one() -> None:
    assert mapped("Mistral-7B-v0.1").seq_len == 4096  # window 4096 = full attention at 4096 tokens
    assert mapped("Phi-3-mini-4k-instruct").seq_len == 2047  # phi-3-mini-4k's window is 2047
    assert mapped("Qwen2-7B").seq_len == 4096  # use_sliding_window false: the window does not apply
    path = str(config_path("Qwen2-7B"))
    data = {**read_hf_config(path), "use_sliding_window": True, "sliding_window": 1024}
    assert hf_model_fields(data, path)[1] == 1024  # a seq_len above it is an error (test_cli_errors_are_one_line)


def test_opt_350m_maps_to_the_hand_written_yaml_model() -> None:
    from conftest import model_cfg

    ours, yaml_model = mapped("opt-350m"), model_cfg("opt350m")
    for field in ("layers", "hidden", "heads", "ffn", "vocab", "max_positions", "pre_ln", "embed_proj_dim",
                  "position_offset", "final_norm", "activation", "tied_head", "biases"):
        assert getattr(ours, field) == getattr(yaml_model, field), field


def _write(tmp_path: Path, base: str, **changes: object) -> Path:
    data = json.loads(config_path(base).read_text())
    data.update(changes)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("base", "changes", "field"), [
    ("Mistral-7B-v0.1", {"num_local_experts": 8, "num_experts_per_tok": 2}, "num_local_experts"),
    ("Phi-3-mini-4k-instruct", {"partial_rotary_factor": 0.5}, "partial_rotary_factor"),
    ("Llama-2-7b-hf", {"attention_bias": True}, "attention_bias"),
    ("Llama-2-7b-hf", {"attention_dropout": 0.1}, "attention_dropout"),
    ("falcon-7b", {"alibi": True}, "alibi"),
    ("gpt2", {"add_cross_attention": True}, "add_cross_attention"),
    ("bert-base-uncased", {"position_embedding_type": "relative_key"}, "position_embedding_type"),
    ("Llama-2-7b-hf", {"model_type": "mixtral"}, "model_type"),
    ("Llama-2-7b-hf", {"hidden_act": "tanh"}, "hidden_act"),
    ("Llama-2-7b-hf", {"num_hidden_layers": "32"}, "num_hidden_layers"),
])
def test_unsupported_fields_are_one_line_errors_naming_the_field(tmp_path: Path, base: str, changes: dict,
                                                                 field: str) -> None:
    path = _write(tmp_path, base, **changes)
    with pytest.raises(ConfigError, match=field):
        hf_model_fields(read_hf_config(str(path)), str(path))


def _inspect(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    out = tmp_path / "run"
    proc = run_cli("task=inspect", "tracking=none", *args, f"hydra.run.dir={out}")
    return proc.returncode, proc.stderr, out


@pytest.mark.parametrize(("args", "field"), [
    (["model=hf"], "model.hf_config"),
    (["model=hf", "model.hf_config=/nonexistent/config.json"], "model.hf_config"),
    (["model=hf", f"model.hf_config={config_path('Mistral-7B-v0.1')}", "model.seq_len=8192"], "model.seq_len"),
    (["model=llama2_7b", f"model.hf_config={config_path('gpt2')}"], "model.hf_config"),
])
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], field: str) -> None:
    code, err, _ = _inspect(tmp_path, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and field in err, err


def test_cli_malformed_and_unsupported_files_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"model_type": "llama", ')
    moe = _write(tmp_path, "Mistral-7B-v0.1", num_local_experts=8)
    for path, field in ((bad, "model.hf_config"), (moe, "num_local_experts")):
        code, err, _ = _inspect(tmp_path, "model=hf", f"model.hf_config={path}")
        assert code == 2 and len(err.strip().splitlines()) == 1 and field in err, err


def test_cli_inspect_records_the_mapped_fields_and_keeps_overrides(tmp_path: Path) -> None:
    code, err, out = _inspect(tmp_path, "model=hf", f"model.hf_config={config_path('Meta-Llama-3-8B')}",
                              "model.seq_len=2048")
    assert code == 0, err
    result = json.loads((out / "result.json").read_text())
    assert result["model"]["params_total"] == 8_030_261_248 and result["model"]["name"] == "Meta-Llama-3-8B"
    resolved = (out / "config.resolved.yaml").read_text()
    for line in ("layers: 32", "hidden: 4096", "kv_heads: 8", "ffn: 14336", "vocab: 128256", "seq_len: 2048",
                 "norm: rmsnorm", "activation: swiglu", "tied_head: false"):
        assert f"  {line}\n" in resolved, line


def test_a_saved_resolved_config_reproduces_the_import_as_a_yaml_model(tmp_path: Path) -> None:
    """The mapped hyper-parameters are shareable as config: config.resolved.yaml's model section is a model file."""
    import yaml

    code, err, out = _inspect(tmp_path, "model=hf", f"model.hf_config={config_path('gemma-2b')}")
    assert code == 0, err
    section = yaml.safe_load((out / "config.resolved.yaml").read_text())["model"]
    conf = tmp_path / "myconf" / "model"
    conf.mkdir(parents=True)
    (conf / "gemma_saved.yaml").write_text("defaults:\n  - /schema/model/base@_here_\n  - _self_\n"
                                           + yaml.safe_dump(section))
    code, err, again = _inspect(tmp_path / "b", "model=gemma_saved", f"hydra.searchpath=[file://{tmp_path / 'myconf'}]")
    assert code == 0, err
    assert json.loads((again / "result.json").read_text())["model"]["params_total"] == 2_506_172_416
