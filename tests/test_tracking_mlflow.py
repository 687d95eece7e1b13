"""log_run against an embedded sqlite store, read back with MlflowClient; its failure paths (DESIGN §8)."""

from __future__ import annotations

import json
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from omegaconf import DictConfig, OmegaConf

from phaze.config.tracking import TrackingConfig
from phaze.tracking.mlflow_log import log_run
from phaze.tracking.session import PARENT_ENV

N_ROWS = 50
NAN_ROWS = {i for i in range(N_ROWS) if i % 9 == 4}  # 4, 13, 22, 31, 40, 49: no feasible placement
PARETO = (0, 20, 33)  # the table's pareto flags are the search's; tracking just follows them
DESIGN = {"n_tc": 8, "n_vc": 2, "tc_width": 128, "tc_depth": 128, "vc_width": 128, "glb_mib": 128.0}


def make_cfg(uri: str, artifact_root: str, **tracking: Any) -> DictConfig:
    cfg = OmegaConf.create({
        "task": {"name": "search"}, "model": {"name": "opt13b", "hidden": 5120, "seq_len": 2048},
        "hw": {"name": "search", "hbm_gib": 32, "n_tc": 8, "freq_hz": 1.05e9,
               "space": {"n_tc": {"min": 1, "max": 4096}}},
        "parallelism": {"microbatch_sizes": [1, 2, 4]},
    })
    cfg.tracking = OmegaConf.structured(TrackingConfig(uri=uri, artifact_root=artifact_root, **tracking))
    return cfg


def candidates() -> pd.DataFrame:
    """throughput = 100 - index (NaN on NAN_ROWS), so the top 10 are 0..10 without 4 and rank follows index."""
    idx = np.arange(N_ROWS)
    thr = np.where(np.isin(idx, sorted(NAN_ROWS)), np.nan, 100.0 - idx)
    return pd.DataFrame({"index": idx, **DESIGN, "area_mm2": 100.0 + 2 * idx,
                         "status": np.where(np.isnan(thr), "infeasible", "optimal"),
                         "throughput_samples_s": thr,
                         "memory_per_device_bytes": np.where(np.isnan(thr), np.nan, 1e9 * (idx + 1)),
                         "mfu": np.where(np.isnan(thr), np.nan, 0.42 - 0.001 * idx),
                         "data": 2, "pipeline": 4, "tensor": 1, "microbatch": 1, "recompute": "selective",
                         "stages": "0-10,11-20", "pareto": np.isin(idx, PARETO)})


def baseline(thr: float, speedup: float, area: float | None = 278.826676) -> dict[str, Any]:
    placement = {"data": 1, "pipeline": 8, "tensor": 1, "microbatch": 2, "recompute": "full",
                 "stages": [4, 4]}
    return {"best": {"throughput_samples_s": thr, "tokens_s": thr * 2048, "mfu": 0.3,
                     "memory_per_device_bytes": 2e10, "placement": placement},
            "area_mm2": area, "design": DESIGN, "speedup": speedup}


def result() -> dict[str, Any]:
    tpuv4 = baseline(50.0, 2.0) | {"at_32_gib": {"best": "infeasible: no setting fits in 32 GiB",
                                                  "area_mm2": 278.826676}}
    return {
        "task": "search", "phaze_version": "0.1.0", "git_commit": "c0ffee", "config_hash": "0123456789abcdef",
        "model": {"name": "opt13b", "params_total": 12_853_473_280},
        "best": {"index": 0, "throughput_samples_s": 100.0, "tokens_s": 204800.0, "mfu": 0.42,
                 "memory_per_device_bytes": 1e9, "area_mm2": 100.0, "iteration_s": 2.56, "status": "optimal",
                 "hardware": DESIGN | {"peak_flops": 2.75e14},
                 "placement": {"data": 2, "pipeline": 4, "tensor": 1, "microbatch": 1, "recompute": "selective",
                               "stages": [10, 10]}},
        "baselines": {"tpuv4": tpuv4, "tpuv4_phaze": {"best": "infeasible: no setting fits", "speedup": None},
                      "spotlight": baseline(80.0, 1.25, 150.0),
                      "spotlight_oracle": "infeasible: no setting fits"},
        "search": {"candidates": N_ROWS, "feasible": N_ROWS - len(NAN_ROWS)},
        "best_layer_time_split": {"block": {"bwd": {"makespan_s": 0.5, "gemm_s": 0.4, "vector_s": 0.2,
                                                    "collective_s": 0.0, "overlap_s": 0.1, "status": "optimal"}}},
    }


