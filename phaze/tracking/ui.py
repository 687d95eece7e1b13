"""What MLflow 3.17's web UI needs to show a phaze experiment as a runs table (DESIGN §8; docs/tracking.md).

- The experiment page opens on the GenAI overview; `#/experiments/<id>/runs?workflowType=machine_learning`
  opens the runs table ("Model training"). `runs_page_url` builds it; phaze prints it after every run.
- The experiment kind tag (`mlflow.experimentKind`) marks the experiment as model development. MLflow 3.17.2
  does not change its landing page for it, but sets and reads it.
- A saved view ("Views" menu): an experiment tag `mlflow.sharedViewState.<key>` holding
  `{"name", "createdAt", "updatedAt", "state"}`, where `state` is the runs page's state as JSON (the UI
  writes it deflated and reads both). This is the UI's own storage format, not a documented API: best
  effort, checked against 3.17.2 by tests/test_tracking_browser.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"  # MLflow's value for classic (non-GenAI) experiments
RUNS_QUERY = "workflowType=machine_learning"  # the runs table, not the GenAI overview
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` listens by default
VIEW_TAG_PREFIX = "mlflow.sharedViewState."  # the UI's saved views (MLflow 3.17 Views menu)
VIEW_KEY = "phaze-designs"
VIEW_NAME = "phaze: compare designs"
VIEW_PARAM = "viewStateShareKey"
CHART_SECTION = "area vs throughput"  # sorts before MLflow's generated sections (by name)
# The runs table's columns in the saved view, in MLflow's canonical keys.
VIEW_METRICS = ("rank", "throughput_samples_s", "mfu", "area_mm2", "memory_per_device_gib")
VIEW_TAGS = ("hbm_gib", "candidate.kind")


def server_url(tracking_uri: str) -> str | None:
    """The UI's base URL: the tracking server itself, or `mlflow ui`'s default for a local store."""
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    if tracking_uri.startswith("databricks"):
        return None
    return LOCAL_UI


def runs_page_url(tracking_uri: str, experiment_id: str, view: bool = False) -> str | None:
    """`<ui>/#/experiments/<id>/runs?workflowType=machine_learning` (and the saved view with `view`)."""
    base = server_url(tracking_uri)
    if base is None:
        return None
    url = f"{base}/#/experiments/{experiment_id}/runs?{RUNS_QUERY}"
    return f"{url}&{VIEW_PARAM}={VIEW_KEY}" if view else url


def browse_hint(tracking_uri: str, experiment_id: str) -> str | None:
    """One line telling where the runs table is; for a local store also the `mlflow ui` command."""
    url = runs_page_url(tracking_uri, experiment_id)
    if url is None:
        return None
    if tracking_uri.startswith(("http://", "https://")):
        return f"mlflow: runs table {url}"
    return f"mlflow: runs table {url} after `mlflow ui --backend-store-uri {tracking_uri} --workers 1`"


def mark_experiment(client: MlflowClient, experiment_id: str, tags: dict[str, str]) -> None:
    """Set the experiment kind tag when the experiment does not have it yet."""
    if tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)


def _column(kind: str, key: str) -> str:
    return f"{kind}.`{key}`"


def view_state(baselines: Iterable[str]) -> dict[str, object]:
    """The runs page state of the saved view: the design figures as columns (speedup over each baseline
    among them), sorted by throughput, and one scatter chart, area against throughput."""
    metrics = [*VIEW_METRICS[:2], *(f"speedup_vs_{b}" for b in baselines), *VIEW_METRICS[2:]]
    columns = [_column("metrics", m) for m in metrics] + [_column("tags", t) for t in VIEW_TAGS]
    section = "phaze-area-throughput"
    scatter = {"uuid": "phaze-scatter-area-throughput", "type": "SCATTER", "runsCountToCompare": 100,
               "metricSectionId": section, "deleted": False, "isGenerated": False,
               "xaxis": {"key": "area_mm2", "type": "METRIC"},
               "yaxis": {"key": "throughput_samples_s", "type": "METRIC"}}
    return {"searchFilter": "", "orderByKey": _column("metrics", "throughput_samples_s"), "orderByAsc": False,
            "startTime": "ALL", "lifecycleFilter": "Active", "datasetsFilter": [],
            "modelVersionFilter": "All Runs", "selectedColumns": columns, "runsHiddenMode": "SHOW_ALL",
            "groupBy": None, "groupsExpanded": {}, "compareRunCharts": [scatter],
            "compareRunSections": [{"uuid": section, "name": CHART_SECTION, "display": True,
                                    "isReordered": True, "deleted": False, "isGenerated": False}]}


def save_view(client: MlflowClient, experiment_id: str, tags: dict[str, str], baselines: Iterable[str]) -> None:
    """Write (or refresh, keeping its creation time) the saved view `phaze: compare designs`."""
    key = VIEW_TAG_PREFIX + VIEW_KEY
    state = json.dumps(view_state(baselines), sort_keys=True)
    now = int(time.time() * 1000)
    created = now
    if key in tags:
        try:
            old = json.loads(tags[key])
        except ValueError:
            old = {}
        if isinstance(old, dict) and old.get("state") == state:
            return  # already this view: no write
        if isinstance(old, dict) and isinstance(old.get("createdAt"), int):
            created = old["createdAt"]
    client.set_experiment_tag(experiment_id, key, json.dumps(
        {"name": VIEW_NAME, "createdAt": created, "updatedAt": now, "state": state}))


__all__ = ["browse_hint", "mark_experiment", "runs_page_url", "save_view", "view_state"]
