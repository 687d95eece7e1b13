"""Hydra callback: a `-m` sweep becomes one MLflow parent run, its jobs nested under it (DESIGN §8, §10).

`on_multirun_start` runs once in the launching process before any job: it creates the parent run (named
for what the sweep sweeps: `sweep hw.hbm_gib=32,64,80`) and writes its id to
`<hydra.sweep.dir>/mlflow_parent_run_id`; every job's `log_run` reads that file and starts its run as a
child. `on_multirun_end` closes the parent (FINISHED), records the best job, logs
`<sweep dir>/comparison.md` when one exists and prints the URL of the runs table. Enabled in
phaze/conf/config.yaml under `hydra.callbacks`; a no-op with `tracking=none`; a failure prints one stderr
line and never stops the sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

import phaze
from phaze.report.comparison import write_comparison
from phaze.tracking.files import git_commit
from phaze.tracking.labels import COLOR_TAG, group_choices, run_color, sweep_name
from phaze.tracking.session import (
    PARENT_FILE,
    PARENT_TAG,
    ensure_experiment,
    experiment_name,
    mlflow_session,
    warn_failure,
)
from phaze.tracking.ui import browse_hint
from phaze.tracking.values import log_values, start_run

COMPARISON_FILE = "comparison.md"  # written by phaze.report.comparison at the end of a sweep
BEST_METRIC = "throughput_samples_s"
SEARCH_PAGE = 1000  # runs per search_runs page (MLflow's default page size)


def _enabled(config: DictConfig) -> bool:
    tracking = config.get("tracking")
    return tracking is not None and tracking.get("name", "none") != "none"


def _sweep_dir(config: DictConfig) -> Path:
    return Path(str(config.hydra.sweep.dir))


def _sweep_params(config: DictConfig) -> dict[str, Any]:
    """The command line's overrides and the config's `hydra.sweeper.params`, as the parent's params."""
    overrides = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    params: dict[str, Any] = {"sweep.overrides": " ".join(str(o) for o in overrides or [])}
    sweeper = OmegaConf.select(config, "hydra.sweeper.params")
    if sweeper is not None:
        params |= {f"sweep.params.{k}": v for k, v in OmegaConf.to_container(sweeper, resolve=False).items()}
    return params


def _jobs_of(client: Any, exp_id: str, parent: str) -> list[Any]:
    jobs: list[Any] = []
    token = None
    while True:
        page = client.search_runs([exp_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent}'",
                                  max_results=SEARCH_PAGE, page_token=token)
        jobs += list(page)
        token = page.token
        if not token:
            return jobs


class MlflowSweepCallback(Callback):
    """Sweep-level MLflow parent run; jobs attach to it through the run-id file in the sweep directory."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not _enabled(config):
            return
        sweep_dir = _sweep_dir(config)
        try:
            (sweep_dir / PARENT_FILE).unlink(missing_ok=True)  # never attach jobs to an older sweep's run
            with mlflow_session(config.tracking) as client:
                exp_id = ensure_experiment(client, experiment_name(config), config.tracking)
                tags = group_choices(config) | {"phaze_version": phaze.__version__, "run_kind": "sweep",
                                                "git_commit": git_commit(), "sweep_dir": str(sweep_dir),
                                                COLOR_TAG: run_color("sweep")}
                run_id = start_run(client, exp_id, sweep_name(config, sweep_dir.name), tags, None)
                log_values(client, run_id, params=_sweep_params(config))
                sweep_dir.mkdir(parents=True, exist_ok=True)
                (sweep_dir / PARENT_FILE).write_text(run_id + "\n")
        except Exception as exc:  # by design: tracking never stops a sweep
            warn_failure(exc, sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = _sweep_dir(config)
        try:  # the comparison table is a file first, whether or not tracking is on
            table = write_comparison(sweep_dir)
            if table is not None:
                print(table.read_text())
        except Exception as exc:  # a report problem never fails a finished sweep
            warn_failure(exc, sweep_dir)
        if not _enabled(config):
            return
        id_file = sweep_dir / PARENT_FILE
        if not id_file.is_file():
            return
        try:
            run_id = id_file.read_text().strip()
            with mlflow_session(config.tracking) as client:
                exp_id = client.get_run(run_id).info.experiment_id
                jobs = _jobs_of(client, exp_id, run_id)
                scored = [(j.data.metrics[BEST_METRIC], j.info.run_id) for j in jobs
                          if BEST_METRIC in j.data.metrics]
                metrics: dict[str, Any] = {"jobs": len(jobs)}
                if scored:
                    best_value, best_id = max(scored)
                    metrics[f"best_{BEST_METRIC}"] = best_value
                    client.set_tag(run_id, "best_job_run_id", best_id)
                log_values(client, run_id, metrics=metrics)
                if (sweep_dir / COMPARISON_FILE).is_file():
                    client.log_artifact(run_id, str(sweep_dir / COMPARISON_FILE))
                client.set_terminated(run_id, "FINISHED")
            hint = browse_hint(str(config.tracking.uri), exp_id)
            if hint:
                print(hint)
        except Exception as exc:  # by design: tracking never stops a sweep
            warn_failure(exc, sweep_dir)


__all__ = ["COMPARISON_FILE", "MlflowSweepCallback"]
