"""Child runs of a job and the job's per-candidate figures, in the shapes MLflow's UI compares (DESIGN §8).

Every child (the top-k and Pareto-front candidates and every baseline) logs the same metric keys
(`DESIGN_METRICS` and `speedup_vs_<baseline>` for each baseline feasible at the job's HBM), the tag
`hbm_gib` and a colour per kind (`mlflow.runColor`), and is named for what it is: `#3 8x128x128 tc,
2x128 vc, 32 MiB @80 GiB` or `tpuv4 @32 GiB`. Candidates are ranked by score (`search.objective`; ties: area,
then index, as the search), and the rank is both a metric and the step of the per-candidate metrics; a baseline's
rank is where its score would fall among them. Everything is read
from result.json's structure and the candidates table's columns, so new design fields flow into params.
"""

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

from phaze.search.scores import entry_score
from phaze.tracking.labels import COLOR_TAG, baseline_name, candidate_name, run_color, variant_hbm
from phaze.tracking.values import finite, log_metric_batches, log_values, start_run

GIB = 2**30
THROUGHPUT = "throughput_samples_s"
# The figures of a design, under the same keys on the job run and on every child run.
DESIGN_METRICS = (THROUGHPUT, "tokens_s", "mfu", "memory_per_device_gib", "area_mm2", "rank")
# A placed design's power and energy (phaze/placement/energy.py), under the same keys on every child run (the
# job run logs its best design's as best.*); energy per iteration by part as energy_<part>_j, the candidates
# table's columns.
ENERGY_PARTS = ("arithmetic", "sram", "hbm", "link", "static")
ENERGY_METRICS = ("power_w", "peak_power_w", "energy_per_token_j", "throughput_per_watt",
                  *(f"energy_{part}_j" for part in ENERGY_PARTS))
STEP_METRICS = (THROUGHPUT, "area_mm2", "memory_per_device_gib", "mfu", "power_w", "throughput_per_watt")
STEP_PREFIX = "candidate/"  # step metrics must not share the summary keys (MLflow shows a key's last step)
# Candidates-table columns that are results, not settings: every other column is a design or placement
# field and becomes a param of the candidate's run.
RESULT_COLUMNS = frozenset({"index", "rank", "status", "pareto", "pareto_power", THROUGHPUT, "throughput_upper_bound",
                            "tokens_s", "score", "score_upper_bound", "mfu", "memory_per_device_bytes",
                            "memory_per_device_gib", "area_mm2", "iteration_s", "gap", *ENERGY_METRICS})
INTEGER_COLUMNS = ("index", "rank", "n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_banks", "data",
                   "pipeline", "tensor", "microbatch")
SCORE = "score"  # the candidates table's `search.objective` of each candidate's best placement
SORT = ([SCORE, "area_mm2", "index"], [False, True, True])  # phaze.search.results.best_row's order


def ranked(df: pd.DataFrame) -> pd.DataFrame:
    """The feasible candidates (a throughput > 0), best first (by score, `search.objective`, as the search
    ranks them; by throughput in a table without scores), with `rank` (1..n) as the first column and the
    memory per device in GiB instead of bytes: the MLflow table and the per-candidate steps."""
    thr = df[THROUGHPUT].to_numpy(dtype=float)
    keys = SORT[0] if SCORE in df else [THROUGHPUT, *SORT[0][1:]]
    order = df[np.isfinite(thr) & (thr > 0)].sort_values(keys, ascending=SORT[1], kind="mergesort")
    out = order.reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    if "memory_per_device_bytes" in out:
        out["memory_per_device_gib"] = out.pop("memory_per_device_bytes").astype(float) / GIB
    return out


