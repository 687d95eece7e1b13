"""Log a finished run to MLflow: sweep parent -> job run -> candidate and baseline children (DESIGN §8).

The run's files are already in the run directory when this is called (DESIGN §1); MLflow only reads and
copies them. Every failure (MLflow, network, SQLAlchemy, a bug here) is caught, reported in ONE stderr line
and turned into `None`: tracking never loses a result and never fails a run.

MLflow 3.17 notes (DESIGN §10): the experiment is created here with an explicit `artifact_location` under
`tracking.artifact_root`, so nothing lands in `./mlruns`; HTTP timeouts and retries are bounded from the
config before the first request, so a dead server costs seconds. The `MlflowClient` API is used throughout
(never the fluent `mlflow.start_run`), so no process-global active run leaks between the jobs that Hydra's
basic launcher runs one after another in one process.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from phaze.tracking.files import provenance

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

PARENT_FILE = "mlflow_parent_run_id"  # written into hydra.sweep.dir by MlflowSweepCallback
PARENT_ENV = "PHAZE_MLFLOW_PARENT_RUN_ID"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own tag: the UI nests a run under this parent
# urllib3 sleeps factor * 2**(n-1) s before retry n: 1 s, 2 s with the default 2 retries (MLflow's default
# factor 2 and 7 retries take minutes). Jitter adds up to this many seconds to each sleep.
HTTP_BACKOFF_FACTOR_S = 1
HTTP_BACKOFF_JITTER_S = 0.5
# MLflow's limits (mlflow.utils.validation, 3.17): batch sizes and value lengths.
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000  # metrics + params + tags in one log_batch
MAX_PARAMS_PER_BATCH = 100
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_KEY_LENGTH = 250
BAD_KEY_CHARS = re.compile(r"[^\w./\- :]")  # MLflow keys: alphanumerics, _ - . / space and colon
# The figures every run of every kind logs under the same keys, so MLflow's compare view lines them up.
SUMMARY_METRICS = ("throughput_samples_s", "tokens_s", "mfu", "memory_per_device_bytes", "area_mm2")
STEP_METRICS = ("throughput_samples_s", "area_mm2", "memory_per_device_bytes")
STEP_PREFIX = "candidate/"  # step metrics must not share the summary keys (MLflow shows a key's last step)
# Mirrors phaze.search.results (not imported: the Hydra callback imports this module in every run).
DESIGN_FIELDS = ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_mib")
PLACEMENT_FIELDS = ("data", "pipeline", "tensor", "microbatch", "recompute", "stages")
# Derived hardware figures (its config fields are already params).
HARDWARE_METRICS = ("area_mm2", "peak_flops", "candidates_total", "candidates_kept", "max_area_mm2")
INTEGER_FIELDS = ("index", "n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "data", "pipeline", "tensor",
                  "microbatch")
SWEEP_FUNCTIONS = ("range(", "choice(", "interval(", "glob(")  # Hydra's sweep override syntax
QUIET_LOGGERS = {"mlflow": logging.WARNING, "alembic": logging.WARNING, "urllib3": logging.ERROR}


def warn_failure(exc: BaseException, where: Path | str) -> None:
    first = (str(exc).strip().splitlines() or [""])[0]
    print(f"phaze: MLflow logging failed ({type(exc).__name__}: {first}); results are in {where}",
          file=sys.stderr)


@contextmanager
def mlflow_session(tracking: Any) -> Iterator[MlflowClient]:
    """A client for `tracking.uri` with bounded HTTP timeouts and retries, MLflow's INFO chatter and
    warnings silenced, and the sqlite file's directory created; the environment is restored afterwards."""
    env = {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(int(tracking.http_timeout_s)),
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(int(tracking.http_max_retries)),
           "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(HTTP_BACKOFF_FACTOR_S),
           "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": str(HTTP_BACKOFF_JITTER_S),
           "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}  # else 2 lines per run (children too)
    saved_env = {k: os.environ.get(k) for k in env}
    saved_levels: dict[str, int] = {}
    os.environ.update(env)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mlflow import MlflowClient  # its first import configures the "mlflow" logger: quiet it now

            saved_levels.update({name: logging.getLogger(name).level for name in QUIET_LOGGERS})
            for name, level in QUIET_LOGGERS.items():
                logging.getLogger(name).setLevel(level)
            _make_sqlite_dir(str(tracking.uri))
            yield MlflowClient(tracking_uri=str(tracking.uri))
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def _make_sqlite_dir(uri: str) -> None:
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///").split("?")[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def experiment_name(cfg: DictConfig) -> str:
    """`tracking.experiment`, else the top-level `experiment_name` of an experiments/ file, else the model."""
    tracking = cfg.get("tracking")
    if tracking is not None and tracking.get("experiment"):
        return str(tracking.experiment)
    if cfg.get("experiment_name"):
        return str(cfg.experiment_name)
    model = cfg.get("model")
    return str(model.name) if model is not None and model.get("name") else "phaze"


def artifact_location(tracking: Any, name: str) -> str | None:
    """`<artifact_root>/<experiment>` as an absolute URI. For a remote server and a plain local root, None:
    the server's own artifact store, where every user of the server can read them."""
    root = str(tracking.artifact_root)
    safe = re.sub(r"[^\w.\-]", "_", name)
    if re.match(r"^[a-zA-Z][\w+.\-]*:", root):  # already a URI: s3://, mlflow-artifacts:/, file:///
        return f"{root.rstrip('/')}/{safe}"
    if str(tracking.uri).startswith(("http:", "https:", "databricks")):
        return None
    return (Path(root).resolve() / safe).as_uri()


def ensure_experiment(client: MlflowClient, name: str, tracking: Any) -> str:
    """The experiment's id, creating it (with its artifact location) or restoring a deleted one."""
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location(tracking, name))
        except MlflowException:  # another job created it between the two calls
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return str(exp.experiment_id)


