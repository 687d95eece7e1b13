"""A real `mlflow server` on 127.0.0.1: a 2-job sweep through MlflowSweepCallback and log_run, read back over
HTTP (parent -> jobs -> children, metrics, proxied artifacts). DESIGN §8, §10."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from mlflow import MlflowClient
from omegaconf import DictConfig, OmegaConf, open_dict
from test_search import SMALL
from test_tracking_mlflow import FILES, candidates, result, write_files

from phaze.config.tracking import TrackingConfig
from phaze.tracking.callbacks import MlflowSweepCallback
from phaze.tracking.mlflow_log import log_run
from phaze.tracking.session import PARENT_FILE

CONF = Path(__file__).resolve().parent.parent / "phaze" / "conf"
HBMS = (32, 64)  # the sweep: one job per HBM capacity


def job_config(url: str, sweep_dir: Path, num: int, hbm: int) -> DictConfig:
    """What Hydra gives a multirun job: the composed config with its hydra node (mode MULTIRUN)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True, overrides=[
            f"hw.hbm_gib={hbm}", "hydra.mode=MULTIRUN", f"hydra.sweep.dir='{sweep_dir}'",
            f"hydra.job.num={num}"])
    with open_dict(cfg):  # the lead's phaze/conf/config.yaml may or may not list tracking yet
        cfg.tracking = OmegaConf.structured(TrackingConfig(uri=url, experiment="server-sweep"))
    return cfg


def test_sweep_through_callback_and_jobs(mlflow_server: tuple[str, Path], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url, srv = mlflow_server
    monkeypatch.chdir(tmp_path)
    sweep_dir = tmp_path / "multirun"
    callback = MlflowSweepCallback()
    sweep_cfg = job_config(url, sweep_dir, 0, 32)
    callback.on_multirun_start(sweep_cfg)
    parent = (sweep_dir / PARENT_FILE).read_text().strip()
    jobs = {}
    try:
        for num, hbm in enumerate(HBMS):
            cfg = job_config(url, sweep_dir, num, hbm)
            HydraConfig.instance().set_config(cfg)
            task_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
            out = sweep_dir / str(num)
            paths = write_files(out)
            res = result()
            res["best"]["throughput_samples_s"] = 100.0 + hbm  # 132 and 164: the second job wins
            jobs[hbm] = log_run(task_cfg, out, res, candidates(), paths)
    finally:
        HydraConfig.instance().cfg = None
    (sweep_dir / "comparison.md").write_text("| job | throughput |\n|---|---|\n| 0 | 132 |\n| 1 | 164 |\n")
    callback.on_multirun_end(sweep_cfg)

    client = MlflowClient(url)
    run = client.get_run(parent)
    assert run.info.status == "FINISHED"
    overrides = OmegaConf.to_container(sweep_cfg.hydra.overrides.task)
    assert run.data.params["sweep.overrides"] == " ".join(overrides)
    assert run.data.metrics["best_throughput_samples_s"] == 164.0 and run.data.metrics["jobs"] == 2.0
    assert run.data.tags["best_job_run_id"] == jobs[64]
    assert [a.path for a in client.list_artifacts(parent)] == ["comparison.md"]
    exp = run.info.experiment_id
    assert client.get_experiment(exp).name == "server-sweep"
    found = client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    assert {r.info.run_id for r in found} == set(jobs.values())
    for hbm, job_id in jobs.items():
        job = client.get_run(job_id)
        assert job.data.params["hw.hbm_gib"] == str(float(hbm))  # hw.hbm_gib is a float field
        assert job.data.tags["hw"] == "search" and job.data.tags["model"] == sweep_cfg.model.name
        num = HBMS.index(hbm)
        assert job.info.run_name == f"search-{sweep_cfg.model.name} #{num} hw.hbm_gib={hbm}"
        assert job.data.metrics["throughput_samples_s"] == 100.0 + hbm
        feasible = candidates()["throughput_samples_s"].notna().sum()
        assert len(client.get_metric_history(job_id, "candidate/area_mm2")) == feasible  # step = rank
        kids = client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{job_id}'")
        # 12 candidates, 4 baselines, and at 64 GiB tpuv4 again @32 GiB (at 32 GiB that is the same run)
        assert len(kids) == (16 if hbm == 32 else 17)
        assert ("tpuv4 @32 GiB" in {k.info.run_name for k in kids}) and all(
            k.data.tags["hbm_gib"] in {str(hbm), "32"} for k in kids)
        assert {a.path for a in client.list_artifacts(job_id)} == {*FILES, "candidates.json"}
    # Artifacts went through the server's proxy into --artifacts-destination, none into the working directory.
    assert len(list((srv / "art").rglob("result.json"))) == 2
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlartifacts").exists()


def test_callback_is_a_no_op_without_tracking(tmp_path: Path) -> None:
    sweep = {"sweep": {"dir": str(tmp_path / "sweep")}}
    cfg = OmegaConf.create({"tracking": {"name": "none"}, "hydra": sweep})
    MlflowSweepCallback().on_multirun_start(cfg)
    MlflowSweepCallback().on_multirun_end(cfg)
    assert not (tmp_path / "sweep").exists()


def test_cli_sweep_reaches_a_real_server(mlflow_server: tuple[str, Path], tmp_path: Path) -> None:
    """`python -m phaze ... -m` (two jobs) against the live server: parent, jobs, children, metrics, artifacts."""
    url, _ = mlflow_server
    overrides = [o for o in SMALL if not o.startswith("tracking=")]
    proc = run_cli(*overrides, "solver=greedy", "hw.hbm_gib=16,32", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                   f"tracking.uri={url}", "tracking.experiment=cli-sweep", f"search.cache_dir={tmp_path / 'cache'}",
                   "-m", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name("cli-sweep")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parent = (tmp_path / "sweep" / "mlflow_parent_run_id").read_text().strip()
    assert client.get_run(parent).info.run_name == "sweep hw.hbm_gib=16,32"
    jobs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert len(jobs) == 2 and client.get_run(parent).info.status == "FINISHED"
    for job in jobs:
        assert job.data.metrics["throughput_samples_s"] > 0 and "speedup_vs_tpuv4" in job.data.metrics
        history = client.get_metric_history(job.info.run_id, "candidate/area_mm2")
        table = pd.read_parquet(Path(job.data.tags["run_dir"]) / "candidates.parquet")
        assert len(table) == 4320 and sorted(h.step for h in history) == list(
            range(1, int(table["throughput_samples_s"].notna().sum()) + 1))  # every feasible candidate, by rank
        artifacts = {a.path for a in client.list_artifacts(job.info.run_id)}
        assert {"result.json", "candidates.parquet", "pareto.png", "config.resolved.yaml"} <= artifacts
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == job.info.run_id]
        assert {"search", "tpuv4", "tpuv4_phaze", "spotlight", "spotlight_oracle"} <= {
            c.data.tags.get("candidate.kind") for c in children}