def log_candidate_steps(client: MlflowClient, run_id: str, table: pd.DataFrame) -> None:
    """Every feasible candidate's throughput, area, memory, MFU, power and throughput per watt as metric
    steps, step = its rank: under `search.objective=throughput` the throughput curve falls monotonically from
    the best design."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    steps = table["rank"].to_numpy(dtype=np.int64)
    metrics = []
    for col in STEP_METRICS:
        if col in table:
            values = table[col].to_numpy(dtype=np.float64)
            ok = np.isfinite(values)
            pairs = zip(values[ok].tolist(), steps[ok].tolist(), strict=True)
            metrics += [Metric(STEP_PREFIX + col, v, now, s) for v, s in pairs]
    log_metric_batches(client, run_id, metrics)


def design_figures(entry: Mapping[str, Any], seq_len: Any = None) -> dict[str, Any]:
    """Throughput, tokens/s, MFU, memory per device in GiB and area of a result entry or a table row."""
    out: dict[str, Any] = {k: entry.get(k) for k in (THROUGHPUT, "tokens_s", "mfu", "area_mm2")}
    if out["tokens_s"] is None and finite(out[THROUGHPUT]) is not None and seq_len:
        out["tokens_s"] = out[THROUGHPUT] * seq_len
    if finite(entry.get("memory_per_device_gib")) is not None:
        out["memory_per_device_gib"] = entry["memory_per_device_gib"]
    elif finite(entry.get("memory_per_device_bytes")) is not None:
        out["memory_per_device_gib"] = entry["memory_per_device_bytes"] / GIB
    return out


def energy_figures(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Power, peak power, energy per token, throughput per watt and energy per iteration by part
    (`energy_<part>_j`) of a result entry (its `energy_parts_j`) or a candidates-table row (its columns);
    None where unknown (an entry from before the energy model)."""
    out: dict[str, Any] = {k: entry.get(k) for k in ENERGY_METRICS[:4]}
    parts = entry.get("energy_parts_j")
    for part in ENERGY_PARTS:
        key = f"energy_{part}_j"
        out[key] = parts.get(part) if isinstance(parts, Mapping) else entry.get(key)
    return out


def search_objective(cfg: DictConfig | None, result: Mapping[str, Any]) -> str:
    """`search.objective` of the run: result.json's (a merge's comes from its shards), else the config's."""
    stats = result.get("search")
    if isinstance(stats, Mapping) and stats.get("objective"):
        return str(stats["objective"])
    return str(OmegaConf.select(cfg, "search.objective", default=None) or "throughput") if cfg is not None \
        else "throughput"


def baseline_throughputs(result: Mapping[str, Any]) -> dict[str, float]:
    """Each baseline's throughput at the job's HBM capacity, where it has a placement that fits."""
    out = {}
    for name, entry in (result.get("baselines") or {}).items():
        best = entry.get("best") if isinstance(entry, Mapping) else None
        if isinstance(best, Mapping) and (thr := finite(best.get(THROUGHPUT))) and thr > 0:
            out[str(name)] = thr
    return out


def speedups(throughput: Any, baselines: Mapping[str, float]) -> dict[str, float]:
    thr = finite(throughput)
    return {} if thr is None else {f"speedup_vs_{b}": thr / value for b, value in baselines.items()}


def rank_among(scores: np.ndarray, score: Any) -> int | None:
    """The rank a design of this score takes among the candidates: 1 + how many score higher."""
    value = finite(score)
    if value is None:
        return None
    return 1 + int(np.count_nonzero(scores > value))


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


def joined(value: Any) -> Any:
    """A list of scalars (stages, cuts) as `6,7,7,6`, the candidates table's spelling."""
    return ",".join(str(v) for v in value) if isinstance(value, list | tuple) else value


def log_children(client: MlflowClient, exp_id: str, job_id: str, cfg: DictConfig,
                 result: Mapping[str, Any], table: pd.DataFrame | None) -> int:
    """Child runs under the job: the top k and the Pareto front of the ranked candidates, then every
    baseline (a variant at another HBM capacity too, unless that is the job's own); their count."""
    best = result.get("best") if isinstance(result.get("best"), Mapping) else {}
    seq_len = OmegaConf.select(cfg, "model.seq_len")
    hbm = float(OmegaConf.select(cfg, "hw.hbm_gib", default=0.0) or 0.0)
    bases = baseline_throughputs(result)
    objective = search_objective(cfg, result)
    column = SCORE if table is not None and SCORE in table else THROUGHPUT
    order = table[column].to_numpy(dtype=float) if table is not None and len(table) else np.zeros(0)
    count = 0
    for row, tags in selected_candidates(table, int(cfg.tracking.children_top_k)) if table is not None else []:
        figures = design_figures(row, seq_len)
        if best.get("index") == row["index"]:  # the winner: fill what the table lacks from result.json
            figures = {k: figures.get(k) if figures.get(k) is not None else v
                       for k, v in design_figures(best, seq_len).items()}
        metrics = figures | energy_figures(row) | {"rank": row["rank"]} | speedups(figures[THROUGHPUT], bases)
        params = {k: v for k, v in row.items() if k not in RESULT_COLUMNS and v is not None}
        _child(client, exp_id, job_id, candidate_name(row["rank"], row, hbm), tags | {"hbm_gib": f"{hbm:g}"},
               params, metrics)
        count += 1
    for name, entry in (result.get("baselines") or {}).items():
        variants: list[tuple[float, Any]] = [(hbm, entry)]
        if isinstance(entry, Mapping):  # the fixed baselines again at search.baseline_hbm_gib: at_32_gib {...}
            for key, item in entry.items():
                at = variant_hbm(str(key))
                if isinstance(item, Mapping) and "best" in item and at is not None and at != hbm:
                    variants.append((at, item))
        for at, item in variants:
            _baseline_child(client, exp_id, job_id, str(name), at, item, order, bases, seq_len,
                            objective if column == SCORE else "throughput")
            count += 1
    return count


