"""Params, metrics and tags in MLflow's shapes: clean keys, truncated values, batches within its limits."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient

from phaze.tracking.session import PARENT_TAG

# MLflow's limits (mlflow.utils.validation, 3.17): batch sizes and value lengths.
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000  # metrics + params + tags in one log_batch
MAX_PARAMS_PER_BATCH = 100
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_KEY_LENGTH = 250
BAD_KEY_CHARS = re.compile(r"[^\w./\- :]")  # MLflow keys: alphanumerics, _ - . / space and colon


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
