"""task=evaluate end to end: memory per device against hand-computed bytes, fixed and literature
strategies, the one-line errors, and the Megatron validation script as a smoke test."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, compose_cfg, run_cli
from omegaconf import OmegaConf

from phaze.config.parallelism import FixedStrategy, ParallelismConfig
from phaze.hardware import Accelerators
from phaze.model import build_model
from phaze.placement.evaluate import DesignEvaluator, Outcome, placement_spec
from phaze.placement.layer_times import layer_times
from phaze.placement.report import memory_breakdown
from phaze.placement.result import Placement
from phaze.placement.settings import Setting
from phaze.placement.strategies import evaluate_fixed
from phaze.placement.timing import dp_allreduce_bw

S, H, A, V = 2048, 12288, 96, 50257
SBH = S * H
BLOCK_PARAMS_T8 = 226_576_896
BYTES_PER_PARAM = 16  # adam_mixed: 2 + 2 + 12 (ZeRO)


def gpt3_evaluator(hbm_gib: int = 4096) -> DesignEvaluator:
    cfg = compose_cfg(["model=gpt3_175b", "hw=tpuv4", f"hw.hbm_gib={hbm_gib}", "solver=greedy"])
    return DesignEvaluator(OmegaConf.to_object(cfg.model), OmegaConf.to_object(cfg.parallelism),
                           OmegaConf.to_object(cfg.solver), Accelerators.from_config(cfg.hw))


@pytest.mark.parametrize(("recompute", "act_per_block"), [
    ("none", SBH * 10 + SBH * 24 // 8 + 5 * A * S * S // 8),  # Korthikanti eq. 2 at t=8
    ("selective", SBH * 10 + SBH * 24 // 8),
    ("full", 2 * SBH),
])
def test_gpt3_memory_per_device_matches_hand_computation(recompute: str, act_per_block: int) -> None:
    # d=8, p=16, t=8, b=1: 6 blocks per stage; stage 2 holds blocks only; m = 4096 micro-batches, so
    # stage k keeps min(16 - k + 1, 512) = 17 - k micro-batches in flight (1F1B).
    outcome = evaluate_fixed(gpt3_evaluator(), FixedStrategy(8, 16, 8, 1, recompute))
    assert isinstance(outcome, Outcome) and isinstance(outcome.result, Placement)
    stage2 = memory_breakdown(outcome)[1]
    assert stage2["layers"] == [7, 13] and stage2["inflight_microbatches"] == 15
    assert stage2["weights_grads_optimizer_bytes"] == 6 * BLOCK_PARAMS_T8 * BYTES_PER_PARAM
    assert stage2["activation_bytes"] == 6 * act_per_block * 15
    assert stage2["total_bytes"] == 6 * BLOCK_PARAMS_T8 * BYTES_PER_PARAM + 6 * act_per_block * 15
    last = memory_breakdown(outcome)[-1]
    # the last stage: 6 blocks + head (final norm 2h; a copy of the tied vocab-parallel embedding)
    vocab_rows = 50264 // 8  # 50257 padded to a multiple of t = 8 (GPT-3 has no Megatron 128 padding)
    assert last["params"] == 6 * BLOCK_PARAMS_T8 + 2 * H + vocab_rows * H
    # recomputation re-runs the blocks only: the head keeps what it saves in any mode (the final norm's input,
    # the LM head's input, the fp32 softmax of the cross-entropy); one micro-batch in flight on the last stage
    head_act = 2 * SBH + 2 * SBH + 4 * S * vocab_rows
    assert last["inflight_microbatches"] == 1
    assert last["activation_bytes"] == 6 * act_per_block + head_act


def test_full_recompute_reruns_the_blocks_only() -> None:
    # Megatron-LM checkpoints the transformer layers: a block pays a second forward, embed and head do not
    cfg = compose_cfg(["model=gpt3_175b", "hw=tpuv4"])
    graphs = build_model(OmegaConf.to_object(cfg.model), 1, 8)
    times = layer_times(graphs, Accelerators.from_config(cfg.hw))
    block = times["block"]
    assert block.load_s("full")[0] == block.load_s("none")[0] + block.fwd.seconds[0] > block.load_s("none")[0]
    for kind in ("embed", "head"):
        assert times[kind].load_s("full")[0] == times[kind].load_s("selective")[0] == times[kind].load_s("none")[0]


@pytest.mark.parametrize(("kernels", "bytes_per_param"), [("fused", 28), ("megatron_sc21", 58)])
def test_optimizer_step_is_hbm_bound_on_the_largest_stage(kernels: str, bytes_per_param: int) -> None:
    # adam_mixed in one pass: 28 B per parameter; as Megatron-LM's fp16 optimizer runs it, pass by pass:
    # gradient / d before the all-reduce 4, fp16 -> fp32 gradient 6, unscale + inf check 8, norm 4, Adam 28,
    # master -> fp16 weights 6, zeroing 2
    cfg = compose_cfg(["model=gpt3_175b", "hw=tpuv4", "hw.hbm_gib=4096", "solver=greedy",
                       f"parallelism.kernels={kernels}"])
    acc = Accelerators.from_config(cfg.hw)
    ev = DesignEvaluator(OmegaConf.to_object(cfg.model), OmegaConf.to_object(cfg.parallelism),
                         OmegaConf.to_object(cfg.solver), acc)
    outcome = evaluate_fixed(ev, FixedStrategy(8, 16, 8, 1, "full"))
    assert isinstance(outcome, Outcome) and isinstance(outcome.result, Placement)
    placement = outcome.result
    expected = max(placement.stage_params) * bytes_per_param / acc.hbm_bw_bytes_per_s
    assert placement.optimizer_s == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("optimizer", "kernels", "held"), [
    ("adam_mixed", "fused", 16), ("sgd", "fused", 4),  # ZeRO's count: fp16 weights + gradients (+ 12 for Adam)
    ("adam_mixed", "megatron_sc21", 16), ("sgd", "megatron_sc21", 8),  # Megatron-LM keeps fp32 master weights
])
def test_weights_gradients_and_optimizer_state_per_parameter(optimizer: str, kernels: str, held: int) -> None:
    cfg = compose_cfg(["model=gpt3_175b", "hw=tpuv4", "hw.hbm_gib=4096", "solver=greedy",
                       f"parallelism.kernels={kernels}", f"parallelism.optimizer={optimizer}"])
    ev = DesignEvaluator(OmegaConf.to_object(cfg.model), OmegaConf.to_object(cfg.parallelism),
                         OmegaConf.to_object(cfg.solver), Accelerators.from_config(cfg.hw))
    outcome = evaluate_fixed(ev, FixedStrategy(8, 16, 8, 1, "full"))
    assert isinstance(outcome, Outcome) and isinstance(outcome.result, Placement)
    rows = memory_breakdown(outcome)
    assert all(row["weights_grads_optimizer_bytes"] == row["params"] * held for row in rows)


def test_infeasible_fixed_strategy_returns_its_reason() -> None:
    outcome = evaluate_fixed(gpt3_evaluator(hbm_gib=32), FixedStrategy(8, 16, 8, 1, "none"))
    assert isinstance(outcome, Outcome) and not outcome.feasible
    assert str(outcome.result).startswith("infeasible: stage 1 of 16") and "over hbm_bytes" in str(outcome.result)
    # with the micro-batch and recompute left open, the best feasible of the configured lists is taken
    relaxed = evaluate_fixed(gpt3_evaluator(hbm_gib=32), FixedStrategy(8, 16, 8))
    assert isinstance(relaxed, Outcome) and relaxed.feasible and relaxed.setting.recompute == "full"


def test_evaluate_cli_writes_best_and_literature(tmp_path: Path) -> None:
    proc = run_cli("task=evaluate", "model=llama2_7b", "hw=a100", "parallelism.fixed.data=512",
                   "parallelism.fixed.pipeline=1", "parallelism.fixed.tensor=2", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    best, lit, fixed = result["best"], result["literature"], result["fixed"]
    for entry in (best, lit, fixed):
        assert set(entry) >= {"throughput_samples_s", "tokens_s", "iteration_s", "mfu", "memory_per_device_bytes",
                              "placement"}
        assert set(entry["placement"]) >= {"data", "pipeline", "tensor", "microbatch", "recompute", "stages"}
        assert entry["tokens_s"] == pytest.approx(entry["throughput_samples_s"] * 4096)
        assert entry["throughput_samples_s"] == pytest.approx(4096 / entry["iteration_s"])
        assert 0 < entry["mfu"] < 1 and entry["memory_per_device_bytes"] <= 80 * 2**30
    assert best["throughput_samples_s"] >= max(lit["throughput_samples_s"], fixed["throughput_samples_s"])
    assert (lit["placement"]["data"], lit["placement"]["pipeline"], lit["placement"]["tensor"]) == (128, 8, 1)
    assert fixed["placement"]["data"] == 512 and fixed["placement"]["tensor"] == 2
    assert sum(lit["placement"]["stages"]) == 34
    assert "best" in proc.stdout and "literature" in proc.stdout


def test_evaluate_skips_widths_that_do_not_divide(tmp_path: Path) -> None:
    proc = run_cli("task=evaluate", "model=gpt2_xl", "hw=tpuv4", "solver=greedy", "parallelism.tensor_widths=[1,2,5]",
                   "parallelism.microbatch_sizes=[4]", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["skipped_widths"] == [2]  # 25 heads
    assert {s["tensor"] for s in result["settings"]} == {1, 5}


@pytest.mark.parametrize(("overrides", "field"), [
    (["hw=search"], "hw"),
    (["parallelism.fixed.data=64", "parallelism.fixed.pipeline=32", "parallelism.fixed.tensor=1"],
     "parallelism.fixed"),
    (["parallelism.fixed.data=1", "parallelism.fixed.pipeline=1", "parallelism.fixed.tensor=3"],
     "parallelism.fixed.tensor"),
    (["parallelism.fixed.tensor=2"], "parallelism.fixed.data"),
    (["parallelism.microbatch_sizes=[3]"], "parallelism.microbatch_sizes"),
    (["parallelism.recompute=[sometimes]"], "parallelism.recompute"),
])
def test_evaluate_bad_input_is_one_line(overrides: list[str], field: str, tmp_path: Path) -> None:
    proc = run_cli("task=evaluate", "model=llama2_7b", "hw=a100", *overrides, f"hydra.run.dir={tmp_path}")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], proc.stderr


def test_megatron_validation_script_runs_and_prints() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "validate_megatron.py")], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("mean abs error") and len(lines) == 1 + 5 + 1
    # the docs show what it prints: docs/validation.md's table row by row, the README's headline
    doc = (ROOT / "docs" / "validation.md").read_text()
    for line in lines[1:-1]:
        model, t, p, gpus, _batch, _b, published, predicted, error = line.split()
        assert f"| {model} | {t} | {p} | {gpus} | {float(published):g} | {predicted} | {error} |" in doc, line
    mean, worst = lines[-1].removeprefix("mean abs error ").split(" max ")
    assert f"**Mean absolute error {mean}, max {worst}**" in doc
    assert f"mean absolute error {mean}, max {worst}" in (ROOT / "README.md").read_text()


def test_second_validation_set_runs_with_each_runs_schedule() -> None:
    """The Korthikanti et al. 2023 runs go through the same script, each with its published schedule; the SC21
    file has no `chunks` column, so asking for published schedules there is a one-line error."""
    script = str(ROOT / "benchmarks" / "validate_megatron.py")
    proc = subprocess.run([sys.executable, script, "--rows", str(ROOT / "benchmarks" / "korthikanti_throughput.csv"),
                           "--schedule", "published"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("mean abs error") and len(lines) == 1 + 4 + 1
    assert [line.split()[0] for line in lines[1:-1]] == ["22B", "175B", "530B", "1000B"]
    mean, worst = lines[-1].removeprefix("mean abs error ").split(" max ")
    assert f"mean absolute error {mean}, max {worst}" in (ROOT / "README.md").read_text()  # the README's figure
    bad = subprocess.run([sys.executable, script, "--schedule", "published"], capture_output=True, text=True,
                         timeout=300, check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "chunks" in bad.stderr


def test_megatron_what_if_is_labelled_and_moves_the_prediction() -> None:
    """A sensitivity run says on its first line that its figures are not the model's, and a slower HBM makes
    every row slower (the memory-bound kernels take longer), so every error drops."""
    def errors(*extra: str) -> tuple[list[str], list[float]]:
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "validate_megatron.py"), *extra],
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.strip().splitlines()
        return lines, [float(line.split()[-1].rstrip("%")) for line in lines if line.strip()[0].isdigit()]

    base_lines, base = errors()
    lines, slower = errors("--what-if", "hw.hbm_achievable_fraction=0.6")
    assert lines[0] == "what-if, not the model's A100: hw.hbm_achievable_fraction=0.6"
    assert not base_lines[0].startswith("what-if") and len(base) == len(slower) == 5
    assert all(s < b for s, b in zip(slower, base, strict=True))
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "validate_megatron.py"), "--what-if",
                          "hw.hbm_achievable_fraction=2"], capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "validate_megatron: invalid config: hw.hbm_achievable_fraction=2.0: a number in (0, 1]"]


def test_megatron_breakdown_script_splits_each_row() -> None:
    """The breakdown runs on the same rows, and each row's parts are shares of its iteration (sum to 1)."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "validate_breakdown.py")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 + 5 + 1 and lines[-1].startswith("correlation of the error")
    for line in lines[1:-1]:
        shares = [float(x.rstrip("%")) for x in line.split()[2:]]
        assert len(shares) == 8 and sum(shares) == pytest.approx(100.0, abs=0.4)  # eight values rounded to 0.1
    assert lines[1].split()[6] == "0.0%"  # the 1.7B row has no tensor parallelism, so no TP collectives