def selected_candidates(df: pd.DataFrame, top_k: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(row, tags) of the top k of the ranked table, then the rest of the Pareto fronts (its `pareto` and
    `pareto_power` columns: throughput vs area, vs power per chip)."""
    if not len(df) or "rank" not in df:
        return []
    chosen = df["rank"] <= top_k
    for front in ("pareto", "pareto_power"):
        if front in df:
            chosen |= df[front].astype(bool)
    out = []
    for _, series in df[chosen].iterrows():
        row = {k: _plain(joined(v), integral=k in INTEGER_COLUMNS) for k, v in series.items()}
        pareto = bool(row.get("pareto", False))
        tags = {"candidate.kind": "search", "candidate.index": row["index"],
                "candidate.pareto": str(pareto).lower(), "candidate.top_k": str(row["rank"] <= top_k).lower(),
                "candidate.status": row.get("status"), COLOR_TAG: run_color("pareto" if pareto else "search")}
        if "pareto_power" in row:
            tags["candidate.pareto_power"] = str(bool(row["pareto_power"])).lower()
        out.append((row, tags))
    return out


def _baseline_child(client: MlflowClient, exp_id: str, job_id: str, name: str, hbm: float, entry: Any,
                    order: np.ndarray, bases: Mapping[str, float], seq_len: Any, objective: str = "throughput") -> None:
    tags: dict[str, Any] = {"candidate.kind": name, "hbm_gib": f"{hbm:g}", COLOR_TAG: run_color(name)}
    params: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    best = entry.get("best") if isinstance(entry, Mapping) else entry
    if isinstance(best, Mapping):
        tags["candidate.status"] = best.get("status", "feasible")
        metrics = design_figures(best, seq_len) | energy_figures(best)
        area = entry.get("area_mm2") if isinstance(entry, Mapping) else None
        metrics |= {"rank": rank_among(order, entry_score(best, objective, area))} | speedups(
            metrics[THROUGHPUT], bases)
        params = {k: joined(v) for k, v in (best.get("placement") or {}).items()}
    else:  # "infeasible: <reason>"
        tags["candidate.status"] = "infeasible"
        tags["candidate.reason"] = str(best)
    if isinstance(entry, Mapping):
        if metrics.get("area_mm2") is None:
            metrics["area_mm2"] = entry.get("area_mm2")
        params |= dict(entry.get("design") or {})
        lit = entry.get("literature")
        if isinstance(lit, Mapping):  # a tag, so every child keeps the same metric keys
            tags["literature"] = f"{lit.get(THROUGHPUT, 0):.6g} samples/s, " + ", ".join(
                f"{k}={joined(v)}" for k, v in (lit.get("placement") or {}).items())
        elif lit is not None:
            tags["literature"] = str(lit)
        if "index" in entry:
            tags["candidate.index"] = entry["index"]
        if entry.get("over_power") is not None:  # hw.space.max_power_w set: is its peak over the budget?
            tags["candidate.over_power"] = str(bool(entry["over_power"])).lower()
    _child(client, exp_id, job_id, baseline_name(name, hbm), tags, params, metrics)


def _child(client: MlflowClient, exp_id: str, job_id: str, name: str, tags: Mapping[str, Any],
           params: Mapping[str, Any], metrics: Mapping[str, Any]) -> None:
    run_id = start_run(client, exp_id, name, tags, job_id)
    log_values(client, run_id, params=params, metrics=metrics)
    client.set_terminated(run_id, "FINISHED")
