"""The command line as a user meets it: `task=inspect` output files, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CONF, run_cli

from phaze.config.preflight import check_overrides

BAD_INPUTS = [
    (["model.layers=0"], "model.layers"),
    (["model.hidden=-1024"], "model.hidden"),
    (["model.heads=7"], "model.heads"),  # 7 does not divide hidden 5120
    (["model.kv_heads=3"], "model.kv_heads"),  # 3 does not divide heads 40
    (["model.seq_len=4096"], "model.seq_len"),  # opt13b has 2048 positions
    (["inspect.tensor_width=3"], "inspect.tensor_width"),  # divides none of heads 40, ffn 20480
    (["model.norm=batchnorm"], "model.norm"),
    (["inspect.microbatch=0"], "inspect.microbatch"),
    (["parallelism.kernels=xla"], "parallelism.kernels"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_INPUTS, ids=[b[1] + "=" + b[0][0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_naming_the_field(overrides: list[str], field: str, tmp_path: Path) -> None:
    proc = run_cli("task=inspect", *overrides, f"hydra.run.dir={tmp_path}")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert field in lines[0] and "=" in lines[0]


def test_unknown_model_lists_the_available_ones(tmp_path: Path) -> None:
    proc = run_cli("model=gpt5", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "model='gpt5'" in lines[0] and "gpt3_175b" in lines[0] and "llama2_70b" in lines[0]


@pytest.mark.parametrize(("args", "expected"), [
    (["model.layers=many"], "model.layers='many': a value of type int"),
    (["model.nonexistent=3"], "model.nonexistent='3': not a key of ModelConfig; its keys: name, family, layers"),
    (["model=opt13b,gpt5", "-m"], "model='gpt5': one of"),  # every choice of a sweep is checked
    (["model.layers=24,many", "-m"], "model.layers='many': a value of type int"),  # ... and every job's types
    # 6 x 6 x 2 = 72 jobs, more than are composed one by one: a covering set still composes every value once
    (["parallelism.global_batch=64,128,256,512,1024,2048", "parallelism.devices=8,16,32,64,128,256",
      "model.layers=24,many", "-m"], "model.layers='many': a value of type int"),
    (["+experiment=nope"], "experiment='nope': one of paper_llms, quickstart"),
])
def test_hydra_rejections_are_one_line_too(args: list[str], expected: str, tmp_path: Path) -> None:
    """What Hydra itself would reject over many lines (unknown choice, key or type) is one line, exit 2."""
    proc = run_cli(*args, f"hydra.run.dir={tmp_path}", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]


def test_inspect_writes_result_files_and_is_reproducible(tmp_path: Path) -> None:
    runs = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        proc = run_cli("task=inspect", "model=llama2_7b", f"hydra.run.dir={out}")
        assert proc.returncode == 0, proc.stderr
        assert "6,738,415,616" in proc.stdout
        runs.append(out)
    for name in ("result.json", "timings.json", "config.resolved.yaml"):
        assert (runs[0] / name).is_file()
    assert (runs[0] / "result.json").read_bytes() == (runs[1] / "result.json").read_bytes()
    result = json.loads((runs[0] / "result.json").read_text())
    model = result["model"]
    assert result["phaze_version"] and len(result["config_hash"]) == 16
    assert model["params_total"] == 6_738_415_616 and model["params_per_block"] == 202_383_360
    assert model["layers"]["block"] | {} and model["layers"]["block"]["count"] == 32
    assert model["layers"]["block"]["fwd_macs"] == 966_367_641_600
    assert set(model["layers"]) == {"embed", "block", "head"}
    assert model["flops_fwd_per_sample"] > 0 and model["flops_train_per_token"] > 0


def test_inspect_shows_the_configured_kernels(tmp_path: Path) -> None:
    # gpt3_175b block: PHAZE's fusion gives 9 forward kernels; Megatron-LM's (SC21 §4.2 + PyTorch's copies) 15
    counts = {}
    for kernels in ("fused", "megatron_sc21"):
        out = tmp_path / kernels
        proc = run_cli("task=inspect", "model=gpt3_175b", f"parallelism.kernels={kernels}", f"hydra.run.dir={out}")
        assert proc.returncode == 0, proc.stderr
        block = json.loads((out / "result.json").read_text())["model"]["layers"]["block"]
        counts[kernels] = (block["ops"], block["fwd_macs"])
    assert (counts["fused"][0], counts["megatron_sc21"][0]) == (9, 15)
    assert counts["fused"][1] == counts["megatron_sc21"][1]


def test_model_defined_purely_by_overrides(tmp_path: Path) -> None:
    # a 30-layer GPT at h=3072 described only on the command line
    proc = run_cli("task=inspect", "model=gpt3_175b", "model.name=gpt_custom", "model.layers=30",
                   "model.hidden=3072", "model.heads=24", "model.kv_heads=24", "model.ffn=12288",
                   f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    model = json.loads((tmp_path / "result.json").read_text())["model"]
    h = 3072
    assert model["name"] == "gpt_custom"
    assert model["params_per_block"] == 12 * h * h + 13 * h
    assert model["params_total"] == (50257 + 2048) * h + 30 * (12 * h * h + 13 * h) + 2 * h


def test_model_defined_by_a_new_yaml_file(tmp_path: Path) -> None:
    conf = tmp_path / "myconf" / "model"
    conf.mkdir(parents=True)
    (conf / "tiny.yaml").write_text(
        "defaults:\n  - /schema/model/base@_here_\n  - _self_\nname: tiny\nlayers: 2\nhidden: 64\nheads: 4\n"
        "kv_heads: 2\nffn: 256\nvocab: 1000\nmax_positions: 128\nseq_len: 128\nnorm: rmsnorm\n"
        "activation: swiglu\ntied_head: false\nbiases: false\ndropout: false\nposition_embedding: rope\n")
    proc = run_cli("task=inspect", "model=tiny", f"hydra.searchpath=[file://{tmp_path / 'myconf'}]",
                   f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    model = json.loads((tmp_path / "run" / "result.json").read_text())["model"]
    h, f = 64, 256
    block = 2 * h * h + 2 * h * (h // 2) + 3 * h * f + 2 * h  # GQA q/o + k/v at 2 of 4 heads, SwiGLU, 2 RMSNorms
    assert model["params_per_block"] == block
    assert model["params_total"] == 1000 * h * 2 + 2 * block + h


@pytest.mark.parametrize(("hw", "expected"), [
    ("search", {"candidates_total": 75_712 * 5, "candidates_kept": 115_894}),  # 5 bank counts per 2024 design
    ("tpuv4", {"peak_flops": 8 * 128 * 128 * 2 * 1.05e9}),
    ("a100", {"area_mm2": None, "hbm_bw_bytes_per_s": 2.039e12, "effective_hbm_bw_bytes_per_s": 2.039e12 * 0.883,
              "gemm_wave_tile": [256, 128], "effective_tp_link_bw_bytes_per_s": 300e9 * 0.783}),
])
def test_inspect_reports_the_hardware(hw: str, expected: dict, tmp_path: Path) -> None:
    proc = run_cli("task=inspect", "model=bert_large", f"hw={hw}", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    hardware = json.loads((tmp_path / "result.json").read_text())["hardware"]
    assert hardware["name"] == hw
    for key, value in expected.items():
        assert hardware[key] == value
    if hw == "tpuv4":
        assert hardware["area_mm2"] > 0


def test_preflight_passes_good_runs_and_leaves_file_errors_to_hydra(tmp_path: Path) -> None:
    """Valid overrides and flags pass untouched; a bad value that comes from a YAML file (not the command
    line) is left to Hydra, whose report names the file."""
    assert check_overrides(["model=opt13b", "task=inspect", "inspect.microbatch=2"], CONF) is None
    assert check_overrides(["--help"], CONF) is None
    assert check_overrides(["model=opt13b,llama2_7b", "-m"], CONF) is None
    big = ["parallelism.global_batch=64,128,256,512,1024,2048", "parallelism.devices=8,16,32,64,128,256",
           "model=opt13b,llama2_7b", "-m"]  # 72 jobs: composed on a covering set of 6
    assert check_overrides(big, CONF) is None
    conf = tmp_path / "myconf" / "model"
    conf.mkdir(parents=True)
    (conf / "bad.yaml").write_text("defaults:\n  - opt13b\n  - _self_\nlayers: many\n")
    assert check_overrides(["model=bad", f"hydra.searchpath=[file://{tmp_path / 'myconf'}]"], CONF) is None
