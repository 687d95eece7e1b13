"""Schema of the `tracking` group: where (and whether) a run is logged to MLflow (DESIGN §8, §10).

Tracking never decides what a run computes and never loses a result: the run's files are written to the run
directory first, and MLflow only reads them. `tracking=none` switches it off.

Paths in `uri` and `artifact_root` that are relative (`sqlite:///outputs/mlflow.db`, `outputs/...`) are
relative to the current working directory of the process (Hydra 1.3 with `version_base="1.3"` does not
chdir), i.e. the directory `python -m phaze` was started from.
"""

from __future__ import annotations

from dataclasses import dataclass

from phaze.config.errors import ConfigError

BACKENDS = ("mlflow", "none")
# MLflow's own URI schemes for a tracking store (file store needs opting in under MLflow 3, DESIGN §10).
# MLflow refuses more retries than this (its _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT, default 10).
MLFLOW_MAX_RETRIES_LIMIT = 10
URI_SCHEMES = ("sqlite:", "http:", "https:", "postgresql", "mysql", "mssql", "databricks", "file:")


@dataclass
class TrackingConfig:
    name: str = "mlflow"  # mlflow | none
    # Tracking store: embedded sqlite by default (relative to the working directory), or any MLflow URI,
    # e.g. http://mlflow.example:5000 for a shared server.
    uri: str = "sqlite:///outputs/mlflow.db"
    # Where artifacts go for a local store: <artifact_root>/<experiment>. A server keeps its own artifact
    # store unless this is a URI (s3://..., mlflow-artifacts:/..., file:///...).
    artifact_root: str = "outputs/mlflow-artifacts"
    # MLflow experiment; null = the top-level `experiment_name` (phaze/conf/experiment/ files set it), else model.name
    experiment: str | None = None
    http_timeout_s: int = 10  # per HTTP request to a tracking server (MLFLOW_HTTP_REQUEST_TIMEOUT)
    http_max_retries: int = 2  # retries per request (MLFLOW_HTTP_REQUEST_MAX_RETRIES)
    log_candidate_steps: bool = True  # every feasible candidate's throughput/area/memory/MFU as steps (step = rank)
    children_top_k: int = 10  # child runs for the top k candidates by throughput (plus the Pareto front)


def validate(cfg: TrackingConfig) -> None:
    """Field rules of the tracking group; the first violation raises a one-line ConfigError."""
    if cfg.name not in BACKENDS:
        raise ConfigError("tracking.name", cfg.name, f"one of {', '.join(BACKENDS)}")
    if not isinstance(cfg.uri, str) or not cfg.uri.startswith(URI_SCHEMES):
        raise ConfigError("tracking.uri", cfg.uri,
                          "an MLflow tracking URI, e.g. sqlite:///outputs/mlflow.db or http://host:5000")
    if not isinstance(cfg.artifact_root, str) or not cfg.artifact_root.strip():
        raise ConfigError("tracking.artifact_root", cfg.artifact_root, "a directory or an artifact URI")
    if cfg.experiment is not None and (not isinstance(cfg.experiment, str) or not cfg.experiment.strip()):
        raise ConfigError("tracking.experiment", cfg.experiment, "null or a non-empty experiment name")
    for field, low, high in (("http_timeout_s", 1, None), ("children_top_k", 0, None),
                             ("http_max_retries", 0, MLFLOW_MAX_RETRIES_LIMIT)):
        value = getattr(cfg, field)
        if (isinstance(value, bool) or not isinstance(value, int) or value < low
                or (high is not None and value > high)):
            raise ConfigError(f"tracking.{field}", value, f"an integer >= {low}" if high is None
                              else f"an integer in {low}..{high}")
    if not isinstance(cfg.log_candidate_steps, bool):
        raise ConfigError("tracking.log_candidate_steps", cfg.log_candidate_steps, "true or false")
