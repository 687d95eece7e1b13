"""Benchmark: price every forward and backward op of one opt13b block (micro-batch 1, s = 2048, t = 1) on
every candidate of the default search space (115,894 designs), in both modes (DESIGN §5).

Prints op-pricings per second (candidates x ops x 2 modes / wall time) and the wall time; target: the
whole block on all candidates in <= 2 s on the reference machine.

    .venv/bin/python benchmarks/cost_model.py [--model opt13b] [--microbatch 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from phaze.config.hw import HwConfig
from phaze.config.model import ModelConfig
from phaze.cost import price_graph
from phaze.hardware import Accelerators
from phaze.model import build_model

CONF = Path(__file__).resolve().parents[1] / "phaze" / "conf"


def load(model: str) -> tuple[ModelConfig, HwConfig]:
    cs = ConfigStore.instance()
    cs.store(group="schema/model", name="base", node=ModelConfig)
    cs.store(group="schema/hw", name="base", node=HwConfig)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(overrides=[f"+model={model}", "+hw=search"])
    return OmegaConf.to_object(cfg.model), OmegaConf.to_object(cfg.hw)  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="opt13b")
    ap.add_argument("--microbatch", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    model_cfg, hw_cfg = load(args.model)
    t0 = time.perf_counter()
    acc = Accelerators.from_config(hw_cfg)
    t_space = time.perf_counter() - t0
    block = build_model(model_cfg, args.microbatch).layers["block"]
    graphs = [block.fwd, block.bwd]
    n_ops = sum(len(g.ops) for g in graphs)

    walls = []
    for _ in range(args.repeat):
        acc = Accelerators.from_config(hw_cfg)  # fresh: the TC/VC dedupe is recomputed every time
        t0 = time.perf_counter()
        results = [price_graph(g, acc) for g in graphs]
        walls.append(time.perf_counter() - t0)
    wall = min(walls)
    pricings = len(acc) * n_ops * 2
    fwd_s = results[0][1].sum(axis=1)
    bwd_s = results[1][1].sum(axis=1)
    print(f"model={args.model} microbatch={args.microbatch} seq={model_cfg.seq_len} block ops: "
          f"{len(graphs[0].ops)} fwd + {len(graphs[1].ops)} bwd; candidates={len(acc)}")
    print(f"enumerate space: {t_space * 1e3:.1f} ms")
    print(f"price block (both modes): best of {args.repeat}: {wall * 1e3:.1f} ms "
          f"(median {np.median(walls) * 1e3:.1f} ms); {pricings / wall:,.0f} op-pricings/s")
    best = int(np.argmin(fwd_s + bwd_s))
    r = acc.row(best)
    print(f"fastest serial all-core block fwd+bwd: {(fwd_s + bwd_s)[best] * 1e3:.2f} ms on n_tc={r.n_tc} "
          f"W={r.tc_width} D={r.tc_depth} n_vc={r.n_vc} glb={r.glb_bytes // 2**20} MiB ({r.area_mm2:.1f} mm²)")


if __name__ == "__main__":
    main()