def parent_run_id() -> str | None:
    """The sweep's parent run: `<hydra.sweep.dir>/mlflow_parent_run_id` in a Hydra multirun, else the
    `PHAZE_MLFLOW_PARENT_RUN_ID` environment variable."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized():
        hc = HydraConfig.get()
        if hc.mode == RunMode.MULTIRUN:
            path = Path(str(hc.sweep.dir)) / PARENT_FILE
            if path.is_file() and path.read_text().strip():
                return path.read_text().strip()
    return os.environ.get(PARENT_ENV) or None


def clean_key(key: str) -> str:
    return BAD_KEY_CHARS.sub("_", key)[:MAX_KEY_LENGTH]


def param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:MAX_PARAM_VALUE_LENGTH]


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Nested dicts -> {"model.hidden": "5120", ...}; lists and scalars become JSON-like strings."""
    if not isinstance(data, Mapping):
        return {prefix: param_value(data)} if prefix else {}
    out: dict[str, str] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def log_values(client: MlflowClient, run_id: str, params: Mapping[str, Any] | None = None,
               metrics: Mapping[str, Any] | None = None, step: int = 0) -> None:
    """Params (stringified, truncated) and finite metrics, packed into as few MLflow-sized batches as fit
    (each batch is one store transaction: on sqlite the commits dominate the cost)."""
    from mlflow.entities import Metric, Param

    plist = [Param(clean_key(k), param_value(v)) for k, v in (params or {}).items() if v is not None]
    now = int(time.time() * 1000)
    mlist = [Metric(clean_key(k), f, now, step) for k, v in (metrics or {}).items()
             if (f := finite(v)) is not None]
    while plist or mlist:
        p, plist = plist[:MAX_PARAMS_PER_BATCH], plist[MAX_PARAMS_PER_BATCH:]
        room = MAX_ENTITIES_PER_BATCH - len(p)
        m, mlist = mlist[:room], mlist[room:]
        client.log_batch(run_id, metrics=m, params=p)


def log_metric_batches(client: MlflowClient, run_id: str, metrics: list[Any]) -> None:
    for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[i:i + MAX_METRICS_PER_BATCH])


def start_run(client: MlflowClient, experiment_id: str, name: str, tags: Mapping[str, Any],
              parent: str | None) -> str:
    all_tags = {clean_key(k): str(v)[:MAX_TAG_VALUE_LENGTH] for k, v in tags.items() if v is not None}
    if parent:
        all_tags[PARENT_TAG] = parent
    return str(client.create_run(experiment_id, run_name=name, tags=all_tags).info.run_id)


def log_run(cfg: DictConfig, out_dir: Path, result: dict[str, Any], candidates: pd.DataFrame | None,
            artifacts: list[Path]) -> str | None:
    """Log one finished job (any task) to MLflow; the job run's id, or None when tracking is off or failed."""
    tracking = cfg.get("tracking")
    if tracking is None or tracking.get("name", "none") == "none":
        return None
    try:
        with mlflow_session(tracking) as client:
            parent, exp_id = _parent_and_experiment(client, cfg)
            tags = _job_tags(cfg, out_dir, result)
            run_id = start_run(client, exp_id, _run_name(cfg, result), tags, parent)
            try:
                _log_job(client, exp_id, run_id, cfg, out_dir, result, candidates, artifacts)
            except BaseException:
                with suppress(Exception):
                    client.set_terminated(run_id, "FAILED")
                raise
            exp_name = client.get_experiment(exp_id).name if parent else experiment_name(cfg)
    except Exception as exc:  # by design: tracking must never fail the run (DESIGN §1)
        warn_failure(exc, out_dir)
        return None
    print(f"mlflow: run {run_id} in experiment {exp_name!r} at {tracking.uri}")
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


