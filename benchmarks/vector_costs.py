"""The vector-cost models side by side (docs/vector_costs.md): every vector-op key's cycles per element per lane
under `hw.vector_cost_model=primitives` (per element + per row) and `phaze`, and what the choice does to one
transformer layer: forward + backward greedy makespans of a block on tpuv4_phaze (2 x 128 lanes) and on the A100
(108 x 64 lanes), and the ops whose all-core time grew most.

    .venv/bin/python benchmarks/vector_costs.py [--models bert_large gpt3_175b] [--microbatch 1]
"""

from __future__ import annotations

import argparse

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from phaze.config import CONF_DIR, register_schemas
from phaze.cost import price_graph
from phaze.cost.tables import primitive_cost_table, vector_cycle_table
from phaze.hardware import Accelerators
from phaze.model import build_model
from phaze.placement.layer_times import layer_times


def print_table() -> None:
    prim, old = primitive_cost_table(), vector_cycle_table()
    print(f"{'key':16s} {'primitives fwd':>22s} {'primitives bwd':>22s} {'phaze fwd':>10s} {'phaze bwd':>10s}")
    for key in sorted(prim):
        fwd, bwd = prim[key]
        cells = [f"{c.per_element:g}" + (f" + {c.per_row:g}/row" if c.per_row else "") for c in (fwd, bwd)]
        print(f"{key:16s} {cells[0]:>22s} {cells[1]:>22s} {old[key][0]:>10d} {old[key][1]:>10d}")


def block_effect(model: str, b: int) -> None:
    for hw in ("tpuv4_phaze", "a100"):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=[f"model={model}", f"hw={hw}"])
        graphs = build_model(OmegaConf.to_object(cfg.model), b, 1, False, kernels="fused")
        cells, op_s = [], {}
        for vm in ("phaze", "primitives"):
            acc = Accelerators.from_config(OmegaConf.merge(cfg.hw, {"vector_cost_model": vm}))
            lt = layer_times(graphs, acc)["block"]
            cells.append(f"{vm} {float((lt.fwd.space.greedy_ns[0] + lt.bwd.space.greedy_ns[0]) / 1e6):9.3f} ms")
            ops = [op for g in (graphs.layers["block"].fwd, graphs.layers["block"].bwd) for op in g.ops]
            times = np.concatenate([price_graph(g, acc)[1][0] for g in (graphs.layers["block"].fwd,
                                                                         graphs.layers["block"].bwd)])
            op_s[vm] = {f"{op.name} ({op.pass_})": float(t) for op, t in zip(ops, times, strict=True)}
        grown = sorted(op_s["phaze"], key=lambda k: op_s["phaze"][k] - op_s["primitives"][k])[:3]
        top = ", ".join(f"{k} {1e6 * op_s['phaze'][k]:.0f} -> {1e6 * op_s['primitives'][k]:.0f} us" for k in grown)
        print(f"{model:12s} b={b} {hw:12s} block fwd+bwd: " + " | ".join(cells) + f"; grew most: {top}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["bert_large", "gpt3_175b"])
    ap.add_argument("--microbatch", type=int, default=1)
    args = ap.parse_args()
    register_schemas()
    print_table()
    print()
    for model in args.models:
        block_effect(model, args.microbatch)


if __name__ == "__main__":
    main()
