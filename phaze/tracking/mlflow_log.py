"""Log a finished run to MLflow: sweep parent -> job run -> candidate and baseline children (DESIGN §8).

The run's files are already in the run directory when this is called (DESIGN §1); MLflow only reads and
copies them. Every failure (MLflow, network, SQLAlchemy, a bug here) is caught, reported in ONE stderr line
and turned into `None`: tracking never loses a result and never fails a run. The client and experiment come
from `session.py`, the value shapes from `values.py`, the child runs from `children.py`, the job run's name
and tags from `labels.py`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

from phaze.tracking.children import (
    DESIGN_METRICS,
    ENERGY_PARTS,
    THROUGHPUT,
    baseline_throughputs,
    design_figures,
    joined,
    log_candidate_steps,
    log_children,
    ranked,
    search_objective,
)
from phaze.tracking.labels import job_tags, run_name
from phaze.tracking.session import ensure_experiment, experiment_name, mlflow_session, parent_run_id, warn_failure
from phaze.tracking.ui import browse_hint, save_view
from phaze.tracking.values import finite, flatten, log_values, start_run

# Derived hardware figures (its config fields are already params).
HARDWARE_METRICS = ("area_mm2", "peak_flops", "candidates_total", "candidates_kept", "max_area_mm2")
TABLE_FILE = "candidates.json"  # the MLflow table: feasible candidates only, best first (all: candidates.parquet)


def log_run(cfg: DictConfig, out_dir: Path, result: dict[str, Any], candidates: pd.DataFrame | None,
            artifacts: list[Path]) -> str | None:
    """Log one finished job (any task) to MLflow; the job run's id, or None when tracking is off or failed.
    Prints the run's id and the URL of the experiment's runs table."""
    tracking = cfg.get("tracking")
    if tracking is None or tracking.get("name", "none") == "none":
        return None
    try:
        with mlflow_session(tracking) as client:
            parent, exp_id = _parent_and_experiment(client, cfg)
            tags = job_tags(cfg, out_dir, result)
            run_id = start_run(client, exp_id, run_name(cfg, result), tags, parent)
            try:
                _log_job(client, exp_id, run_id, cfg, out_dir, result, candidates, artifacts)
            except BaseException:
                with suppress(Exception):
                    client.set_terminated(run_id, "FAILED")
                raise
            experiment = client.get_experiment(exp_id)
            save_view(client, exp_id, dict(experiment.tags), baseline_throughputs(result))
    except Exception as exc:  # by design: tracking must never fail the run (DESIGN §1)
        warn_failure(exc, out_dir)
        return None
    print(f"mlflow: run {run_id} in experiment {experiment.name!r} at {tracking.uri}")
    hint = browse_hint(str(tracking.uri), exp_id)
    if hint:
        print(hint)
    return run_id


def _parent_and_experiment(client: MlflowClient, cfg: DictConfig) -> tuple[str | None, str]:
    """A sweep's jobs go into the parent run's experiment (the UI nests runs only within one experiment)."""
    from mlflow.exceptions import MlflowException

    parent = parent_run_id()
    if parent:
        try:
            return parent, str(client.get_run(parent).info.experiment_id)
        except MlflowException:  # e.g. a stale PHAZE_MLFLOW_PARENT_RUN_ID: log the job on its own
            print(f"phaze: MLflow parent run {parent} not found; logging without a parent", file=sys.stderr)
    return None, ensure_experiment(client, experiment_name(cfg), cfg.tracking)


def job_params(cfg: DictConfig, result: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved config, flattened, without the hw fields a search space replaces (`hw.n_tc` of a
    `hw=search` run is the unused template, not a design), plus the best design as `best.*`: its hardware,
    its placement and its other non-figure fields (index, status, ...). `search.objective` is the one the
    result was searched for (a merge's, from its shards)."""
    params = flatten(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False))
    if result.get("task") in ("search", "merge"):
        params["search.objective"] = search_objective(cfg, result)
    space = OmegaConf.select(cfg, "hw.space")
    if result.get("task") in ("search", "merge") and isinstance(space, Mapping):
        for key in space:
            params.pop(f"hw.{key}", None)
    best = result.get("best")
    if isinstance(best, Mapping):
        for section in ("hardware", "placement"):
            if isinstance(best.get(section), Mapping):
                params |= {f"best.{k}": joined(v) for k, v in best[section].items()}
        params |= {f"best.{k}": v for k, v in best.items()
                   if not isinstance(v, Mapping | list | float) and k not in DESIGN_METRICS}
    return params


