"""Sensitivity of the issue/barrier assumption (`hw.op_issue_cycles`, `hw.op_barrier_cycles`, DESIGN §5).

The template charges every GEMM and vector op `op_issue_cycles + op_barrier_cycles·log2(cores it spans)`. No
published figure gives these for PHAZE's template (tpuv4_phaze sets 100 and 20, labelled assumptions), so this
script scales both by 0, 1, 4 and 16 and prints, for each fixed template design and model, the best placement's
throughput and the share of the block's busy time spent in control. A conclusion that changes between the rows
depends on the assumption.

    .venv/bin/python benchmarks/control_cost.py [--models bert_large gpt2_xl] [--designs tpuv4 tpuv4_phaze]
"""

from __future__ import annotations

import argparse
import time

from hydra import compose, initialize_config_dir

from phaze.config import CONF_DIR, as_object, register_schemas
from phaze.hardware import Accelerators
from phaze.model import build_model
from phaze.model.summary import model_summary
from phaze.placement.evaluate import DesignEvaluator
from phaze.placement.report import evaluated_entry
from phaze.placement.strategies import evaluate_best

SCALES = (0, 1, 4, 16)


def measure(model: str, design: str, scale: int) -> tuple[float, float, int, int]:
    """(best throughput in samples/s, control share of the block's busy time, issue, barrier cycles) with both
    costs x `scale`."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        base = compose(config_name="config", overrides=["task=evaluate", f"hw={design}", f"model={model}"])
        issue, barrier = int(base.hw.op_issue_cycles) * scale, int(base.hw.op_barrier_cycles) * scale
        cfg = compose(config_name="config", overrides=["task=evaluate", f"hw={design}", f"model={model}",
                                                       f"hw.op_issue_cycles={issue}",
                                                       f"hw.op_barrier_cycles={barrier}"])
    model_cfg = as_object(cfg, "model")
    acc = Accelerators.from_config(cfg.hw)
    ev = DesignEvaluator(model_cfg, as_object(cfg, "parallelism"), as_object(cfg, "solver"), acc)
    best, _, _ = evaluate_best(ev)
    if best is None:
        return 0.0, 0.0, issue, barrier
    entry = evaluated_entry(ev, best, model_cfg, model_summary(build_model(model_cfg, 1))["params_total"],
                            float(acc.peak_flops[0]))
    assert isinstance(entry, dict)
    return float(entry["throughput_samples_s"]), float(entry.get("bound", {}).get("control", 0.0)), issue, barrier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["bert_large", "gpt2_xl"])
    ap.add_argument("--designs", nargs="+", default=["tpuv4", "tpuv4_phaze"])
    args = ap.parse_args()
    register_schemas()
    print(f"{'model':>11} {'design':>12} {'scale':>5} {'issue':>6} {'barrier':>7} {'samples/s':>11} "
          f"{'vs x1':>7} {'control':>8}")
    for model in args.models:
        for design in args.designs:
            rows = {s: measure(model, design, s) for s in SCALES}
            ref = rows[1][0] or 1.0
            for s, (thr, control, issue, barrier) in rows.items():
                print(f"{model:>11} {design:>12} {s:>5} {issue:>6} {barrier:>7} {thr:>11,.1f} "
                      f"{thr / ref:>6.3f}x {control:>7.1%}")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"({time.perf_counter() - t0:.1f} s)")
