"""Validate the cost model against measured Megatron-LM training throughput (Narayanan et al. SC21, Table 1).

For every row of the CSV (default: benchmarks/megatron_throughput.csv, a copy of the published table):
a GPT of that shape (ffn 4h, vocab 51,200, sequence 2,048, pre-LN, learned positions, tied head) on `hw=a100`
with the row's tensor width t, pipeline depth p, GPU count and global batch, d = GPUs / (t·p), full
activation recomputation, the non-interleaved 1F1B schedule and the literature stage split; the
micro-batch is the best feasible of 1, 2, 4, 8 (the same rule for every row: the paper tuned it per row and
does not list it in the paper; Megatron-LM's examples/sc21/run_table_1.sh used 16, 16, 4, 2, 1, docs/validation.md
compares). The layer runs as Megatron-LM's kernels (`parallelism.kernels=megatron_sc21`: only the
fusions the paper lists in §4.2, every other op its own kernel, each weight gradient's accumulation across
micro-batches too, the loss as the fp32 vocab-parallel cross-entropy, one kernel at a time as on one CUDA
stream), not PHAZE's fusion pass; pipeline sends use the paper's scatter/gather (§4.1); recomputation
re-runs the transformer layers only; the optimizer step is Megatron-LM's fp16 optimizer, pass by pass.
No constant is fitted to these rows: every A100 figure comes from phaze/conf/hw/a100.yaml (datasheet rates;
measured, row-independent figures of the chip: matmul rate, HBM streaming bandwidth, NCCL's NVLink and
InfiniBand bus bandwidths, the attention core's HBM rate from one 22B layer of Korthikanti et al. 2023
(validate_layer_times.py); cuBLAS's thread-block tile for wave quantization).

Predicted TFLOP/s per GPU uses the paper's own count (eq. 3):
`96·B·s·l·h²·(1 + s/(6h) + V/(16·l·h)) / (iteration_s · GPUs)`.

`--schedule interleaved --chunks v` prices every pipelined row (p >= 2) with Megatron-LM's interleaved 1F1B
schedule instead (rows without a pipeline have no schedule to interleave); `--schedule published` prices each row
with the schedule its run used, from the CSV's `chunks` column (1: 1F1B, v >= 2: interleaved with v chunks).
`korthikanti_throughput.csv` is a second set of runs in the same columns (plus `chunks`): Korthikanti et al.
2023 Table 5, full recomputation, not used to build the model. `--what-if hw.KEY=VALUE` changes
one field of the A100 for a sensitivity study (e.g. `--what-if hw.hbm_achievable_fraction=0.6`); the first
line of the output then says that the figures are not the model's.

    python benchmarks/validate_megatron.py [--rows CSV] [--schedule 1f1b|interleaved|published] [--chunks 2]
        [--what-if hw.KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from phaze.config import CONF_DIR, register_schemas
from phaze.config.errors import ConfigError
from phaze.config.model import ModelConfig
from phaze.config.parallelism import ParallelismConfig
from phaze.config.preflight import check_overrides
from phaze.hardware import Accelerators
from phaze.placement.evaluate import DesignEvaluator, Outcome, pick_best
from phaze.placement.result import Placement
from phaze.placement.settings import Setting

SEQ_LEN = 2048  # Narayanan et al. SC21 §5.1
VOCAB = 51200  # ibid.
MICROBATCHES = (1, 2, 4, 8)  # the assumption applied to every row (see module docstring)
DEFAULT_ROWS = Path(__file__).with_name("megatron_throughput.csv")


def megatron_flops(batch: int, layers: int, hidden: int) -> float:
    """Narayanan et al. SC21 eq. 3: FLOPs per iteration with activation recomputation."""
    s, h, v, lyr = SEQ_LEN, hidden, VOCAB, layers
    return 96 * batch * s * lyr * h * h * (1 + s / (6 * h) + v / (16 * lyr * h))


def gpt(row: dict[str, str]) -> ModelConfig:
    h, heads, layers = int(row["hidden"]), int(row["heads"]), int(row["layers"])
    return ModelConfig(name=f"gpt_{row['params_billion']}b", family="megatron_gpt", layers=layers, hidden=h,
                       heads=heads, kv_heads=heads, ffn=4 * h, vocab=VOCAB, max_positions=SEQ_LEN, seq_len=SEQ_LEN)


def predict_outcome(row: dict[str, str], solver, hw, schedule: str = "1f1b",
                    chunks: int = 2) -> tuple[float, Outcome | None]:
    """Predicted TFLOP/s per GPU of one row and the placement behind it (None if nothing fits)."""
    t, p, gpus, batch = (int(row[k]) for k in ("tensor_parallel", "pipeline_parallel", "gpus", "global_batch"))
    d = gpus // (t * p)
    sizes = [b for b in MICROBATCHES if batch % b == 0 and batch // b >= 1]
    par = ParallelismConfig(devices=gpus, global_batch=batch, microbatch_sizes=sizes, tensor_widths=[t],
                            recompute=["full"], kernels="megatron_sc21",
                            schedule=schedule if p >= 2 else "1f1b", chunks=chunks)
    ev = DesignEvaluator(gpt(row), par, solver, Accelerators.from_config(hw))
    best = pick_best(ev.given(Setting(b, t, "full"), d, p) for b in sizes)
    if best is None or not isinstance(best.result, Placement):
        return float("nan"), None
    tflops = megatron_flops(batch, int(row["layers"]), int(row["hidden"])) / (best.result.iteration_s * gpus) / 1e12
    return tflops, best


def predict(row: dict[str, str], solver, hw, schedule: str = "1f1b",
            chunks: int = 2) -> tuple[float, Setting | None, str]:
    tflops, best = predict_outcome(row, solver, hw, schedule, chunks)
    return (tflops, None, "infeasible") if best is None else (tflops, best.setting, str(best.result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=Path, default=DEFAULT_ROWS, help="CSV with the megatron_throughput columns")
    parser.add_argument("--schedule", choices=("1f1b", "interleaved", "published"), default="1f1b",
                        help="pipeline schedule of the rows with p >= 2 (published: the CSV's chunks column)")
    parser.add_argument("--chunks", type=int, default=2, help="model chunks per device with --schedule interleaved")
    parser.add_argument("--what-if", action="append", default=[], metavar="hw.KEY=VALUE",
                        help="sensitivity study: change one hw field (repeatable); the output says so")
    args = parser.parse_args(argv)
    if any(not w.startswith("hw.") for w in args.what_if):
        parser.error(f"--what-if takes hw.KEY=VALUE, got {' '.join(args.what_if)}")
    register_schemas()
    overrides = ["hw=a100", "solver=cpsat", *args.what_if]
    bad = check_overrides(overrides, Path(CONF_DIR))
    if bad is None:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides)
        try:
            Accelerators.from_config(cfg.hw)
        except ConfigError as err:
            bad = err
    if bad is not None:  # one line, as the phaze entry point reports a bad override
        print(f"validate_megatron: {bad}", file=sys.stderr)
        return 2
    if args.what_if:
        print(f"what-if, not the model's A100: {' '.join(args.what_if)}")
    solver = OmegaConf.to_object(cfg.solver)
    with open(args.rows, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if args.schedule == "published" and any(not (row.get("chunks") or "").isdigit() for row in rows):
        print(f"validate_megatron: --schedule published needs a `chunks` column (1 = 1F1B) in {args.rows}",
              file=sys.stderr)
        return 2
    errors = []
    start = time.perf_counter()
    print(f"{'model':>10} {'t':>3} {'p':>3} {'GPUs':>5} {'batch':>5} {'b':>2} {'published':>10} {'predicted':>10} "
          f"{'error':>8}")
    for row in rows:
        schedule, chunks = args.schedule, args.chunks
        if schedule == "published":
            chunks = int(row["chunks"])
            schedule = "interleaved" if chunks >= 2 else "1f1b"
        predicted, setting, _ = predict(row, solver, cfg.hw, schedule, chunks)
        published = float(row["tflops_per_gpu"])
        err = predicted / published - 1
        errors.append(abs(err))
        print(f"{row['params_billion'] + 'B':>10} {row['tensor_parallel']:>3} {row['pipeline_parallel']:>3} "
              f"{row['gpus']:>5} {row['global_batch']:>5} {setting.microbatch if setting else '-':>2} "
              f"{published:>10.1f} {predicted:>10.1f} {err:>+8.1%}")
    print(f"({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    finite = [e for e in errors if e == e]
    if len(finite) < len(errors):
        print(f"{len(errors) - len(finite)} row(s) infeasible")
    print(f"mean abs error {100 * sum(finite) / max(len(finite), 1):.1f}% max {100 * max(finite, default=0):.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
