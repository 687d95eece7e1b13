"""The `best` entry of a search's result.json: the winning design, its placement, its figures and where its
layer time goes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from phaze.config.model import ModelConfig
from phaze.config.solver import SolverConfig
from phaze.hardware import Accelerators
from phaze.model.summary import kaplan_train_flops_per_token
from phaze.placement.energy import ENERGY_PARTS
from phaze.placement.time_split import pass_split
from phaze.schedule import ScheduleCache
from phaze.search.results import ENERGY_COLUMNS, PART_COLUMNS, PLACEMENT_COLUMNS
from phaze.search.space_times import SpaceTimes


def candidate_mfu(df: pd.DataFrame, acc: Accelerators, model: ModelConfig, params_total: int) -> np.ndarray:
    """(rows,) model FLOPs utilisation of each candidate's best placement, as `best_entry` computes it for the
    winner (NaN where a candidate has no placement): the candidates table's `mfu` column."""
    flops = kaplan_train_flops_per_token(params_total, model.layers, model.seq_len, model.hidden)
    devices = (df["data"].to_numpy(dtype=float) * df["pipeline"].to_numpy(dtype=float)
               * df["tensor"].to_numpy(dtype=float))
    peak = acc.peak_flops[df["index"].to_numpy(dtype=np.int64)].astype(float)
    tokens_s = df["throughput_samples_s"].to_numpy(dtype=float) * model.seq_len
    with np.errstate(invalid="ignore", divide="ignore"):
        return flops * tokens_s / (devices * peak)


def best_entry(row: pd.Series | None, acc: Accelerators, model: ModelConfig, params_total: int) -> dict[str, Any] | str:
    if row is None:
        return "infeasible: no candidate has a placement that fits"
    c = int(row["index"])
    thr = float(row["throughput_samples_s"])
    tokens_s = thr * model.seq_len
    devices = int(row["data"]) * int(row["pipeline"]) * int(row["tensor"])
    flops = kaplan_train_flops_per_token(params_total, model.layers, model.seq_len, model.hidden)
    return {
        "index": c,
        "hardware": {f: int(row[f]) for f in ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_banks")}
        | {"glb_mib": float(row["glb_mib"]), "peak_flops": float(acc.peak_flops[c])},
        "area_mm2": float(row["area_mm2"]),
        "placement": {k: (row[k] if k == "recompute" else int(row[k])) for k in PLACEMENT_COLUMNS}
        | {"stages": [int(x) for x in str(row["stages"]).split(",") if x]},
        "throughput_samples_s": thr,
        "tokens_s": tokens_s,
        "iteration_s": float(row["iteration_s"]),
        "mfu": flops * tokens_s / (devices * float(acc.peak_flops[c])),
        "memory_per_device_bytes": float(row["memory_per_device_bytes"]),
        "status": str(row["status"]),
        "score": float(row["score"]),
    } | {col: float(row[col]) for col in ENERGY_COLUMNS} | {
        "energy_parts_j": {part: float(row[col]) for part, col in zip(ENERGY_PARTS, PART_COLUMNS, strict=True)}}


def best_time_split(space: SpaceTimes, best: dict[str, Any], solver: SolverConfig,
                    cache: ScheduleCache | None) -> dict[str, dict[str, dict[str, float]]]:
    """Where the best design's layer time goes (`placement.time_split`): each layer kind's forward and
    backward pass at the best placement's micro-batch and width, from the same schedules the search priced
    (greedy where it met the bound, else the solver's, read back from the schedule cache when it has them)."""
    c, p = int(best["index"]), best["placement"]
    schedules = space.schedules(int(p["microbatch"]), int(p["tensor"]), c, solver, cache)
    times = space.times[(int(p["microbatch"]), int(p["tensor"]))]
    return {kind: {name: pass_split(getattr(times[kind], name), c, sched)
                   for name, sched in zip(("fwd", "bwd"), schedules[kind], strict=True)} for kind in schedules}