def test_multi_node_data_parallel_bandwidth_matches_nccl_on_dgx_a100() -> None:
    """The DP ring of a node-aligned group (8 ranks per DGX A100 node) is priced from the per-NIC figure
    (8 x 24 GB/s); NVIDIA measured 192 GB/s all-reduce bus bandwidth between such nodes (hardware.csv
    infiniband_node_allreduce_busbw, NCCL #812): an independent check, not an input."""
    with open(ROOT / "phaze" / "data" / "hardware.csv", newline="") as fh:
        rows = {(r["name"], r["field"]): r["value"] for r in csv.DictReader(fh)}
    measured = float(rows[("a100_80gb", "infiniband_node_allreduce_busbw")]) * 1e9
    acc = Accelerators.from_config(compose_cfg(["hw=a100"]).hw)
    par = ParallelismConfig(devices=32, global_batch=512, microbatch_sizes=[1], tensor_widths=[1])
    spec = placement_spec(par, acc, Setting(1, 1, "full"))
    assert dp_allreduce_bw(32, spec) == pytest.approx(measured, rel=0.01)  # 8 x 24.0 = 192.0 GB/s
    # one rank per node (t = 8) gets one NIC's 24 GB/s, the figure of NCCL #1048
    spec_t8 = placement_spec(ParallelismConfig(devices=256, global_batch=512, microbatch_sizes=[1],
                                               tensor_widths=[8]), acc, Setting(1, 8, "full"))
    assert dp_allreduce_bw(32, spec_t8) == pytest.approx(24e9, rel=1e-12)