FILES = ("result.json", "candidates.parquet", "pareto.png", "config.resolved.yaml")


def write_files(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result(), sort_keys=True))
    (out / "timings.json").write_text(json.dumps({"total_s": 12.5}))
    (out / "config.resolved.yaml").write_text("model:\n  name: opt13b\n")
    (out / "pareto.png").write_bytes(b"\x89PNG fake")
    candidates().to_parquet(out / "candidates.parquet", index=False)
    return [out / n for n in FILES]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One sqlite store for the module: creating one costs seconds (MLflow's schema migrations)."""
    tmp = tmp_path_factory.mktemp("mlflow")
    return tmp, f"sqlite:///{tmp}/mlflow.db"


@pytest.fixture(scope="module")
def logged(store: tuple[Path, str]) -> tuple[MlflowClient, str, Path]:
    tmp, uri = store
    out = tmp / "run"
    paths = write_files(out)
    cfg = make_cfg(uri, str(tmp / "art"))
    run_id = log_run(cfg, out, result(), candidates(), [*paths, out / "missing.png"])
    assert run_id is not None
    return MlflowClient(uri), run_id, tmp


FEASIBLE = [i for i in range(N_ROWS) if i not in NAN_ROWS]  # rank r is FEASIBLE[r - 1]
GIB = 2**30


def test_job_run_params_tags_metrics(logged: tuple[MlflowClient, str, Path]) -> None:
    client, run_id, _ = logged
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.name == "opt13b" and exp.tags["mlflow.experimentKind"] == "custom_model_development"
    p = run.data.params
    assert p["model.hidden"] == "5120"
    assert (p["parallelism.microbatch_sizes"], p["tracking.experiment"]) == ("[1, 2, 4]", "null")
    # the template's design fields are not this job's design: the best design is, as best.*
    assert "hw.n_tc" not in p and (p["hw.freq_hz"], p["hw.space.n_tc.max"]) == ("1050000000.0", "4096")
    assert (p["best.n_tc"], p["best.tc_width"], p["best.glb_mib"], p["best.peak_flops"]) == (
        "8", "128", "128.0", "275000000000000.0")
    assert (p["best.data"], p["best.recompute"], p["best.stages"]) == ("2", "selective", "10,10")
    assert (p["best.index"], p["best.status"]) == ("0", "optimal")
    t = run.data.tags
    assert {k: t[k] for k in ("model", "hw", "task", "tracking")} == {
        "model": "opt13b", "hw": "search", "task": "search", "tracking": "mlflow"}
    assert (t["phaze_version"], t["git_commit"], t["config_hash"]) == ("0.1.0", "c0ffee", "0123456789abcdef")
    assert (t["hbm_gib"], t["mlflow.runColor"]) == ("32", "#000000")
    m = run.data.metrics
    assert (m["throughput_samples_s"], m["tokens_s"], m["mfu"], m["rank"]) == (100.0, 204800.0, 0.42, 1.0)
    assert m["area_mm2"] == 100.0 and m["memory_per_device_gib"] == 1e9 / GIB
    assert "memory_per_device_bytes" not in m and m["best.iteration_s"] == 2.56
    assert (m["speedup_vs_tpuv4"], m["speedup_vs_spotlight"], m["search_wall_s"]) == (2.0, 1.25, 12.5)
    assert "speedup_vs_tpuv4_phaze" not in m  # its speedup is None: the baseline is infeasible
    assert m["model.params_total"] == 12_853_473_280
    assert (m["time.block.bwd.makespan_s"], m["time.block.bwd.vector_s"], m["time.block.bwd.overlap_s"]) == (
        0.5, 0.2, 0.1)
    assert "time.block.bwd.status" not in m  # not a number: no metric


def test_candidate_steps_by_rank_feasible_only(logged: tuple[MlflowClient, str, Path]) -> None:
    client, run_id, _ = logged
    hist = client.get_metric_history(run_id, "candidate/throughput_samples_s")
    assert sorted(h.step for h in hist) == list(range(1, len(FEASIBLE) + 1))
    assert all(h.value == 100.0 - FEASIBLE[h.step - 1] for h in hist)  # falls monotonically with the step
    area = {h.step: h.value for h in client.get_metric_history(run_id, "candidate/area_mm2")}
    assert len(area) == len(FEASIBLE) and area[44] == 100.0 + 2 * 48
    memory = {h.step: h.value for h in client.get_metric_history(run_id, "candidate/memory_per_device_gib")}
    assert memory[5] == 1e9 * 6 / GIB  # rank 5 is index 5 (index 4 is infeasible)
    assert {h.step: h.value for h in client.get_metric_history(run_id, "candidate/mfu")}[1] == 0.42


def test_artifacts_and_table(logged: tuple[MlflowClient, str, Path]) -> None:
    client, run_id, tmp = logged
    names = {a.path for a in client.list_artifacts(run_id)}
    assert names == {*FILES, "candidates.json"}
    uri = client.get_run(run_id).info.artifact_uri
    assert uri.startswith((tmp / "art" / "opt13b").as_uri())  # under tracking.artifact_root, not ./mlruns
    local = client.download_artifacts(run_id, "candidates.json", str(tmp / "dl"))
    table = json.loads(Path(local).read_text())
    cols = table["columns"]
    assert cols[0] == "rank" and "memory_per_device_gib" in cols and "memory_per_device_bytes" not in cols
    rows = [dict(zip(cols, r, strict=True)) for r in table["data"]]
    assert len(rows) == len(FEASIBLE)  # the feasible candidates only; the full set is in candidates.parquet
    assert [r["index"] for r in rows] == FEASIBLE and [r["rank"] for r in rows] == list(range(1, 45))
    assert [r["throughput_samples_s"] for r in rows] == sorted((r["throughput_samples_s"] for r in rows),
                                                                reverse=True)


def children(client: MlflowClient, run_id: str) -> list[Any]:
    exp = client.get_run(run_id).info.experiment_id
    return client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'", max_results=100)


def test_children_pareto_top_k_and_baselines(logged: tuple[MlflowClient, str, Path]) -> None:
    client, run_id, _ = logged
    kids = children(client, run_id)
    kinds: dict[str, int] = {}
    for kid in kids:
        kinds[kid.data.tags["candidate.kind"]] = kinds.get(kid.data.tags["candidate.kind"], 0) + 1
        assert kid.info.status == "FINISHED" and kid.data.tags["hbm_gib"] == "32"
    # top 10 = 0,1,2,3,5,...,10; Pareto adds 20 and 33; tpuv4 once: at 32 GiB, its at_32_gib is the same run
    assert kinds == {"search": 12, "tpuv4": 1, "tpuv4_phaze": 1, "spotlight": 1, "spotlight_oracle": 1}
    search = {int(k.data.tags["candidate.index"]): k for k in kids
              if k.data.tags["candidate.kind"] == "search"}
    assert sorted(search) == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 20, 33]
    assert search[5].info.run_name == "#5 8x128x128 tc, 2x128 vc, 128 MiB @32 GiB"
    assert search[33].data.tags["candidate.pareto"] == "true"
    assert search[33].data.tags["candidate.top_k"] == "false"
    assert search[33].data.metrics["rank"] == 30.0  # after 0..32 less the 4 infeasible (4, 13, 22, 31)
    assert search[33].data.tags["mlflow.runColor"] == "#1f77b4" and search[5].data.tags["mlflow.runColor"] == "#a5b4c4"
    best = search[0].data
    assert [best.metrics[k] for k in ("throughput_samples_s", "mfu", "area_mm2", "rank")] == [100.0, 0.42, 100.0, 1]
    assert (best.metrics["speedup_vs_tpuv4"], best.metrics["speedup_vs_spotlight"]) == (2.0, 1.25)
    assert search[20].data.metrics["tokens_s"] == 80.0 * 2048
    assert search[20].data.metrics["memory_per_device_gib"] == 21e9 / GIB
    assert search[20].data.params["tc_width"] == "128" and search[20].data.params["recompute"] == "selective"
    assert "throughput_samples_s" not in search[20].data.params and "index" not in search[20].data.params
    by_name = {k.info.run_name: k.data for k in kids}
    tpuv4 = by_name["tpuv4 @32 GiB"]
    assert tpuv4.metrics["throughput_samples_s"] == 50.0 and tpuv4.metrics["area_mm2"] == 278.826676
    assert tpuv4.metrics["rank"] == 45.0  # slower than all 44 feasible candidates
    assert (tpuv4.metrics["speedup_vs_tpuv4"], tpuv4.metrics["speedup_vs_spotlight"]) == (1.0, 0.625)
    assert tpuv4.metrics["memory_per_device_gib"] == 2e10 / GIB
    assert tpuv4.params["pipeline"] == "8" and tpuv4.params["n_tc"] == "8" and tpuv4.params["stages"] == "4,4"
    assert tpuv4.tags["mlflow.runColor"] == "#d62728"
    assert by_name["spotlight @32 GiB"].metrics["rank"] == 19.0  # 18 feasible candidates are faster than 80
    assert by_name["tpuv4_phaze @32 GiB"].tags["candidate.status"] == "infeasible"
    oracle = by_name["spotlight_oracle @32 GiB"]
    assert oracle.tags["candidate.reason"] == "infeasible: no setting fits" and oracle.metrics == {}
    # the same metric keys on every feasible child, so the compare view and the charts line them up
    keys = {"throughput_samples_s", "tokens_s", "mfu", "memory_per_device_gib", "area_mm2", "rank",
            "speedup_vs_tpuv4", "speedup_vs_spotlight"}
    assert all(set(k.data.metrics) == keys for k in kids if k.data.tags["candidate.status"] != "infeasible")