def _log_job(client: MlflowClient, exp_id: str, run_id: str, cfg: DictConfig, out_dir: Path,
             result: dict[str, Any], candidates: pd.DataFrame | None, artifacts: list[Path]) -> None:
    log_values(client, run_id, params=job_params(cfg, result), metrics=job_metrics(out_dir, result, cfg))
    table = ranked(candidates) if candidates is not None and len(candidates) else None
    if table is not None:
        if cfg.tracking.log_candidate_steps:
            log_candidate_steps(client, run_id, table)
        client.log_table(run_id, data=table, artifact_file=TABLE_FILE)
    for path in artifacts:
        if Path(path).is_file():
            client.log_artifact(run_id, str(path))
    log_children(client, exp_id, run_id, cfg, result, table)
    client.set_terminated(run_id, "FINISHED")


def job_metrics(out_dir: Path, result: Mapping[str, Any], cfg: DictConfig | None = None) -> dict[str, Any]:
    """Summary figures of the job run: the best design's (rank 1, with its layer passes' busy times per kind
    of op; its power, energy and objective as best.*: best.power_w, best.objective.value,
    best.energy_<part>_j, ...), speedups, wall time, and the numeric fields of the model / hardware / search
    summaries (all a task=inspect run has)."""
    seq_len = OmegaConf.select(cfg, "model.seq_len") if cfg is not None else None
    out: dict[str, Any] = {}
    for section in ("model", "hardware", "search"):
        if isinstance(result.get(section), Mapping):
            keys = HARDWARE_METRICS if section == "hardware" else result[section].keys()
            out.update({f"{section}.{k}": result[section][k] for k in keys
                        if finite(result[section].get(k)) is not None})
    best = result.get("best")
    if isinstance(best, Mapping):
        out.update({k: v for k, v in design_figures(best, seq_len).items() if v is not None})
        out.update({f"best.{k}": v for k, v in best.items() if isinstance(v, float) and k not in DESIGN_METRICS
                    and not k.startswith("memory_per_device")})
        if result.get("task") in ("search", "merge") and finite(best.get(THROUGHPUT)) is not None:
            out["rank"] = 1
        objective = best.get("objective")
        if isinstance(objective, Mapping):
            out["best.objective.value"] = objective.get("value")
        parts = best.get("energy_parts_j")
        if isinstance(parts, Mapping):
            out.update({f"best.energy_{part}_j": parts.get(part) for part in ENERGY_PARTS})
    hw = result.get("hardware")
    if "area_mm2" not in out and isinstance(hw, Mapping) and hw.get("area_mm2") is not None:
        out["area_mm2"] = hw["area_mm2"]  # task=evaluate: the fixed design's area
    for name, entry in (result.get("baselines") or {}).items():
        if isinstance(entry, Mapping) and finite(entry.get("speedup")) is not None:
            out[f"speedup_vs_{name}"] = entry["speedup"]
        if isinstance(entry, Mapping) and finite(entry.get("objective_ratio")) is not None:
            out[f"objective_ratio_vs_{name}"] = entry["objective_ratio"]  # by search.objective (not throughput)
    # where the best design's layer time goes (task=search: best_layer_time_split; task=evaluate: in best)
    split = result.get("best_layer_time_split") or (best.get("layer_time_split") if isinstance(best, Mapping) else None)
    if isinstance(split, Mapping):
        out.update({f"time.{kind}.{name}.{key}": value for kind, passes in split.items()
                    for name, row in passes.items() for key, value in row.items()
                    if key.endswith("_s") and finite(value) is not None})
    timings = out_dir / "timings.json"
    if timings.is_file():
        total = json.loads(timings.read_text()).get("total_s")
        if finite(total) is not None:
            out["search_wall_s"] = total
    return out


__all__ = ["job_metrics", "job_params", "log_run"]
