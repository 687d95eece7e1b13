"""Baselines evaluated by the same pipeline in the same job (DESIGN §8).

- Fixed designs (`search.baselines`, default tpuv4 and tpuv4_phaze): best and literature placement, at the
  job's HBM capacity and at `search.baseline_hbm_gib`.
- `spotlight`: the hardware searched alone, blind to memory and placement, by Bayesian optimisation
  (phaze.search.spotlight re-implements the Spotlight methodology, Sakhuja et al. HPCA 2023) minimising the
  per-sample forward + backward latency of the whole model, embed + L·block + head, on one accelerator at the
  smallest micro-batch and t = 1 (greedy schedules; docs/spotlight.md); the chosen design is then placed like
  any design.
  `spotlight_oracle` is the exhaustive argmin of the same objective.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from numpy.typing import NDArray
from omegaconf import DictConfig

from phaze.config import CONF_DIR
from phaze.config.model import ModelConfig
from phaze.config.parallelism import ParallelismConfig
from phaze.config.search import SearchConfig
from phaze.config.solver import SolverConfig
from phaze.hardware import Accelerators
from phaze.placement.evaluate import DesignEvaluator
from phaze.placement.report import evaluated_entry
from phaze.placement.strategies import evaluate_best, evaluate_literature_placement
from phaze.schedule import NS_PER_S
from phaze.search.scores import objective_ratio
from phaze.search.space_times import SpaceTimes
from phaze.search.spotlight import spotlight_oracle, spotlight_search

DESIGN_FIELDS = ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width")


def fixed_design(name: str, hbm_gib: float) -> DictConfig:
    """A fixed design's hw config from phaze/conf/hw, at the given HBM capacity."""
    overrides = [f"hw={name}", f"hw.hbm_gib={hbm_gib}"]
    if GlobalHydra.instance().is_initialized():
        return compose(config_name="config", overrides=overrides).hw
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides).hw


def spotlight_objective_parts(space: SpaceTimes, microbatch: int) -> dict[str, NDArray[np.float64]]:
    """(C,) seconds per sample that embed, the L blocks together and head add to Spotlight's objective: forward +
    backward greedy makespans on one accelerator at `microbatch`, t = 1, no recomputation, the block's times L
    times (L = model.layers: every layer runs on the one accelerator), divided by the micro-batch."""
    space.ensure(microbatch, 1)
    times = space.times[(microbatch, 1)]
    repeats = {"embed": 1, "block": space.model.layers, "head": 1}
    return {kind: repeats[kind] * (lt.fwd.space.greedy_ns + lt.bwd.space.greedy_ns).astype(np.float64)
            / NS_PER_S / microbatch for kind, lt in times.items()}


def spotlight_objective(space: SpaceTimes, microbatch: int) -> NDArray[np.float64]:
    """(C,) Spotlight's objective, seconds per sample of the whole model's training compute on one accelerator:
    (embed + L·block + head) forward + backward at `microbatch`, t = 1 (`spotlight_objective_parts`)."""
    parts = spotlight_objective_parts(space, microbatch)
    return np.asarray(parts["embed"] + parts["block"] + parts["head"], dtype=np.float64)


def design_features(acc: Accelerators) -> NDArray[np.float64]:
    cols = [getattr(acc, f).astype(np.float64) for f in (*DESIGN_FIELDS, "glb_bytes", "glb_banks")]
    return np.log2(np.stack(cols, axis=1))


class Baselines:
    """Evaluates every baseline; `entries` maps a name to its result.json entry."""

    def __init__(self, model: ModelConfig, par: ParallelismConfig, solver: SolverConfig, search: SearchConfig,
                 params_total: int) -> None:
        self.model, self.par, self.solver, self.search = model, par, solver, search
        self.params_total = params_total

    def _entry(self, ev: DesignEvaluator, literature: bool) -> dict[str, Any]:
        best, _, _ = evaluate_best(ev, self.search.objective)  # its best setting by the search's objective
        peak = float(ev.acc.peak_flops[0])

        def entry(o: Any) -> Any:
            return evaluated_entry(ev, o, self.model, self.params_total, peak)

        out: dict[str, Any] = {"best": entry(best) if best is not None else "infeasible: no setting fits"}
        if literature:
            out["literature"] = entry(evaluate_literature_placement(ev))
        out["area_mm2"] = None if np.isnan(ev.acc.area_mm2[0]) else float(ev.acc.area_mm2[0])
        out["design"] = {f: int(getattr(ev.acc, f)[0]) for f in DESIGN_FIELDS}
        out["design"]["glb_mib"] = float(ev.acc.glb_bytes[0]) / 2**20
        out["design"]["glb_banks"] = int(ev.acc.glb_banks[0])
        return out

    def fixed(self, hbm_gib: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.search.baselines:
            entry: dict[str, Any] = {}
            for label, hbm in (("job_hbm", hbm_gib), ("hbm_32gib", self.search.baseline_hbm_gib)):
                if label == "hbm_32gib" and hbm == hbm_gib:  # the same evaluation: reuse it
                    entry[label] = entry["job_hbm"]
                    continue
                acc = Accelerators.from_config(fixed_design(name, hbm))
                entry[label] = self._entry(DesignEvaluator(self.model, self.par, self.solver, acc), literature=True)
            out[name] = {**entry["job_hbm"], f"at_{self.search.baseline_hbm_gib:g}_gib": entry["hbm_32gib"]}
        return out

    def spotlight(self, space: SpaceTimes) -> dict[str, Any]:
        objective = spotlight_objective(space, min(self.par.microbatch_sizes))
        found = spotlight_search(design_features(space.acc), objective, self.search.spotlight.evaluations,
                                 self.search.spotlight.seed, self.search.spotlight.initial)
        oracle_idx, oracle_val = spotlight_oracle(objective)
        out = {}
        for name, idx, value in (("spotlight", found.best_index, found.best_value),
                                 ("spotlight_oracle", oracle_idx, oracle_val)):
            ev = DesignEvaluator(self.model, self.par, self.solver, space.acc.take(np.array([idx])))
            entry = self._entry(ev, literature=False)
            entry.update(index=int(idx), objective_s_per_sample=float(value),
                         evaluations=int(found.indices.size) if name == "spotlight" else int(objective.size))
            out[name] = entry
        return out


def speedup(best: Any, baseline: Any) -> float | None:
    """Throughput of the searched best over a baseline's best placement (None if either is infeasible)."""
    return objective_ratio(best, baseline, "throughput")


def baseline_over_power(baseline: Any, max_power_w: float | None) -> bool | None:
    """Whether a baseline's best placement peaks above the power budget `hw.space.max_power_w` (None: no
    budget, or no placement). A baseline is a reference: over the budget it is flagged, never dropped."""
    b = baseline.get("best") if isinstance(baseline, dict) else None
    if max_power_w is None or not isinstance(b, dict) or b.get("peak_power_w") is None:
        return None
    return bool(b["peak_power_w"] > max_power_w)


__all__ = ["Baselines", "baseline_over_power", "fixed_design", "speedup"]
