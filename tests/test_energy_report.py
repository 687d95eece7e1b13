"""The reporting side of energy and power: the two-panel Pareto plot, energy_split.png (search and evaluate),
and the power, energy and objective figures logged to MLflow (docs/output_schema.md#energy-and-power)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from mlflow import MlflowClient
from test_tracking_mlflow import DESIGN, N_ROWS, NAN_ROWS, make_cfg

from phaze.placement.energy import ENERGY_PARTS
from phaze.report.energy_plot import energy_split_figure, energy_split_plot, energy_unit, joules_text
from phaze.report.plots import pareto_figure, pareto_plot
from phaze.search.pareto import pareto_front
from phaze.search.results import ENERGY_COLUMNS, PART_COLUMNS
from phaze.search.scores import entry_score
from phaze.tasks.search import _plot
from phaze.tracking import children
from phaze.tracking.files import run_artifacts
from phaze.tracking.mlflow_log import job_metrics, job_params, log_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PARTS_J = {"arithmetic": 40.0, "sram": 20.0, "hbm": 25.0, "link": 5.0, "static": 10.0}


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from the PNG's IHDR chunk."""
    assert data[:8] == PNG_MAGIC
    return struct.unpack(">II", data[16:24])


def demo(n: int = 400, seed: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    area = rng.uniform(10.0, 280.0, n)
    power = 5.0 + 0.3 * area * rng.uniform(0.6, 1.2, n)
    thr = 50.0 * (area / 280.0) ** 0.7 * rng.beta(2.0, 4.0, n)
    thr[rng.random(n) < 0.15] = np.nan  # infeasible: not drawn
    power[np.isnan(thr)] = np.nan
    return {"area": area, "power": power, "thr": thr, "front": pareto_front(np.nan_to_num(thr), area),
            "power_front": pareto_front(np.nan_to_num(thr), np.where(np.isfinite(power), power, np.inf))}


BASELINES = {"tpuv4": (299.1, 30.0), "spotlight": (150.0, 20.0), "a100": (None, 45.0), "h100": (None, None)}
BASELINE_W = {"tpuv4": 76.5, "spotlight": 52.9, "a100": 310.0, "h100": None}


def legend_texts(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_pareto_figure_has_an_area_and_a_power_panel_with_the_baselines_on_both() -> None:
    d = demo()
    best = int(np.nanargmax(d["thr"] / d["power"]))  # e.g. search.objective=throughput_per_watt's winner
    fig = pareto_figure(d["area"], d["thr"], d["front"], BASELINES, "demo", power_w=d["power"],
                        power_front_idx=d["power_front"], baseline_power_w=BASELINE_W, best_idx=best,
                        best_label="best (throughput_per_watt)", max_power_w=170.0)
    area_ax, power_ax = fig.axes
    assert len(fig.axes) == 2
    assert area_ax.get_xlabel() == "chip area (mm²)" and power_ax.get_xlabel().startswith("power per chip (W")
    assert area_ax.get_shared_y_axes().joined(area_ax, power_ax)  # one throughput axis
    area_legend, power_legend = legend_texts(area_ax), legend_texts(power_ax)
    # a GPU has no area (a dashed line on the area panel) but has a power (a marker on the power panel)
    assert "a100: 45 (no area)" in area_legend and "a100: 45 at 310.0 W" in power_legend
    assert "tpuv4: 30 at 299.1 mm²" in area_legend and "tpuv4: 30 at 76.5 W" in power_legend
    assert "h100: infeasible" in area_legend and "h100: infeasible" in power_legend
    assert f"Pareto front ({d['front'].size} designs)" in area_legend
    assert f"Pareto front ({d['power_front'].size} designs)" in power_legend
    star = f"best (throughput_per_watt): {d['thr'][best]:.4g} at {d['power'][best]:.1f} W"
    assert star in power_legend and any(t.startswith("best (throughput_per_watt): ") for t in area_legend)
    assert "power budget 170 W (on the peak)" in power_legend
    assert power_ax.get_xlim()[1] > 170.0  # the budget line is inside the axes
    assert len(pareto_figure(d["area"], d["thr"], d["front"], BASELINES, "one panel").axes) == 1


def test_pareto_png_with_power_is_two_panels_wide_and_byte_identical(tmp_path: Path) -> None:
    d = demo()
    kwargs = {"power_w": d["power"], "power_front_idx": d["power_front"], "baseline_power_w": BASELINE_W}
    two = [pareto_plot(tmp_path / f"p{k}.png", d["area"], d["thr"], d["front"], BASELINES, "demo", **kwargs)
           for k in range(2)]
    one = pareto_plot(tmp_path / "one.png", d["area"], d["thr"], d["front"], BASELINES, "demo")
    data = [p.read_bytes() for p in two]
    assert data[0] == data[1] and len(data[0]) > 20_000 and b"Software" not in data[0]
    (w2, h2), (w1, h1) = png_size(data[0]), png_size(one.read_bytes())
    assert w2 == 2 * w1 and h2 == h1
    with pytest.raises(ValueError, match="power has 3 entries"):
        pareto_figure(d["area"], d["thr"], d["front"], {}, "bad", power_w=[1.0, 2.0, 3.0])


def entry(scale: float, power: float) -> dict[str, Any]:
    return {"throughput_samples_s": 10.0, "power_w": power, "peak_power_w": power + 20.0,
            "energy_per_token_j": 2e-3 * scale, "throughput_per_watt": 1.0 / scale,
            "energy_parts_j": {k: v * scale for k, v in PARTS_J.items()}}


def test_energy_split_stacks_every_part_of_every_placed_design(tmp_path: Path) -> None:
    entries = {"phaze best": entry(10.0, 55.5), "tpuv4": entry(30.0, 76.5), "tpuv4_phaze": "infeasible: no fit",
               "old": {"throughput_samples_s": 3.0}}  # a result from before the energy model: no split, no bar
    fig = energy_split_figure(entries, "demo")
    (ax,) = fig.axes
    assert len(ax.patches) == 2 * len(ENERGY_PARTS)  # one bar per placed design, one segment per part
    at = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    assert at == {"phaze best\n55.5 W/chip, 20 mJ/token": 1, "tpuv4\n76.5 W/chip, 60 mJ/token": 0}  # first on top
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["arithmetic", "SRAM", "HBM", "links",
                                                                    "static (leakage)"]
    assert ax.get_xlabel() == "energy per training iteration, whole cluster (kJ)"  # the largest bar is 3 kJ
    widths = sorted(round(p.get_width(), 9) for p in ax.patches)
    assert widths == sorted(round(v * s / 1e3, 9) for s in (10.0, 30.0) for v in PARTS_J.values())
    assert {t.get_text() for t in ax.texts} == {"1 kJ", "3 kJ"}  # each bar's total
    a, b = (energy_split_plot(tmp_path / f"e{k}.png", entries, "demo") for k in range(2))
    assert a.read_bytes() == b.read_bytes() and len(a.read_bytes()) > 10_000
    assert (energy_unit(4.3e3), energy_unit(12.0), energy_unit(0.5)) == ((1e3, "kJ"), (1.0, "J"), (1.0, "J"))
    assert (joules_text(0.002059), joules_text(4317.0), joules_text(float("nan"))) == ("2.06 mJ", "4.32 kJ", "-")


def search_result(objective: str = "throughput_per_watt") -> dict[str, Any]:
    best = {"index": 2, "throughput_samples_s": 30.0, "area_mm2": 50.0, "score": 0.9,
            "objective": {"name": objective, "value": 0.9}} | entry(10.0, 40.0)
    baselines = {"tpuv4": {"best": entry(30.0, 76.5) | {"throughput_samples_s": 25.0}, "area_mm2": 299.1},
                 "a100": {"best": entry(20.0, 310.0) | {"throughput_samples_s": 35.0}, "area_mm2": None},
                 "tpuv4_phaze": {"best": "infeasible: no setting fits", "area_mm2": 275.8}}
    return {"task": "search", "model": {"name": "demo"}, "best": best, "baselines": baselines,
            "search": {"objective": objective, "max_power_w": 170.0}}


def test_search_writes_the_two_panel_pareto_and_the_energy_split(tmp_path: Path) -> None:
    d = demo(60)
    df = pd.DataFrame({"index": np.arange(60), "area_mm2": d["area"], "throughput_samples_s": d["thr"],
                       "power_w": d["power"], "pareto": False, "pareto_power": False})
    df.loc[d["front"], "pareto"] = True
    df.loc[d["power_front"], "pareto_power"] = True
    assert _plot(tmp_path, df, search_result()) == tmp_path / "pareto.png"
    assert png_size((tmp_path / "pareto.png").read_bytes())[0] == 2 * 8 * 150  # two 8-inch panels at 150 dpi
    assert len((tmp_path / "energy_split.png").read_bytes()) > 10_000
    # nothing placed anywhere: the Pareto plot still, no energy split
    empty = {"task": "search", "model": {"name": "demo"}, "best": "infeasible: nothing fits", "search": {}}
    _plot(tmp_path / "none", df.assign(throughput_samples_s=np.nan), empty)
    assert (tmp_path / "none" / "pareto.png").is_file() and not (tmp_path / "none" / "energy_split.png").exists()


def test_evaluate_writes_the_energy_split_beside_the_time_split(tmp_path: Path) -> None:
    proc = run_cli("task=evaluate", "model=llama2_7b", "hw=a100", "solver=greedy", "tracking=none",
                   f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "time_split.png").is_file()
    assert png_size((tmp_path / "energy_split.png").read_bytes())[1] > 0
    assert tmp_path / "energy_split.png" in run_artifacts(tmp_path)  # uploaded to MLflow with the others
    best = json.loads((tmp_path / "result.json").read_text())["best"]
    metrics = job_metrics(tmp_path, {"task": "evaluate", "best": best})
    assert metrics["best.power_w"] == best["power_w"] and metrics["best.energy_per_iteration_j"] > 0
    assert {f"best.energy_{p}_j" for p in ENERGY_PARTS} <= set(metrics)


# --- MLflow: the tables of test_tracking_mlflow with energy columns, ranked by throughput per watt -----------

TPW = 0.5 + 0.01 * np.arange(N_ROWS)  # rises with the index while the throughput falls: the score reverses the order
PARETO_POWER = (5, 48)


def energy_candidates() -> pd.DataFrame:
    idx = np.arange(N_ROWS)
    nan = np.isin(idx, sorted(NAN_ROWS))
    thr = np.where(nan, np.nan, 100.0 - idx)
    df = pd.DataFrame({"index": idx, **DESIGN, "area_mm2": 100.0 + 2 * idx,
                       "status": np.where(nan, "infeasible", "optimal"), "throughput_samples_s": thr,
                       "throughput_upper_bound": thr, "score": np.where(nan, np.nan, TPW),
                       "power_w": np.where(nan, np.nan, 10.0 + 0.1 * idx),
                       "peak_power_w": np.where(nan, np.nan, 15.0 + 0.1 * idx),
                       "energy_per_token_j": np.where(nan, np.nan, 1e-3 / TPW),
                       "throughput_per_watt": np.where(nan, np.nan, TPW),
                       **{f"energy_{p}_j": np.where(nan, np.nan, v * (idx + 1)) for p, v in PARTS_J.items()},
                       "memory_per_device_bytes": np.where(nan, np.nan, 1e9), "iteration_s": 2.0, "gap": 0.0,
                       "mfu": np.where(nan, np.nan, 0.4), "data": 2, "pipeline": 4, "tensor": 1, "microbatch": 1,
                       "recompute": "none", "stages": "10,10", "pareto": np.isin(idx, (0, 20)),
                       "pareto_power": np.isin(idx, PARETO_POWER)})
    return df


def energy_result() -> dict[str, Any]:
    best = {"index": 48, "throughput_samples_s": 52.0, "tokens_s": 52.0 * 2048, "mfu": 0.4, "area_mm2": 196.0,
            "memory_per_device_bytes": 1e9, "iteration_s": 2.0, "status": "optimal", "score": float(TPW[48]),
            "objective": {"name": "throughput_per_watt", "value": float(TPW[48])},
            "power_w": 14.8, "peak_power_w": 19.8, "energy_per_token_j": 1e-3 / float(TPW[48]),
            "throughput_per_watt": float(TPW[48]), "energy_parts_j": {p: v * 49 for p, v in PARTS_J.items()},
            "hardware": DESIGN | {"peak_flops": 2.75e14},
            "placement": {"data": 2, "pipeline": 4, "tensor": 1, "microbatch": 1, "recompute": "none",
                          "stages": [10, 10]}}
    tpuv4 = {"best": {"throughput_samples_s": 60.0, "tokens_s": 60.0 * 2048, "mfu": 0.3,
                      "memory_per_device_bytes": 2e10, "power_w": 76.5, "peak_power_w": 155.7,
                      "energy_per_token_j": 3.4e-3, "throughput_per_watt": 0.705, "energy_per_iteration_j": 7051.0,
                      "energy_parts_j": dict(PARTS_J), "placement": {"data": 1, "pipeline": 8, "tensor": 1}},
             "area_mm2": 299.1, "design": DESIGN, "speedup": 52.0 / 60.0,
             "objective_ratio": float(TPW[48]) / 0.705, "over_power": False}
    return {"task": "search", "config_hash": "0123456789abcdef", "phaze_version": "0.1.0", "git_commit": "c0ffee",
            "model": {"name": "opt13b"}, "best": best, "baselines": {"tpuv4": tpuv4},
            "search": {"candidates": N_ROWS, "objective": "throughput_per_watt", "max_power_w": 170.0,
                       "over_power": 3}}


@pytest.fixture(scope="module")
def energy_logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlflowClient, str]:
    tmp = tmp_path_factory.mktemp("energy_mlflow")
    uri = f"sqlite:///{tmp}/mlflow.db"
    out = tmp / "run"
    out.mkdir()
    for name in ("pareto.png", "energy_split.png"):
        (out / name).write_bytes(PNG_MAGIC + b" fake")
    cfg = make_cfg(uri, str(tmp / "art"))
    cfg.search = {"objective": "throughput_per_watt"}
    run_id = log_run(cfg, out, energy_result(), energy_candidates(), run_artifacts(out))
    assert run_id is not None
    return MlflowClient(uri), run_id


def test_job_run_logs_the_best_designs_power_energy_and_objective(energy_logged: tuple[MlflowClient, str]) -> None:
    client, run_id = energy_logged
    run = client.get_run(run_id)
    m, p = run.data.metrics, run.data.params
    best = energy_result()["best"]
    for key in ("power_w", "peak_power_w", "energy_per_token_j", "throughput_per_watt", "score"):
        assert m[f"best.{key}"] == pytest.approx(best[key], rel=1e-12)
    assert m["best.objective.value"] == pytest.approx(float(TPW[48]), rel=1e-12)
    assert {k: m[f"best.energy_{k}_j"] for k in ENERGY_PARTS} == {k: v * 49 for k, v in PARTS_J.items()}
    assert (m["search.max_power_w"], m["search.over_power"], m["rank"]) == (170.0, 3.0, 1.0)
    assert m["objective_ratio_vs_tpuv4"] == pytest.approx(float(TPW[48]) / 0.705, rel=1e-12)
    assert m["speedup_vs_tpuv4"] == pytest.approx(52.0 / 60.0, rel=1e-12)
    assert p["search.objective"] == "throughput_per_watt"
    assert "best.objective" not in p and "best.energy_parts_j" not in p  # a mapping: its values are metrics
    assert {a.path for a in client.list_artifacts(run_id)} >= {"pareto.png", "energy_split.png"}
    # the per-candidate steps follow the search's ranking (by score): rank 1 is index 48
    steps = {h.step: h.value for h in client.get_metric_history(run_id, "candidate/power_w")}
    assert steps[1] == pytest.approx(10.0 + 0.1 * 48) and len(steps) == N_ROWS - len(NAN_ROWS)


def test_children_carry_energy_metrics_under_the_same_keys(energy_logged: tuple[MlflowClient, str]) -> None:
    client, run_id = energy_logged
    exp = client.get_run(run_id).info.experiment_id
    kids = client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'", max_results=100)
    search = {int(k.data.tags["candidate.index"]): k.data for k in kids if k.data.tags["candidate.kind"] == "search"}
    top = [i for i in range(N_ROWS - 1, -1, -1) if i not in NAN_ROWS][:10]  # by score: the highest indices
    assert sorted(search) == sorted({*top, 0, 20, *PARETO_POWER})  # top 10, the area front, the power front
    assert search[5].tags["candidate.pareto_power"] == "true" and search[0].tags["candidate.pareto_power"] == "false"
    assert search[48].metrics["rank"] == 1.0 and search[0].metrics["rank"] == N_ROWS - len(NAN_ROWS)
    five = search[5]
    assert five.metrics["power_w"] == pytest.approx(10.5) and five.metrics["energy_static_j"] == pytest.approx(60.0)
    assert five.metrics["throughput_per_watt"] == pytest.approx(TPW[5])
    assert not set(five.params) & {"power_w", "score", "energy_static_j", "pareto_power", "throughput_per_watt"}
    tpuv4 = next(k.data for k in kids if k.data.tags["candidate.kind"] == "tpuv4")
    assert tpuv4.metrics["power_w"] == 76.5 and tpuv4.metrics["energy_hbm_j"] == PARTS_J["hbm"]
    assert tpuv4.tags["candidate.over_power"] == "false"  # peak 155.7 W within the 170 W budget
    # ranked by its own throughput per watt among the candidates' scores, not by its (higher) throughput
    feasible = np.array([TPW[i] for i in range(N_ROWS) if i not in NAN_ROWS])
    assert tpuv4.metrics["rank"] == 1 + int((feasible > 0.705).sum())
    keys = {frozenset(k.data.metrics) for k in kids}
    assert len(keys) == 1 and set(children.ENERGY_METRICS) <= next(iter(keys))


def test_energy_keys_follow_the_search_and_the_objective_of_a_merge() -> None:
    assert children.ENERGY_PARTS == ENERGY_PARTS
    assert (*ENERGY_COLUMNS, *PART_COLUMNS) == children.ENERGY_METRICS  # the candidates table's columns
    cfg = make_cfg("sqlite:///unused.db", "unused")
    cfg.search = {"objective": "throughput"}  # a merge's own command line; result.json has the shards'
    assert job_params(cfg, energy_result())["search.objective"] == "throughput_per_watt"
    assert entry_score({"throughput_samples_s": 8.0}, "throughput_per_mm2", 4.0) == 2.0
    assert entry_score({"throughput_samples_s": 8.0, "throughput_per_watt": 0.3}, "energy_per_token") == 0.3
    assert entry_score({"throughput_samples_s": float("nan")}, "throughput") is None  # infeasible: no score
    assert entry_score({"throughput_samples_s": 8.0}, "throughput") == 8.0
    ranked = children.ranked(energy_candidates())
    assert ranked["index"].iloc[0] == 48 and ranked["rank"].iloc[0] == 1


TINY = ["model=bert_large", "hw.space.n_tc.max=4", "hw.space.n_vc.max=4", "hw.space.tc_width.max=32",
        "hw.space.tc_depth.max=32", "hw.space.glb_mib.max=4", "hw.space.glb_banks.min=4", "hw.space.glb_banks.max=16",
        "hw.space.min_area_fraction=0", "parallelism.devices=32", "parallelism.global_batch=64",
        "parallelism.microbatch_sizes=[1,2]", "parallelism.tensor_widths=[1,2]", "search.chunk_size=8",
        "solver=greedy", "search.progress=false", "search.spotlight.evaluations=20"]


def test_a_search_by_throughput_per_watt_end_to_end(tmp_path: Path) -> None:
    """The files, the console and MLflow of a small search under an energy objective and a power budget."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    out = tmp_path / "run"
    proc = run_cli(*TINY, "search.objective=throughput_per_watt", "hw.space.max_power_w=150",
                   f"hydra.run.dir={out}", f"search.cache_dir={tmp_path}/cache", f"tracking.uri={uri}",
                   f"tracking.artifact_root={tmp_path}/art", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "objective throughput_per_watt" in proc.stdout and " samples/s/W; energy: arithmetic " in proc.stdout
    result = json.loads((out / "result.json").read_text())
    best = result["best"]
    assert best["objective"] == {"name": "throughput_per_watt", "value": best["score"]}
    assert png_size((out / "pareto.png").read_bytes())[0] == 2 * 8 * 150
    assert (out / "energy_split.png").read_bytes()[:8] == PNG_MAGIC
    client = MlflowClient(uri)
    (job,) = [r for r in client.search_runs(["1"]) if "mlflow.parentRunId" not in r.data.tags]
    m = job.data.metrics
    assert m["best.power_w"] == pytest.approx(best["power_w"], rel=1e-12)
    assert m["best.objective.value"] == pytest.approx(best["objective"]["value"], rel=1e-12)
    assert m["best.energy_static_j"] == pytest.approx(best["energy_parts_j"]["static"], rel=1e-12)
    assert m["search.max_power_w"] == 150.0 and job.data.params["search.objective"] == "throughput_per_watt"
    assert {"pareto.png", "energy_split.png", "time_split.png"} <= {a.path for a in client.list_artifacts(
        job.info.run_id)}
