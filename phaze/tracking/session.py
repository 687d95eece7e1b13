"""An MLflow client with bounded timeouts, the experiment and the sweep's parent run (DESIGN §8).

MLflow 3.17 notes (DESIGN §10): the experiment is created here with an explicit `artifact_location` under
`tracking.artifact_root`, so nothing lands in `./mlruns`; HTTP timeouts and retries are bounded from the
config before the first request, so a dead server costs seconds. The `MlflowClient` API is used throughout
(never the fluent `mlflow.start_run`), so no process-global active run leaks between the jobs that Hydra's
basic launcher runs one after another in one process.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from phaze.tracking.ui import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, mark_experiment

if TYPE_CHECKING:
    from mlflow import MlflowClient

PARENT_FILE = "mlflow_parent_run_id"  # written into hydra.sweep.dir by MlflowSweepCallback
PARENT_ENV = "PHAZE_MLFLOW_PARENT_RUN_ID"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own tag: the UI nests a run under this parent
# urllib3 sleeps factor * 2**(n-1) s before retry n: 1 s, 2 s with the default 2 retries (MLflow's default
# factor 2 and 7 retries take minutes). Jitter adds up to this many seconds to each sleep.
HTTP_BACKOFF_FACTOR_S = 1
HTTP_BACKOFF_JITTER_S = 0.5
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
    """`tracking.experiment`, else the top-level `experiment_name` of a phaze/conf/experiment/ file, else the model."""
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
    """The experiment's id, creating it (with its artifact location and the experiment kind tag) or
    restoring a deleted one."""
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location(tracking, name),
                                            tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
        except MlflowException:  # another job created it between the two calls
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    mark_experiment(client, str(exp.experiment_id), dict(exp.tags))  # one made by an older phaze
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
