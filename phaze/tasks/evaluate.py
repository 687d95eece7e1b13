"""`task=evaluate`: best, literature and (optionally) a given placement of one model on one fixed design."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from phaze.config import as_object
from phaze.hardware import Accelerators, hardware_summary
from phaze.model import build_model
from phaze.model.summary import model_summary
from phaze.placement.evaluate import DesignEvaluator
from phaze.placement.report import evaluated_entry
from phaze.placement.strategies import evaluate_best, evaluate_fixed, evaluate_literature_placement
from phaze.report.console import print_placements
from phaze.report.energy_plot import energy_entries, energy_split_plot
from phaze.report.time_plot import time_split_plot
from phaze.tracking.files import write_run_files


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    start = time.perf_counter()
    model_cfg, par = as_object(cfg, "model"), as_object(cfg, "parallelism")
    acc = Accelerators.from_config(cfg.hw)
    ev = DesignEvaluator(model_cfg, par, as_object(cfg, "solver"), acc)
    model = model_summary(build_model(model_cfg, 1))
    peak = float(acc.peak_flops[0])

    def entry(outcome: Any) -> Any:
        return evaluated_entry(ev, outcome, model_cfg, model["params_total"], peak)

    best, outcomes, skipped = evaluate_best(ev, str(cfg.search.objective))
    search_s = time.perf_counter() - start
    result: dict[str, Any] = {
        "task": "evaluate",
        "model": model,
        "hardware": hardware_summary(cfg.hw),
        "best": entry(best) if best is not None else "infeasible: " + _why_none(outcomes),
        "literature": entry(evaluate_literature_placement(ev)),
        "settings": [{"microbatch": o.setting.microbatch, "tensor": o.setting.tensor,
                      "recompute": o.setting.recompute,
                      "throughput_samples_s": o.throughput if o.feasible else None,
                      "status": "feasible" if o.feasible else str(o.result)} for o in outcomes],
        "skipped_widths": skipped,
    }
    if par.fixed_strategy is not None:
        result["fixed"] = entry(evaluate_fixed(ev, par.fixed_strategy))
    print_placements(result)
    if isinstance(result["best"], dict):
        time_split_plot(out_dir / "time_split.png", result["best"]["layer_time_split"],
                        f"{model_cfg.name} on {cfg.hw.name}: where the best placement's layer time goes")
    placements = {name: result.get(name) for name in ("best", "literature", "fixed")}
    if energy_entries(placements):
        energy_split_plot(out_dir / "energy_split.png", placements,
                          f"{model_cfg.name} on {cfg.hw.name}: where the energy of one training iteration goes")
    timings = {"settings_s": search_s, "total_s": time.perf_counter() - start}
    paths = write_run_files(out_dir, cfg, result, timings)
    print(f"results: {paths[0]}")
    return result


def _why_none(outcomes: list) -> str:
    return str(outcomes[0].result) if outcomes else "no setting to evaluate (every tensor width was skipped)"
