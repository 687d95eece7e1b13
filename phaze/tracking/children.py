"""Child runs of a job: the top-k and Pareto-front candidates and every baseline, with the job's metric keys
so MLflow's compare view lines them up (DESIGN §8)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

from phaze.tracking.values import SUMMARY_METRICS, log_metric_batches, log_values, start_run

STEP_METRICS = ("throughput_samples_s", "area_mm2", "memory_per_device_bytes")
STEP_PREFIX = "candidate/"  # step metrics must not share the summary keys (MLflow shows a key's last step)
# Mirrors phaze.search.results (not imported: the Hydra callback imports this module in every run).
DESIGN_FIELDS = ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_mib", "glb_banks")
PLACEMENT_FIELDS = ("data", "pipeline", "tensor", "microbatch", "recompute", "stages")
INTEGER_FIELDS = ("index", "n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "data", "pipeline", "tensor",
                  "microbatch")


def log_candidate_steps(client: MlflowClient, run_id: str, df: pd.DataFrame) -> None:
    """Every candidate's throughput, area and memory as metric steps (step = candidate index), NaN skipped."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    steps = df["index"].to_numpy(dtype=np.int64)
    metrics = []
    for col in STEP_METRICS:
        if col in df:
            values = df[col].to_numpy(dtype=np.float64)
            ok = np.isfinite(values)
            key = STEP_PREFIX + col
            pairs = zip(values[ok].tolist(), steps[ok].tolist(), strict=True)
            metrics += [Metric(key, v, now, s) for v, s in pairs]
    log_metric_batches(client, run_id, metrics)


def selected_candidates(df: pd.DataFrame, top_k: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(row, tags) of the top k by throughput (ties: area asc, index asc, as the search), then the Pareto
    front (the table's `pareto` column)."""
    feasible = df[np.isfinite(df["throughput_samples_s"].to_numpy(dtype=float))] if len(df) else df
    order = feasible.sort_values(["throughput_samples_s", "area_mm2", "index"], ascending=[False, True, True],
                                 kind="mergesort")
    rank = {int(i): r + 1 for r, i in enumerate(order["index"])}
    chosen = list(order["index"].head(top_k))
    if "pareto" in df:
        chosen += [i for i in df.loc[df["pareto"].astype(bool), "index"] if i not in chosen]
    rows = df.set_index("index", drop=False)
    out = []
    for i in chosen:
        row = {k: _plain(v, integral=k in INTEGER_FIELDS) for k, v in rows.loc[i].items()}
        tags = {"candidate.kind": "search", "candidate.index": int(i), "candidate.rank": rank.get(int(i)),
                "candidate.pareto": str(bool(row.get("pareto", False))).lower(),
                "candidate.top_k": str(rank.get(int(i), top_k + 1) <= top_k).lower(),
                "candidate.status": row.get("status")}
        out.append((row, tags))
    return out


def _plain(value: Any, integral: bool = False) -> Any:
    """numpy scalars -> Python; NaN -> None; whole floats of integer fields (pandas stores an integer column
    with missing values as float) -> int, so params read `data=8`, not `data=8.0`."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if integral and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def log_children(client: MlflowClient, exp_id: str, job_id: str, cfg: DictConfig,
                 result: Mapping[str, Any], candidates: pd.DataFrame | None) -> int:
    """Child runs under the job: Pareto front and top k candidates, then every baseline; their count."""
    best = result.get("best") if isinstance(result.get("best"), Mapping) else {}
    seq_len = OmegaConf.select(cfg, "model.seq_len")
    count = 0
    if candidates is not None and len(candidates) and "throughput_samples_s" in candidates:
        for row, tags in selected_candidates(candidates, int(cfg.tracking.children_top_k)):
            metrics = {k: row.get(k) for k in SUMMARY_METRICS if k in row}
            if row.get("throughput_samples_s") is not None and seq_len and "tokens_s" not in row:
                metrics["tokens_s"] = row["throughput_samples_s"] * seq_len
            if best.get("index") == row["index"]:  # the winner: the engine computed its MFU
                metrics = {k: best.get(k, metrics.get(k)) for k in SUMMARY_METRICS}
            params = {k: row.get(k) for k in (*DESIGN_FIELDS, *PLACEMENT_FIELDS) if row.get(k) is not None}
            _child(client, exp_id, job_id, f"candidate {row['index']}", tags, params, metrics)
            count += 1
    for name, entry in (result.get("baselines") or {}).items():
        variants = [(None, entry)]
        if isinstance(entry, Mapping):  # e.g. the fixed baselines again at 32 GiB: at_32_gib {best, ...}
            variants += [(k, v) for k, v in entry.items() if isinstance(v, Mapping) and "best" in v]
        for variant, item in variants:
            _baseline_child(client, exp_id, job_id, str(name), variant, item)
            count += 1
    return count


def _baseline_child(client: MlflowClient, exp_id: str, job_id: str, name: str, variant: str | None,
                    entry: Any) -> None:
    tags: dict[str, Any] = {"candidate.kind": name, "baseline.variant": variant or "job_hbm"}
    params: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    best = entry.get("best") if isinstance(entry, Mapping) else entry
    if isinstance(best, Mapping):
        tags["candidate.status"] = best.get("status", "feasible")
        metrics = {k: best.get(k) for k in SUMMARY_METRICS}
        params = {k: v for k, v in (best.get("placement") or {}).items() if k in PLACEMENT_FIELDS}
    else:  # "infeasible: <reason>"
        tags["candidate.status"] = "infeasible"
        tags["candidate.reason"] = str(best)
    if isinstance(entry, Mapping):
        if metrics.get("area_mm2") is None:
            metrics["area_mm2"] = entry.get("area_mm2")
        params |= {k: v for k, v in (entry.get("design") or {}).items() if k in DESIGN_FIELDS}
        metrics["phaze_speedup"] = entry.get("speedup")
        lit = entry.get("literature")
        if isinstance(lit, Mapping):
            metrics |= {f"literature.{k}": lit.get(k) for k in SUMMARY_METRICS}
        if "index" in entry:
            tags["candidate.index"] = entry["index"]
    label = name if variant is None else f"{name} {variant}"
    _child(client, exp_id, job_id, label, tags, params, metrics)


def _child(client: MlflowClient, exp_id: str, job_id: str, name: str, tags: Mapping[str, Any],
           params: Mapping[str, Any], metrics: Mapping[str, Any]) -> None:
    run_id = start_run(client, exp_id, name, tags, job_id)
    log_values(client, run_id, params=params, metrics=metrics)
    client.set_terminated(run_id, "FINISHED")