def test_saved_view_lists_the_design_columns(logged: tuple[MlflowClient, str, Path]) -> None:
    client, run_id, _ = logged
    tags = client.get_experiment(client.get_run(run_id).info.experiment_id).tags
    view = json.loads(tags["mlflow.sharedViewState.phaze-designs"])
    assert view["name"] == "phaze: compare designs" and view["updatedAt"] >= view["createdAt"]
    state = json.loads(view["state"])
    assert state["selectedColumns"] == [
        "metrics.`rank`", "metrics.`throughput_samples_s`", "metrics.`speedup_vs_tpuv4`",
        "metrics.`speedup_vs_spotlight`", "metrics.`mfu`", "metrics.`area_mm2`", "metrics.`memory_per_device_gib`",
        "tags.`hbm_gib`", "tags.`candidate.kind`"]
    assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`throughput_samples_s`", False)
    (chart,) = state["compareRunCharts"]
    assert (chart["type"], chart["xaxis"]["key"], chart["yaxis"]["key"]) == ("SCATTER", "area_mm2",
                                                                            "throughput_samples_s")


def test_closed_port_costs_seconds_and_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    paths = write_files(out)
    before = {p: p.read_bytes() for p in paths}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env_before = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    start = time.monotonic()
    cfg = make_cfg(f"http://127.0.0.1:{port}", str(tmp_path / "art"))
    got = log_run(cfg, out, result(), candidates(), paths)
    elapsed = time.monotonic() - start
    assert got is None
    # Bounded retries (2, backoff 1 s), not MLflow's 7 with factor 2 (minutes): the brief's 30 s ceiling.
    assert elapsed < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("phaze: MLflow logging failed (MlflowException: ")
    assert err[0].endswith(f"; results are in {out}")
    assert {p: p.read_bytes() for p in paths} == before
    assert os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES") == env_before  # restored


