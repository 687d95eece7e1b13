"""From pair results to the candidates table and the `search`/`best` sections of result.json (DESIGN §8).

A candidate's throughput is its best achieved placement over all settings. Its status: `optimal` (that
placement's schedules are proven optimal), `feasible` (a solver budget ran out; gap reported), `bounded`
(an achieved placement is known but its exact value was not needed: it cannot beat the incumbent),
`pruned` (its optimistic bound could not beat the incumbent in any setting), `infeasible` (no setting fits
in memory). Ties between candidates break by (throughput desc, area asc, index asc).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from phaze.hardware import Accelerators
from phaze.placement.energy import ENERGY_PARTS
from phaze.search.pair import FEASIBLE, OPTIMAL, PRUNED, PRUNED_DP, PairResult
from phaze.search.pareto import pareto_front

STATUS_OF_PAIR = {OPTIMAL: "optimal", FEASIBLE: "feasible", PRUNED_DP: "bounded"}
PLACEMENT_COLUMNS = ("data", "pipeline", "tensor", "microbatch", "recompute")


ENERGY_COLUMNS = ("power_w", "peak_power_w", "energy_per_token_j", "throughput_per_watt")
PART_COLUMNS = tuple(f"energy_{part}_j" for part in ENERGY_PARTS)  # per iteration, the whole cluster


def candidates_table(acc: Accelerators, member: np.ndarray, pairs: list[PairResult],
                     planned: np.ndarray, over_power: np.ndarray | None = None,
                     objective: str = "throughput") -> pd.DataFrame:
    """One row per candidate of this shard, in index order; a candidate's best pair is its highest score
    (`search.objective`). `over_power` marks candidates the power budget left out of some setting: those with
    no placed pair are `over_power` instead of `infeasible`. `throughput_upper_bound` is NaN where only a
    score bound of another objective is known (`score_upper_bound`)."""
    idx = np.flatnonzero(member)
    n = len(acc)
    best: dict[int, PairResult] = {}
    upper, score_upper = np.zeros(n), np.zeros(n)
    for r in pairs:
        # a pruned pair's optimistic bound is a score: a throughput bound only when the objective is throughput
        thr_bound = (r.optimistic if objective == "throughput" else np.inf) if r.status == PRUNED else (
            r.upper or r.achieved)
        upper[r.candidate] = max(upper[r.candidate], thr_bound)
        score_upper[r.candidate] = max(score_upper[r.candidate], r.optimistic if r.status == PRUNED else (
            r.upper_score or r.score))
        cur = best.get(r.candidate)
        if r.achieved > 0 and (cur is None or r.score > cur.score):
            best[r.candidate] = r
    rows: dict[str, list[Any]] = {k: [] for k in (
        "index", "n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_mib", "glb_banks", "glb_bw_bytes_per_cycle",
        "area_mm2", "status",
        "throughput_samples_s", "throughput_upper_bound", "score", "score_upper_bound", *ENERGY_COLUMNS, *PART_COLUMNS,
        "memory_per_device_bytes",
        "iteration_s", "gap", *PLACEMENT_COLUMNS, "stages")}
    for c in idx:
        r = best.get(int(c))
        rows["index"].append(int(c))
        for f in ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width"):
            rows[f].append(int(getattr(acc, f)[c]))
        rows["glb_mib"].append(float(acc.glb_bytes[c]) / 2**20)
        rows["glb_banks"].append(int(acc.glb_banks[c]))
        rows["glb_bw_bytes_per_cycle"].append(float(acc.glb_bw_bytes_per_cycle[c]))
        rows["area_mm2"].append(float(acc.area_mm2[c]))
        hot = over_power is not None and bool(over_power[c])
        status = STATUS_OF_PAIR[r.status] if r is not None else (
            "pruned" if planned[c] else "over_power" if hot else "infeasible")
        rows["status"].append(status)
        rows["throughput_samples_s"].append(r.achieved if r is not None else np.nan)
        rows["throughput_upper_bound"].append(upper[c] if 0 < upper[c] < np.inf else np.nan)
        rows["score_upper_bound"].append(score_upper[c] if score_upper[c] > 0 else np.nan)
        rows["score"].append(r.score if r is not None else np.nan)
        p = r.placement if r is not None and r.placement else {}
        for col in ENERGY_COLUMNS:
            rows[col].append(p.get(col, np.nan))
        parts = p.get("energy_parts_j", {})
        for part, col in zip(ENERGY_PARTS, PART_COLUMNS, strict=True):
            rows[col].append(parts.get(part, np.nan))
        rows["memory_per_device_bytes"].append(p.get("memory_per_device_bytes", np.nan))
        rows["iteration_s"].append(p.get("iteration_s", np.nan))
        rows["gap"].append(r.gap if r is not None else np.nan)
        for col in PLACEMENT_COLUMNS:
            rows[col].append(p.get(col))
        rows["stages"].append(",".join(str(x) for x in p.get("stages", [])))
    df = pd.DataFrame(rows)
    df["pareto"] = False
    feasible = df["throughput_samples_s"].to_numpy(dtype=float)
    front = pareto_front(np.nan_to_num(feasible, nan=0.0), df["area_mm2"].to_numpy(dtype=float))
    df.loc[front, "pareto"] = True
    df["pareto_power"] = False
    power = df["power_w"].to_numpy(dtype=float)
    front_w = pareto_front(np.nan_to_num(feasible, nan=0.0), np.where(np.isfinite(power), power, np.inf))
    df.loc[front_w, "pareto_power"] = True
    return df


def best_row(df: pd.DataFrame) -> pd.Series | None:
    ok = df[df["throughput_samples_s"] > 0]
    if ok.empty:
        return None
    order = ok.sort_values(["score", "area_mm2", "index"], ascending=[False, True, True], kind="mergesort")
    return order.iloc[0]


def search_stats(df: pd.DataFrame, pairs: list[PairResult], closed_share: float, skipped: list[int]) -> dict:
    counts = df["status"].value_counts().to_dict()
    evaluated = [r for r in pairs if r.status in (OPTIMAL, FEASIBLE)]
    return {
        "candidates": len(df),
        "feasible": int(np.isfinite(df["throughput_samples_s"].to_numpy(dtype=float)).sum()),
        "pruned": int(counts.get("pruned", 0)),
        "bounded": int(counts.get("bounded", 0)),
        "infeasible": int(counts.get("infeasible", 0)),
        "over_power": int(counts.get("over_power", 0)),
        "pairs": len(pairs),
        "pairs_pruned": sum(r.status == PRUNED for r in pairs),
        "pairs_evaluated": len(evaluated),
        "closed_by_greedy": closed_share,
        "pairs_refined": sum(r.refined is not None for r in pairs),  # schedules solved per candidate
        "optimal": int(counts.get("optimal", 0)),
        "gap": max((r.gap for r in evaluated), default=0.0),
        "skipped_widths": skipped,
    }


def pairs_frame(pairs: list[PairResult], chunks: list[int]) -> pd.DataFrame:
    """pairs.parquet: one row per (candidate, setting) pair with the chunk it was evaluated in; placements
    as repr strings, since parquet columns are flat."""
    df = pd.DataFrame([r.as_dict() for r in pairs])
    if df.empty:
        df = pd.DataFrame(columns=[*PairResult.__dataclass_fields__])
    for col in ("greedy_placement", "refined_placement", "placement"):
        df[col] = df[col].map(lambda v: repr(v) if v is not None else None)
    df["chunk"] = chunks
    return df
