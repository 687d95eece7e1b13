"""`task=search`: every candidate of `hw=search` x every placement setting, baselines, files, tracking."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from phaze.config import ConfigError, as_object
from phaze.hardware import Accelerators, hardware_summary
from phaze.hardware.space import boundary_axes
from phaze.model import build_model
from phaze.model.summary import model_summary
from phaze.placement.time_split import block_bound
from phaze.report.console import bound_line, print_layer_split
from phaze.report.energy_plot import energy_entries, energy_split_plot
from phaze.report.plots import pareto_plot
from phaze.report.time_plot import time_split_plot
from phaze.schedule import ScheduleCache
from phaze.search.baselines import Baselines, baseline_over_power, speedup
from phaze.search.job import CHUNK_CACHE_VERSION, SCHEDULES_DIR, run_search
from phaze.search.objective import objective_value
from phaze.search.pair import PairResult
from phaze.search.results import best_row, candidates_table, pairs_frame, search_stats
from phaze.search.scores import objective_ratio
from phaze.search.summary import best_entry, best_time_split, candidate_mfu
from phaze.tracking.files import config_hash, write_run_files


def _progress(enabled: bool) -> tuple[Progress | None, Any]:
    if not enabled:
        return None, None
    bar = Progress(TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(), TextColumn("pairs"),
                   TextColumn("{task.fields[rate]}"), TextColumn("best {task.fields[best]}"), TimeElapsedColumn())
    return bar, bar.add_task("search", total=None, rate="", best="-")


def parallel_launcher() -> bool:
    """True when a Hydra launcher other than the basic (sequential) one runs this job."""
    if not HydraConfig.initialized():
        return False
    target = str(OmegaConf.select(HydraConfig.get(), "launcher._target_") or "")
    return bool(target) and not target.endswith("BasicLauncher")


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    start = time.perf_counter()
    model_cfg, par, solver, search = (as_object(cfg, k) for k in ("model", "parallelism", "solver", "search"))
    if parallel_launcher() and search.executor == "ray":  # its workers would wait for the CPUs the jobs hold
        raise ConfigError("search.executor", search.executor, "local under a parallel Hydra launcher (the launcher "
                          "already spreads the jobs; one search over a cluster: docs/scale_out.md)")
    if parallel_launcher() and search.workers > 1:  # jobs already run in parallel: one process each (DESIGN §8)
        search.workers = 1
    acc = Accelerators.from_config(cfg.hw)
    cache_dir = Path(search.cache_dir) / f"{config_hash(cfg)}-v{CHUNK_CACHE_VERSION}"
    bar, task = _progress(search.progress)

    resumed: list[int] = []  # pairs already done in the cache when the run started (the first report)

    def on_progress(done: int, total: int, best: float) -> None:
        if bar is not None:
            if not resumed:
                resumed.append(done)
            fresh = done - resumed[0]  # the rate counts only pairs evaluated by this run
            rate = f"{fresh / max(time.perf_counter() - start, 1e-9):,.0f}/s" if fresh else \
                ("resumed" if done else "")
            bar.update(task, completed=done, total=total, rate=rate, best=_score_text(search.objective, best,
                                                                                      model_cfg.seq_len))

    if bar is not None:
        bar.start()
    try:
        budget = cfg.hw.space.max_power_w if cfg.hw.space is not None else None
        run_ = run_search(model_cfg, par, solver, search, acc, cache_dir, on_progress,
                          None if budget is None else float(budget))
    finally:
        if bar is not None:
            bar.stop()
    search_s = time.perf_counter() - start
    pairs = run_.pairs()
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs_frame(pairs, run_.chunk_of_pairs()).to_parquet(out_dir / "pairs.parquet", index=False)
    baselines = None
    if str(search.shard).startswith("0/"):
        b = Baselines(model_cfg, par, solver, search, model_summary(build_model(model_cfg, 1))["params_total"])
        baselines = b.fixed(float(cfg.hw.hbm_gib)) | b.spotlight(run_.space)
    timings = run_.timings | {"search_s": search_s, "cached_chunks": float(run_.cached_chunks)}
    cache = ScheduleCache(cache_dir / SCHEDULES_DIR)  # the search's: its CP-SAT schedules are read back

    def time_split(best: dict[str, Any]) -> dict[str, Any]:
        return best_time_split(run_.space, best, solver, cache)

    return finish(cfg, out_dir, acc, pairs, run_.member, run_.skipped_widths, _closed_share(run_), baselines,
                  timings, start, time_split, run_.plan.over_power)


def finish(cfg: DictConfig, out_dir: Path, acc: Accelerators, pairs: list[PairResult], member: np.ndarray,
           skipped: list[int], closed_share: float, baselines: dict[str, Any] | None, timings: dict[str, float],
           start: float, time_split: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
           over_power: np.ndarray | None = None) -> dict[str, Any]:
    """Candidates table, result.json, plot and files, shared by task=search and task=merge; `time_split` gives
    the best design's layer time split (None: not known); `over_power` the candidates the power budget left
    out of some setting (None: not known, as in a merge)."""
    model_cfg = as_object(cfg, "model")
    model = model_summary(build_model(model_cfg, 1))
    planned = np.zeros(len(acc), dtype=bool)
    planned[[r.candidate for r in pairs]] = True
    df = candidates_table(acc, member, pairs, planned, over_power, str(cfg.search.objective))
    df["mfu"] = candidate_mfu(df, acc, model_cfg, model["params_total"])
    best = best_entry(best_row(df), acc, model_cfg, model["params_total"])
    result: dict[str, Any] = {"task": str(cfg.task.name), "model": model, "hardware": hardware_summary(cfg.hw),
                              "best": best}
    objective = str(cfg.search.objective)
    budget = None if cfg.hw.space is None or cfg.hw.space.max_power_w is None else float(cfg.hw.space.max_power_w)
    if baselines is not None:
        baselines = _baseline_order(baselines, list(cfg.search.baselines))
        for entry in baselines.values():
            entry["speedup"] = speedup(best, entry)
            if objective != "throughput":
                entry["objective_ratio"] = objective_ratio(best, entry, objective)
            if budget is not None:
                entry["over_power"] = baseline_over_power(entry, budget)
        result["baselines"] = baselines
    result["search"] = search_stats(df, pairs, closed_share, skipped) | {
        "shard": str(cfg.search.shard), "objective": objective, "max_power_w": budget,
        "over_power_candidates": [int(i) for i in df.loc[df["status"] == "over_power", "index"]]}
    if isinstance(best, dict):
        best["objective"] = {"name": objective,
                             "value": objective_value(objective, best["score"], model_cfg.seq_len)}
    split = time_split(best) if time_split is not None and isinstance(best, dict) else None
    if split is not None:
        result["best_layer_time_split"] = split
        if isinstance(best, dict) and (bound := block_bound(split)) is not None:
            best["bound"] = bound
    if isinstance(best, dict):
        best["on_boundary"] = boundary_axes(best["hardware"], cfg.hw.space, cfg.hw)
    out_dir.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out_dir / "candidates.parquet", index=False)
    _plot(out_dir, df, result)
    if "best_layer_time_split" in result:
        time_split_plot(out_dir / "time_split.png", result["best_layer_time_split"],
                        f"{model_cfg.name}: where the best design's layer time goes")
    write_run_files(out_dir, cfg, result, timings | {"total_s": time.perf_counter() - start})
    _print(result, out_dir)
    return result


def _baseline_order(baselines: dict[str, Any], fixed: list[str]) -> dict[str, Any]:
    """The fixed designs in `search.baselines` order, then the others (Spotlight's) by name: the same order
    (so the same plot colours and console lines) whether the entries were just computed or read back from a
    shard's result.json, whose keys are sorted."""
    rank = {name: i for i, name in enumerate(fixed)}
    return dict(sorted(baselines.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def _closed_share(run_: Any) -> float:
    shares = [float(lt.fwd.space.closed.mean() + lt.bwd.space.closed.mean()) / 2
              for times in run_.space.times.values() for lt in times.values()]
    return sum(shares) / len(shares) if shares else 0.0


def _plot(out_dir: Path, df: pd.DataFrame, result: dict[str, Any]) -> Path:
    """pareto.png (throughput vs area and vs power per chip, baselines on both) and, when the best design has
    an energy split, energy_split.png (its energy per iteration by part, and each baseline's)."""
    baselines, watts, energy = {}, {}, {}
    best = result.get("best")
    if isinstance(best, dict):
        energy["phaze best"] = best
    for name, entry in result.get("baselines", {}).items():
        b = entry.get("best") if isinstance(entry, dict) else None
        ok = isinstance(b, dict)
        baselines[name] = (entry.get("area_mm2") if isinstance(entry, dict) else None,
                           b.get("throughput_samples_s") if ok else None)
        watts[name] = b.get("power_w") if ok else None
        energy[name] = b
    front = df.index[df["pareto"]].to_numpy()
    power_front = df.index[df["pareto_power"]].to_numpy() if "pareto_power" in df else None
    at = np.flatnonzero(df["index"].to_numpy() == best["index"]) if isinstance(best, dict) else []
    s = result.get("search", {})
    title = f"{result['model']['name']}: throughput vs area and power per chip (objective: {s.get('objective')})"
    path = pareto_plot(out_dir / "pareto.png", df["area_mm2"].to_numpy(), df["throughput_samples_s"].to_numpy(),
                       front, baselines, title=title,
                       power_w=df["power_w"].to_numpy() if "power_w" in df else None, power_front_idx=power_front,
                       baseline_power_w=watts, best_idx=int(at[0]) if len(at) else None,
                       best_label=f"best ({s.get('objective', 'throughput')})", max_power_w=s.get("max_power_w"))
    if energy_entries(energy):
        energy_split_plot(out_dir / "energy_split.png", energy,
                          f"{result['model']['name']}: where the energy of one training iteration goes")
    return path


def _score_text(objective: str, score: float, seq_len: int) -> str:
    """A score in the objective's own unit, for the progress bar and the console."""
    if objective == "throughput":
        return f"{score:,.1f} samples/s"
    if objective == "throughput_per_mm2":
        return f"{score:,.3f} samples/s/mm²"
    if objective == "throughput_per_watt":
        return f"{score:,.4g} samples/s/W"
    value = objective_value(objective, score, seq_len)
    return f"{value:.4g} J/token" if np.isfinite(value) else "-"


OBJECTIVE_UNITS = {"throughput_per_mm2": "samples/s/mm²", "throughput_per_watt": "samples/s/W",
                   "energy_per_token": "less energy per token"}


def _ratio_text(entry: dict[str, Any], objective: str) -> str:
    """`  (phaze best is 1.02x)`: the throughput ratio, and under another objective its ratio too."""
    sp, ratio = entry.get("speedup"), entry.get("objective_ratio")
    if not sp:
        return ""
    if objective == "throughput" or not ratio:
        return f"  (phaze best is {sp:.2f}x)"
    return f"  (phaze best is {sp:.2f}x the throughput, {ratio:.2f}x {OBJECTIVE_UNITS[objective]})"


def energy_line(entry: dict[str, Any]) -> str:
    """Power, energy per token and throughput per watt of a placed design, one line."""
    parts = entry.get("energy_parts_j") or {}
    total = sum(parts.values()) or 1.0
    split = ", ".join(f"{k} {v / total:.0%}" for k, v in parts.items())
    return (f"{entry['power_w']:.1f} W per chip (peak {entry['peak_power_w']:.1f} W), "
            f"{entry['energy_per_token_j']:.4g} J/token, {entry['throughput_per_watt']:.4g} samples/s/W"
            + (f"; energy: {split}" if split else ""))


def _print(result: dict[str, Any], out_dir: Path) -> None:
    best = result["best"]
    if isinstance(best, dict):
        p = best["placement"]
        print(f"best design: {best['hardware']} area {best['area_mm2']:.2f} mm²: {best['throughput_samples_s']:,.1f} "
              f"samples/s, MFU {best['mfu']:.1%}, d={p['data']} p={p['pipeline']} t={p['tensor']} "
              f"b={p['microbatch']} recompute={p['recompute']}")
    else:
        print(f"best design: {best}")
    if isinstance(best, dict) and np.isfinite(best.get("power_w", np.nan)):
        print(f"  {energy_line(best)}")
    if isinstance(best, dict) and "bound" in best:
        print(f"  block time bound by: {bound_line(best['bound'])}")
    if isinstance(best, dict) and best.get("on_boundary"):
        axes = ", ".join(f"{a}={best['hardware'][a]:g} ({end})" for a, end in best["on_boundary"].items())
        print(f"warning: the best design is on the boundary of the searched space: {axes}")
    s = result["search"]
    for name, entry in result.get("baselines", {}).items():
        b = entry.get("best")
        thr = f"{b['throughput_samples_s']:,.1f} samples/s" if isinstance(b, dict) else str(b)
        print(f"  {name:17s} {thr}" + _ratio_text(entry, s["objective"]))
        if isinstance(b, dict) and np.isfinite(b.get("power_w", np.nan)):
            print(f"  {'':17s} {energy_line(b)}")
        if entry.get("over_power"):
            print(f"  {'':17s} over the power budget: peak {b['peak_power_w']:.1f} W > {s['max_power_w']:g} W")
        if isinstance(b, dict) and "bound" in b:
            print(f"  {'':17s} block time bound by: {bound_line(b['bound'])}")
    if "best_layer_time_split" in result:
        print_layer_split(result["best_layer_time_split"], "time per layer pass of the best design")
    print(f"candidates {s['candidates']:,}: feasible {s['feasible']:,}, pruned {s['pruned']:,}, "
          f"pairs evaluated {s['pairs_evaluated']:,} of {s['pairs']:,}, objective {s['objective']}")
    if s.get("over_power"):
        print(f"  {s['over_power']:,} candidates over the power budget of {s['max_power_w']:g} W (over_power)")
    print(f"results: {out_dir}")
