"""Where the predicted time of each Megatron-LM validation row goes, beside its error.

`validate_megatron.py` says how far each prediction is from the published throughput; this says what the
prediction is made of, so that the error can be traced to a part of the cost model instead of being
tuned away. For every row, at the placement the validation prices:

* one transformer layer's kernels, forward twice (full recomputation) plus backward, split into the
  attention core (the batched QKᵀ and PV GEMMs and the element-wise kernels over the b·a·s² score tensor:
  softmax, attention dropout, their backward), the other GEMMs, the other memory-bound (vector) kernels
  and the tensor-parallel collectives. Megatron-LM runs them one after another on one CUDA stream
  (`parallelism.kernels=megatron_sc21`), so the parts add up to the layer's time;
* the iteration: the pipeline's steady part `max_load·ceil(m/d)`, its bubble `max_load·(S − 1)`, the
  data-parallel gradient all-reduce and the optimizer step (DESIGN §7).

The last line is the Pearson correlation, over the rows, between the error and each part's share of the
iteration. It is a diagnostic: nothing here feeds back into the model.

    python benchmarks/validate_breakdown.py [--rows CSV]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from validate_megatron import DEFAULT_ROWS, gpt, predict_outcome

from phaze.config import CONF_DIR, register_schemas
from phaze.cost import price_graph
from phaze.hardware import Accelerators
from phaze.model import build_model
from phaze.model.ops import Op, OpKind
from phaze.placement.result import Placement

KERNEL_PARTS = ("attn_gemm", "attn_vector", "gemm", "vector", "tp_comm")
PARTS = (*KERNEL_PARTS, "bubble", "dp_allreduce", "optimizer")


def kernel_part(op: Op) -> str | None:
    """Which part of the split an op's kernel belongs to: the attention core is what the cost model flags as
    streaming the score tensor (`Op.attention_core`: QKᵀ, PV, softmax, dropout and their gradients)."""
    if op.kind is OpKind.GEMM:
        return "attn_gemm" if op.attention_core else "gemm"
    if op.kind is OpKind.VECTOR:
        return "attn_vector" if op.attention_core else "vector"
    return "tp_comm" if op.kind is OpKind.COLLECTIVE else None


def layer_split(row: dict[str, str], microbatch: int, acc: Accelerators) -> dict[str, float]:
    """Seconds of one block (2 forwards + 1 backward) per kernel part, from the all-cores durations."""
    block = build_model(gpt(row), microbatch, int(row["tensor_parallel"]), kernels="megatron_sc21").layers["block"]
    out = dict.fromkeys(KERNEL_PARTS, 0.0)
    for graph, passes in ((block.fwd, 2), (block.bwd, 1)):
        _, intra = price_graph(graph, acc)
        for op, seconds in zip(graph.ops, intra[0], strict=True):
            part = kernel_part(op)
            if part is not None:
                out[part] += passes * float(seconds)
    return out


def iteration_split(placement: Placement, layer: dict[str, float]) -> dict[str, float]:
    """Shares of the iteration: the pipeline's steady part split like one layer, then the rest."""
    bubble = placement.max_load_s * (placement.pipeline - 1)
    steady = placement.pipeline_s - bubble
    total_layer = sum(layer.values())
    shares = {part: steady * seconds / total_layer for part, seconds in layer.items()}
    shares.update(bubble=bubble, dp_allreduce=placement.allreduce_s, optimizer=placement.optimizer_s)
    return {part: seconds / placement.iteration_s for part, seconds in shares.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=Path, default=DEFAULT_ROWS, help="CSV with the megatron_throughput columns")
    args = parser.parse_args(argv)
    register_schemas()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hw=a100", "solver=cpsat"])
    solver, acc = OmegaConf.to_object(cfg.solver), Accelerators.from_config(cfg.hw)
    with open(args.rows, newline="") as fh:
        rows = list(csv.DictReader(fh))
    print(f"{'model':>8} {'error':>7}  " + " ".join(f"{p:>12}" for p in PARTS) + "   (% of the iteration)")
    errors, table = [], []
    for row in rows:
        predicted, outcome = predict_outcome(row, solver, cfg.hw)
        if outcome is None or not isinstance(outcome.result, Placement):
            print(f"{row['params_billion'] + 'B':>8} infeasible")
            continue
        shares = iteration_split(outcome.result, layer_split(row, outcome.setting.microbatch, acc))
        errors.append(predicted / float(row["tflops_per_gpu"]) - 1)
        table.append([shares[p] for p in PARTS])
        cells = " ".join(f"{shares[p]:>12.1%}" for p in PARTS)
        print(f"{row['params_billion'] + 'B':>8} {errors[-1]:>+7.1%}  {cells}")
    if len(errors) >= 3:
        err, parts = np.array(errors), np.array(table)
        corr = [np.corrcoef(err, parts[:, k])[0, 1] if parts[:, k].std() > 0 else float("nan")
                for k in range(len(PARTS))]
        print("correlation of the error with each share: "
              + ", ".join(f"{p} {c:+.2f}" for p, c in zip(PARTS, corr, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