def _log_job(client: MlflowClient, exp_id: str, run_id: str, cfg: DictConfig, out_dir: Path,
             result: dict[str, Any], candidates: pd.DataFrame | None, artifacts: list[Path]) -> None:
    params = flatten(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False))
    log_values(client, run_id, params=params, metrics=job_metrics(out_dir, result))
    if candidates is not None and len(candidates):
        if cfg.tracking.log_candidate_steps:
            log_candidate_steps(client, run_id, candidates)
        client.log_table(run_id, data=candidates, artifact_file="candidates.json")
    for path in artifacts:
        if Path(path).is_file():
            client.log_artifact(run_id, str(path))
    log_children(client, exp_id, run_id, cfg, result, candidates)
    client.set_terminated(run_id, "FINISHED")


def _run_name(cfg: DictConfig, result: Mapping[str, Any]) -> str:
    """`<task>-<model>`; in a sweep also `#<job num>` and the values this job sweeps (e.g. hw.hbm_gib=64)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    model = OmegaConf.select(cfg, "model.name") or experiment_name(cfg)
    name = f"{result.get('task') or OmegaConf.select(cfg, 'task.name') or 'run'}-{model}"
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        hc = HydraConfig.get()
        swept = set(OmegaConf.select(hc, "sweeper.params", default=None) or {})
        sweep_file = Path(str(hc.sweep.dir)) / "multirun.yaml"  # the sweep's command line (basic sweeper)
        if sweep_file.is_file():
            line = OmegaConf.select(OmegaConf.load(sweep_file), "hydra.overrides.task", default=None) or []
            swept |= {str(o).split("=", 1)[0] for o in line if _is_sweep(str(o).split("=", 1)[-1])}
        mine = [str(o) for o in OmegaConf.select(hc, "overrides.task", default=None) or []
                if str(o).split("=", 1)[0] in swept]
        name += f" #{OmegaConf.select(hc, 'job.num', default='')} {','.join(mine)}"
    return name.rstrip()


def _is_sweep(value: str) -> bool:
    """`a,b` or a sweep function; a list or dict value (`[1,2]`) is one value, not a sweep."""
    return value.startswith(SWEEP_FUNCTIONS) or ("," in value and not value.startswith(("[", "{")))


def group_choices(cfg: DictConfig) -> dict[str, str]:
    """Hydra's `runtime.choices` (without hydra/* groups) when available, else each section's `name`."""
    from hydra.core.hydra_config import HydraConfig

    choices = OmegaConf.select(cfg, "hydra.runtime.choices")  # a config composed with its hydra node
    if choices is None and HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
    if choices is not None:
        return {str(k): str(v) for k, v in choices.items()
                if v is not None and not str(k).startswith(("hydra/", "schema/"))}
    return {str(k): str(v.name) for k, v in cfg.items() if isinstance(v, DictConfig) and v.get("name")}


def _job_tags(cfg: DictConfig, out_dir: Path, result: Mapping[str, Any]) -> dict[str, Any]:
    """Provenance from the result, else from result.json on disk, else recomputed from the config."""
    prov = {k: result.get(k) for k in ("phaze_version", "git_commit", "config_hash")}
    on_disk = out_dir / "result.json"
    if None in prov.values() and on_disk.is_file():
        stored = json.loads(on_disk.read_text())
        prov = {k: stored.get(k) if v is None else v for k, v in prov.items()}
    if None in prov.values():
        prov = {k: provenance(cfg).get(k) if v is None else v for k, v in prov.items()}
    return group_choices(cfg) | prov | {"task": result.get("task"), "run_dir": str(out_dir),
                                         "mlflow.source.git.commit": prov["git_commit"]}


def job_metrics(out_dir: Path, result: Mapping[str, Any]) -> dict[str, Any]:
    """Summary figures of the job run: the best design's, speedups, wall time, and the numeric fields of
    the model / hardware / search summaries (all a task=inspect run has)."""
    out: dict[str, Any] = {}
    for section in ("model", "hardware", "search"):
        if isinstance(result.get(section), Mapping):
            keys = HARDWARE_METRICS if section == "hardware" else result[section].keys()
            out.update({f"{section}.{k}": result[section][k] for k in keys
                        if finite(result[section].get(k)) is not None})
    best = result.get("best")
    if isinstance(best, Mapping):
        out.update({k: best[k] for k in SUMMARY_METRICS if k in best})
    hw = result.get("hardware")
    if "area_mm2" not in out and isinstance(hw, Mapping) and hw.get("area_mm2") is not None:
        out["area_mm2"] = hw["area_mm2"]  # task=evaluate: the fixed design's area
    for name, entry in (result.get("baselines") or {}).items():
        if isinstance(entry, Mapping) and finite(entry.get("speedup")) is not None:
            out[f"speedup_vs_{name}"] = entry["speedup"]
    timings = out_dir / "timings.json"
    if timings.is_file():
        total = json.loads(timings.read_text()).get("total_s")
        if finite(total) is not None:
            out["search_wall_s"] = total
    return out


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


__all__ = ["PARENT_ENV", "PARENT_FILE", "ensure_experiment", "experiment_name", "log_run", "mlflow_session",
           "parent_run_id", "warn_failure"]
