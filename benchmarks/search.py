"""Speed of the co-search on the full default space (115,894 designs), without baselines or tracking.

For each model: (a) one HBM capacity with every default micro-batch size, tensor width and recompute mode
(target <= 10 minutes on the reference machine); (b) the full grid over HBM 32/64/80 GiB, measured with
--grid or else extrapolated from (a) and labelled so (HBM changes memory feasibility, not the pricing).

    python benchmarks/search.py [--models opt13b gpt3_175b] [--hbm 32] [--grid] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from phaze.config import CONF_DIR, register_schemas
from phaze.hardware import Accelerators
from phaze.search.job import run_search
from phaze.search.pair import PRUNED


def measure(model: str, hbm: float, workers: int, solver: str) -> dict[str, float]:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"model={model}", f"hw.hbm_gib={hbm}", f"solver={solver}",
                                                       f"search.workers={workers}", "search.progress=false"])
    model_cfg, par, sol, search = (OmegaConf.to_object(cfg[k]) for k in ("model", "parallelism", "solver", "search"))
    acc = Accelerators.from_config(cfg.hw)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        run = run_search(model_cfg, par, sol, search, acc, Path(cache))
    wall = time.perf_counter() - start
    pairs = run.pairs()
    closed = [float(lt.fwd.space.closed.mean() + lt.bwd.space.closed.mean()) / 2
              for times in run.space.times.values() for lt in times.values()]
    best = max((r.achieved for r in pairs), default=0.0)
    return {"wall_s": wall, "pairs": len(pairs), "pairs_per_s": len(pairs) / wall,
            "pruned_pct": 100 * sum(r.status == PRUNED for r in pairs) / max(len(pairs), 1),
            "closed_pct": 100 * sum(closed) / max(len(closed), 1),
            "cpsat_pairs": sum(r.refined is not None for r in pairs),
            "cache_hits": run.timings["schedule_cache_hits"], "stage_a_s": run.timings["stage_a_s"],
            "evaluate_s": run.timings["evaluate_s"], "best": best, "settings": len(run.settings),
            "infeasible_settings": len(run.plan.infeasible_settings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["opt13b", "gpt3_175b"])
    parser.add_argument("--hbm", type=float, default=32)
    parser.add_argument("--grid", action="store_true", help="also measure HBM 32/64/80 (else extrapolate)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--solver", default="cpsat")
    args = parser.parse_args()
    register_schemas()
    for model in args.models:
        m = measure(model, args.hbm, args.workers, args.solver)
        print(f"{model} HBM {args.hbm:g} GiB, {m['settings']} settings ({m['infeasible_settings']} do not fit): "
              f"wall {m['wall_s']:.1f} s (stage A {m['stage_a_s']:.1f} s, evaluation {m['evaluate_s']:.1f} s), "
              f"{m['pairs']:,} candidate-settings, {m['pairs_per_s']:,.0f}/s, pruned {m['pruned_pct']:.2f}%, "
              f"closed by greedy {m['closed_pct']:.1f}% of passes, CP-SAT on {m['cpsat_pairs']} pairs, "
              f"schedule cache hits {m['cache_hits']:.0f}, best {m['best']:,.1f} samples/s", flush=True)
        if args.grid:
            total = m["wall_s"] + sum(measure(model, h, args.workers, args.solver)["wall_s"] for h in (64, 80))
            print(f"{model} grid HBM 32/64/80: {total:.1f} s measured", flush=True)
        else:
            print(f"{model} grid HBM 32/64/80: ~{3 * m['wall_s']:.0f} s EXTRAPOLATED (3 x the single-HBM run)",
                  flush=True)


if __name__ == "__main__":
    main()
