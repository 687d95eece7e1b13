"""What Spotlight's objective is made of (docs/spotlight.md): per sample, embed + L·block + head forward + backward
on one accelerator at micro-batch b, t = 1, greedy schedules, and the share of each part; beside it the old
objective (embed + 1 block + head), in which the LM head dominated. On tpuv4_phaze (one design) and on the
default search space (its median share and whether the argmin moves), under both vector-cost models.

    .venv/bin/python benchmarks/spotlight_objective.py [--model bert_large] [--microbatch 1] [--space-only-small]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from phaze.config import CONF_DIR, register_schemas
from phaze.hardware import Accelerators
from phaze.search.baselines import spotlight_objective_parts
from phaze.search.space_times import SpaceTimes

SMALL = ["hw.space.n_tc.max=16", "hw.space.n_vc.max=8", "hw.space.tc_width.max=64", "hw.space.tc_depth.max=64",
         "hw.space.glb_mib.max=8", "hw.space.min_area_fraction=0"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="bert_large")
    ap.add_argument("--microbatch", type=int, default=1)
    ap.add_argument("--space-only-small", action="store_true", help="a 2,160-design space instead of the default")
    args = ap.parse_args()
    register_schemas()
    spaces = [("tpuv4_phaze", ["hw=tpuv4_phaze"]), ("search", ["hw=search", *(SMALL if args.space_only_small else [])])]
    for name, hw in spaces:
        for vm in ("primitives", "phaze"):
            start = time.perf_counter()
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
                cfg = compose(config_name="config", overrides=[f"model={args.model}", *hw,
                                                                f"hw.vector_cost_model={vm}"])
            model = OmegaConf.to_object(cfg.model)
            space = SpaceTimes(model, Accelerators.from_config(cfg.hw), False, "fused")  # type: ignore[arg-type]
            p = spotlight_objective_parts(space, args.microbatch)
            whole = p["embed"] + p["block"] + p["head"]
            old = p["embed"] + p["block"] / model.layers + p["head"]  # type: ignore[attr-defined]
            med = {k: float(np.median(v / whole)) for k, v in p.items()}
            old_head = float(np.median(p["head"] / old))
            print(f"{args.model} b={args.microbatch} {name:12s} ({len(whole):6,d} designs) {vm:10s} "
                  f"whole model: embed {100 * med['embed']:4.1f} %, blocks {100 * med['block']:4.1f} %, "
                  f"head {100 * med['head']:4.1f} % | old objective: head {100 * old_head:4.1f} %"
                  f" | argmin whole {int(np.argmin(whole))}, old {int(np.argmin(old))} "
                  f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