def test_tracking_none_does_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = make_cfg("sqlite:///outputs/mlflow.db", "outputs/mlflow-artifacts", name="none")
    assert log_run(cfg, tmp_path / "run", result(), candidates(), []) is None
    assert not (tmp_path / "outputs").exists()
    assert capsys.readouterr() == ("", "")


def test_default_paths_relative_to_cwd_and_evaluate_result(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """task=evaluate: no candidates or baselines; the area comes from the fixed design. Default relative
    paths land under ./outputs, nothing in ./mlruns."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    (out / "result.json").write_text("{}")
    cfg = make_cfg("sqlite:///outputs/mlflow.db", "outputs/mlflow-artifacts", experiment="evaluations")
    best = {"throughput_samples_s": 7.5, "tokens_s": 15360.0, "mfu": 0.5, "memory_per_device_bytes": 3e10}
    hardware = {"name": "tpuv4", "area_mm2": 278.826676}
    res = {"task": "evaluate", "model": {"name": "opt13b"}, "hardware": hardware,
           "best": best,
           "literature": "infeasible: needs 40 GiB"}
    run_id = log_run(cfg, out, res, None, [out / "result.json"])
    assert run_id is not None
    client = MlflowClient(f"sqlite:///{tmp_path}/outputs/mlflow.db")
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == "evaluations"
    assert run.data.metrics["area_mm2"] == 278.826676 and run.data.metrics["throughput_samples_s"] == 7.5
    assert not children(client, run_id)
    assert run.data.tags["config_hash"]  # not in this result: taken from the config (phaze.tracking.files)
    assert run.info.artifact_uri.startswith((tmp_path / "outputs/mlflow-artifacts/evaluations").as_uri())
    assert (tmp_path / "outputs/mlflow-artifacts/evaluations").is_dir()
    assert not (tmp_path / "mlruns").exists()


def test_parent_from_env_and_failure_marks_run_failed(store: tuple[Path, str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    uri = store[1]
    client = MlflowClient(uri)
    exp = client.create_experiment("sweeps", artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(exp, run_name="sweep").info.run_id
    monkeypatch.setenv(PARENT_ENV, parent)
    out = tmp_path / "run"
    res = {"task": "inspect", "model": {"name": "opt13b", "params_total": 125}, "config_hash": "h",
           "phaze_version": "0.1.0", "git_commit": None}
    run_id = log_run(make_cfg(uri, str(tmp_path / "art")), out, res, None, [])
    assert run_id is not None
    run = client.get_run(run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.info.experiment_id == exp  # the sweep's experiment, not the model's
    assert run.data.metrics == {"model.params_total": 125.0}
    # A broken table (no `index` column) fails mid-run: one stderr line, None, and that run is FAILED.
    capsys.readouterr()
    broken = candidates().drop(columns="index")
    assert log_run(make_cfg(uri, str(tmp_path / "art")), out, result(), broken, []) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("phaze: MLflow logging failed (KeyError: ")
    statuses = sorted(r.info.status for r in children(client, parent))
    assert statuses == ["FAILED", "FINISHED"]


def test_long_and_nested_values_fit_mlflow_limits(store: tuple[Path, str], tmp_path: Path) -> None:
    uri = store[1]
    cfg = make_cfg(uri, str(tmp_path / "art"), experiment="limits")
    cfg.notes = {"text": "x" * 7000, "ratio": math.pi, "flag": True, "nothing": None}
    run_id = log_run(cfg, tmp_path / "run", {"task": "inspect", "config_hash": "h", "phaze_version": "0",
                                             "git_commit": "c"}, None, [])
    assert run_id is not None
    p = MlflowClient(uri).get_run(run_id).data.params
    assert p["notes.text"] == "x" * 6000  # MLflow's 6000-character limit
    assert (p["notes.ratio"], p["notes.flag"], p["notes.nothing"]) == (repr(math.pi), "true", "null")
