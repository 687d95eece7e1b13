"""Sweeps, shared experiment files and a dead tracking server, through the command line."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from conftest import run_cli
from mlflow.tracking import MlflowClient
from test_search import SMALL

SWEEP_SMALL = [o for o in SMALL if not o.startswith("tracking=")]


def test_two_job_sweep_has_a_parent_run_and_a_comparison_table(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    proc = run_cli(*SWEEP_SMALL, "solver=greedy", "hw.hbm_gib=16,32", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                   f"tracking.uri=sqlite:///{db}", f"tracking.artifact_root={tmp_path / 'art'}",
                   f"search.cache_dir={tmp_path / 'cache'}", "tracking.experiment=sweep-test", "-m", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = (tmp_path / "sweep" / "comparison.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "bert_large" in line]
    assert len(rows) == 2 and "| 16 |" in rows[0] and "| 32 |" in rows[1]
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.get_experiment_by_name("sweep-test")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parent_id = (tmp_path / "sweep" / "mlflow_parent_run_id").read_text().strip()
    jobs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id]
    assert len(jobs) == 2
    for job in jobs:
        assert job.data.metrics["throughput_samples_s"] > 0
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == job.info.run_id]
        kinds = {c.data.tags.get("candidate.kind") for c in children}
        assert {"search", "tpuv4", "tpuv4_phaze", "spotlight"} <= kinds
    assert client.get_run(parent_id).info.status == "FINISHED"
    assert "comparison.md" in [a.path for a in client.list_artifacts(parent_id)]


def test_dead_tracking_server_costs_seconds_and_keeps_the_files(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    proc = run_cli("task=inspect", "model=bert_large", f"tracking.uri=http://127.0.0.1:{port}",
                   f"hydra.run.dir={tmp_path}", timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "result.json").is_file()
    assert [line for line in proc.stderr.splitlines() if line.startswith("phaze: MLflow logging failed")]
    assert elapsed < 30


def test_a_received_experiment_file_runs_from_any_folder(tmp_path: Path) -> None:
    received = tmp_path / "received" / "experiment"
    received.mkdir(parents=True)
    (received / "shared.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: bert_large\nexperiment_name: shared\n"
        "hw:\n  space:\n    n_tc: {min: 1, max: 4}\n    n_vc: {min: 1, max: 4}\n    glb_mib: {min: 2, max: 4}\n"
        "    min_area_fraction: 0\nparallelism:\n  devices: 16\n  global_batch: 64\n  microbatch_sizes: [4]\n"
        "  tensor_widths: [1]\n  recompute: [none]\nsearch:\n  spotlight:\n    evaluations: 10\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_cli("--config-dir", str(tmp_path / "received"), "+experiment=shared", "solver=greedy",
                   "tracking=none", "search.progress=false", cwd=elsewhere, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = list((elsewhere / "outputs").glob("runs/*/*/result.json"))
    assert len(results) == 1
    result = json.loads(results[0].read_text())
    assert result["model"]["name"] == "bert_large" and result["best"]["throughput_samples_s"] > 0


def _job(sweep: Path, job: str, objective: str, hbm: int, tpw: float, tpuv4: dict) -> None:
    d = sweep / job
    d.mkdir(parents=True)
    best = {"hardware": {"n_tc": 8, "tc_width": 256, "tc_depth": 64, "n_vc": 32, "vc_width": 256, "glb_mib": 8.0},
            "area_mm2": 222.3, "throughput_samples_s": 100.0, "mfu": 0.5, "power_w": 50.0,
            "throughput_per_watt": tpw}
    result = {"model": {"name": "bert_large"}, "best": best, "search": {"objective": objective},
              "baselines": {"tpuv4": tpuv4}}
    (d / "result.json").write_text(json.dumps(result))
    (d / "config.resolved.yaml").write_text(f"hw:\n  hbm_gib: {hbm}\n")


def test_comparison_table_ranks_baselines_by_each_jobs_objective(tmp_path: Path) -> None:
    from phaze.report.comparison import write_comparison

    sweep = tmp_path / "sweep"
    _job(sweep, "0", "throughput", 32, 0.002, {"speedup": 1.25})
    _job(sweep, "1", "throughput_per_watt", 64, 0.004, {"speedup": 0.8, "objective_ratio": 1.9})
    # a result.json from before objective_ratio: the ratio from the two entries' samples per joule, 0.004 / 0.0025
    _job(sweep, "2", "energy_per_token", 80, 0.004, {"speedup": 0.7, "best": {"throughput_samples_s": 140.0,
                                                                              "throughput_per_watt": 0.0025}})
    table = write_comparison(sweep).read_text()  # type: ignore[union-attr]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and "bert_large" in line]
    assert [r[3] for r in rows] == ["throughput", "throughput_per_watt", "energy_per_token"]
    assert [r[8:11] for r in rows] == [["50.0", "0.002", "1.25"], ["50.0", "0.004", "1.90"], ["50.0", "0.004", "1.60"]]
    assert all(r[-1] == "- |" for r in rows)  # spotlight_oracle: not in these results
