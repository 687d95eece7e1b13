"""What the MLflow UI is given: the runs-table URL, run names, colours and the saved view (docs/tracking.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from test_tracking_mlflow import candidates, make_cfg, result

from phaze.tracking.labels import (
    FALLBACK_COLORS,
    KIND_COLORS,
    baseline_name,
    candidate_name,
    run_color,
    sweep_name,
    variant_hbm,
)
from phaze.tracking.mlflow_log import log_run
from phaze.tracking.ui import browse_hint, runs_page_url, view_state


def test_runs_page_url_for_a_server_and_a_local_store() -> None:
    assert runs_page_url("http://127.0.0.1:5000/", "7") == (
        "http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning")
    assert runs_page_url("https://mlflow.example.org", "7", view=True) == (
        "https://mlflow.example.org/#/experiments/7/runs?workflowType=machine_learning"
        "&viewStateShareKey=phaze-designs")
    # a local store: where `mlflow ui` listens by default, with the command that starts it
    assert browse_hint("sqlite:///outputs/mlflow.db", "3") == (
        "mlflow: runs table http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning after "
        "`mlflow ui --backend-store-uri sqlite:///outputs/mlflow.db --workers 1`")
    assert runs_page_url("databricks", "3") is None and browse_hint("databricks", "3") is None


def test_names_say_what_a_run_is() -> None:
    row = {"n_tc": 4096, "tc_width": 2, "tc_depth": 32, "n_vc": 2048, "vc_width": 2, "glb_mib": 2.0}
    assert candidate_name(1, row, 80.0) == "#1 4096x2x32 tc, 2048x2 vc, 2 MiB @80 GiB"
    assert candidate_name(12, row | {"glb_mib": 0.5}, 32) == "#12 4096x2x32 tc, 2048x2 vc, 0.5 MiB @32 GiB"
    assert (variant_hbm("at_32_gib"), variant_hbm("at_24.5_gib"), variant_hbm("literature")) == (32.0, 24.5, None)
    assert baseline_name("tpuv4", 32.0) == "tpuv4 @32 GiB"


def test_sweep_named_by_what_it_sweeps() -> None:
    cfg = OmegaConf.create({"hydra": {"sweeper": {"params": {"hw.hbm_gib": "32,64,80"}},
                                      "overrides": {"task": ["model=bert_large,gpt2_xl", "solver=greedy"]}}})
    assert sweep_name(cfg, "sweep") == "sweep hw.hbm_gib=32,64,80 model=bert_large,gpt2_xl"
    cfg.hydra.overrides.task = ["hw.hbm_gib=16,32", "parallelism.microbatch_sizes=[1,2]"]
    assert sweep_name(cfg, "sweep") == "sweep hw.hbm_gib=16,32"  # the command line wins; a list is one value
    assert sweep_name(OmegaConf.create({"hydra": {}}), "10-00-00") == "sweep 10-00-00"


def test_a_colour_per_kind() -> None:
    kinds = ("search", "pareto", "job", "sweep", "tpuv4", "tpuv4_phaze", "spotlight", "spotlight_oracle")
    assert len({run_color(k) for k in kinds}) == len(kinds)
    assert run_color("a100") in FALLBACK_COLORS and run_color("a100") == run_color("a100")
    assert all(c.startswith("#") and len(c) == 7 for c in KIND_COLORS.values())


def test_view_state_columns_follow_the_baselines() -> None:
    state = view_state(["a100"])
    assert "metrics.`speedup_vs_a100`" in state["selectedColumns"]
    assert not any("tpuv4" in c for c in state["selectedColumns"])


def test_log_run_prints_the_runs_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run_id = log_run(make_cfg(uri, str(tmp_path / "art")), tmp_path / "run", result(), candidates(), [])
    assert run_id is not None
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == f"mlflow: run {run_id} in experiment 'opt13b' at {uri}"
    assert out[-1] == (f"mlflow: runs table http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning"
                       f" after `mlflow ui --backend-store-uri {uri} --workers 1`")
    from mlflow import MlflowClient

    tags = MlflowClient(uri).get_experiment("1").tags
    assert json.loads(tags["mlflow.sharedViewState.phaze-designs"])["name"] == "phaze: compare designs"
