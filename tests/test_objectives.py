"""search.objective and the power budget on a small space: pruning stays exact for every objective, the best
design maximises its objective over every placed candidate, over-budget pairs are left out and listed, and an
energy objective's result.json is reproducible to the byte."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, compose_cfg, run_cli
from omegaconf import OmegaConf

from phaze.config.search import OBJECTIVES, SearchConfig
from phaze.cost.energy import static_power_w
from phaze.hardware import Accelerators
from phaze.placement.evaluate import DesignEvaluator
from phaze.placement.strategies import evaluate_best
from phaze.search.job import SearchRun, run_search
from phaze.search.objective import objective_value
from phaze.search.pair import PRUNED, PairResult
from phaze.search.plan import peak_power_w
from phaze.search.results import best_row, candidates_table

# 72 designs (1 tensor core, 1-4 vector cores, W 2-16, D 2-8, 2-4 MiB in 16 banks) x 8 settings on BERT-large:
# small enough to evaluate every pair in about a second, and the three objectives pick three different designs
SPACE = ["model=bert_large", "hw.space.n_tc.max=1", "hw.space.n_vc.max=4", "hw.space.tc_width.max=16",
         "hw.space.tc_depth.max=8", "hw.space.glb_mib.max=4", "hw.space.glb_banks.min=16", "hw.space.glb_banks.max=16",
         "hw.space.min_area_fraction=0", "parallelism.devices=32", "parallelism.global_batch=64",
         "parallelism.microbatch_sizes=[1,2]", "parallelism.tensor_widths=[1,2]", "solver=greedy"]
CLI = [*SPACE, "search.chunk_size=8", "search.progress=false", "search.spotlight.evaluations=5",
       "search.spotlight.initial=2", "tracking=none"]
PLACEMENT = ["data", "pipeline", "tensor", "microbatch", "recompute", "stages", "iteration_s",
             "memory_per_device_bytes"]
ENERGY = ["power_w", "peak_power_w", "energy_per_token_j", "throughput_per_watt"]


@cache
def _inputs() -> tuple[Accelerators, object, object, object, int]:
    cfg = compose_cfg(SPACE)
    model, par, solver = (OmegaConf.to_object(cfg[k]) for k in ("model", "parallelism", "solver"))
    return Accelerators.from_config(cfg.hw), model, par, solver, int(cfg.model.seq_len)


@cache
def _search(objective: str, pruning: bool, budget: float | None = None) -> SearchRun:
    acc, model, par, solver, _ = _inputs()
    search = SearchConfig(workers=1, pruning=pruning, chunk_size=8, objective=objective)
    return run_search(model, par, solver, search, acc, None, max_power_w=budget)  # type: ignore[arg-type]


def _table(run: SearchRun) -> pd.DataFrame:
    acc = _inputs()[0]
    pairs = run.pairs()
    planned = np.zeros(len(acc), dtype=bool)
    planned[[r.candidate for r in pairs]] = True
    return candidates_table(acc, run.member, pairs, planned, run.plan.over_power)


def _value(objective: str, r: PairResult) -> float:
    """The objective of a placed pair from its placement's own fields (the larger the better)."""
    area = float(_inputs()[0].area_mm2[r.candidate])
    assert r.placement is not None
    return {"throughput": r.achieved, "throughput_per_mm2": r.achieved / area,
            "throughput_per_watt": r.placement["throughput_per_watt"],
            "energy_per_token": -r.placement["energy_per_token_j"]}[objective]


def _brute_best(objective: str, pairs: list[PairResult]) -> int:
    """The candidate whose best placed pair maximises the objective; ties to the smaller area, then index."""
    area = _inputs()[0].area_mm2
    best: dict[int, float] = {}
    for r in pairs:
        if r.achieved > 0:
            best[r.candidate] = max(best.get(r.candidate, -np.inf), _value(objective, r))
    return min(best, key=lambda c: (-best[c], float(area[c]), c))


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_pruned_search_equals_exhaustive(objective: str) -> None:
    acc, _, _, _, seq = _inputs()
    assert len(acc) == 72
    pruned, full = _search(objective, True), _search(objective, False)
    pruned_best, full_best = best_row(_table(pruned)), best_row(_table(full))
    assert pruned_best is not None and full_best is not None
    same = ["index", "score", "throughput_samples_s", *ENERGY, *PLACEMENT]
    pd.testing.assert_series_equal(pruned_best[same], full_best[same])
    # every pair the pruned search evaluated has the exhaustive search's numbers
    exact = {(r.candidate, r.setting): r for r in full.pairs()}
    evaluated = [r for r in pruned.pairs() if r.status != PRUNED]
    assert evaluated and all((r.score, r.achieved, r.placement) == (exact[(r.candidate, r.setting)].score,
                                                                    exact[(r.candidate, r.setting)].achieved,
                                                                    exact[(r.candidate, r.setting)].placement)
                             for r in evaluated)
    assert sum(r.status == PRUNED for r in pruned.pairs()) > len(pruned.pairs()) // 2  # pruning does prune
    assert not any(r.status == PRUNED for r in full.pairs())
    # the optimistic bounds (objective.py's proof) never undercut a real placement's score
    for r in full.pairs():
        assert r.optimistic >= r.score * (1 - 1e-12), (r.candidate, r.setting)
        if r.upper is not None:
            assert r.upper_score >= r.score * (1 - 1e-12), (r.candidate, r.setting)
    # the score is the objective, computed from the placement's own fields
    placed = [r for r in full.pairs() if r.achieved > 0]
    assert len(placed) > 400
    for r in placed:
        assert r.placement is not None
        area = float(acc.area_mm2[r.candidate])
        want = {"throughput": r.achieved, "throughput_per_mm2": r.achieved / area}.get(
            objective, r.placement["throughput_per_watt"])
        assert r.score == want
        assert r.placement["throughput_per_watt"] == pytest.approx(64 / r.placement["energy_per_iteration_j"],
                                                                   rel=1e-12)
        if objective == "energy_per_token":
            assert objective_value(objective, r.score, seq) == pytest.approx(r.placement["energy_per_token_j"],
                                                                             rel=1e-12)
    # brute force over every placed pair, and over the exhaustive candidates table
    assert int(full_best["index"]) == _brute_best(objective, full.pairs())
    table = _table(full)
    table = table[table["throughput_samples_s"] > 0].copy()
    table["value"] = {"throughput": table["throughput_samples_s"],
                      "throughput_per_mm2": table["throughput_samples_s"] / table["area_mm2"],
                      "throughput_per_watt": table["throughput_per_watt"],
                      "energy_per_token": -table["energy_per_token_j"]}[objective]
    top = table.sort_values(["value", "area_mm2", "index"], ascending=[False, True, True], kind="mergesort")
    assert int(top.iloc[0]["index"]) == int(full_best["index"])
    assert (table["value"] <= top.iloc[0]["value"]).all()


def test_objectives_pick_different_designs() -> None:
    """On this space each objective has its own optimum (else the test above could not tell them apart);
    energy per token is minimised where samples per joule is maximised."""
    best = {obj: int(best_row(_table(_search(obj, True)))["index"]) for obj in OBJECTIVES}  # type: ignore[index]
    assert len({best["throughput"], best["throughput_per_watt"], best["throughput_per_mm2"]}) == 3, best
    assert best["energy_per_token"] == best["throughput_per_watt"]
    area = _inputs()[0].area_mm2
    assert area[best["throughput_per_mm2"]] < area[best["throughput"]]


@pytest.mark.parametrize("objective", ["throughput", "throughput_per_watt"])
def test_a_fixed_design_gets_its_best_setting_by_the_objective(objective: str) -> None:
    """task=evaluate and the baselines pick a fixed design's setting as the exhaustive search scores its pairs:
    under throughput_per_watt, the most samples per joule of any setting (not the fastest setting's)."""
    acc, model, par, solver, _ = _inputs()
    best_score: dict[int, float] = {}
    for r in _search(objective, False).pairs():
        best_score[r.candidate] = max(best_score.get(r.candidate, 0.0), r.score)
    differs = 0
    for c in sorted(best_score)[::6]:
        ev = DesignEvaluator(model, par, solver, acc.take(np.array([c])))  # type: ignore[arg-type]
        best, outcomes, _ = evaluate_best(ev, objective)
        assert best is not None
        energy = ev.energy(best)
        assert energy is not None
        score = best.throughput if objective == "throughput" else energy.samples_per_j
        assert score == pytest.approx(best_score[c], rel=1e-12), c
        fastest = max(outcomes, key=lambda o: o.throughput)
        differs += fastest.setting != best.setting
    assert (differs > 0) == (objective == "throughput_per_watt")  # the objective changed some design's setting


def _peaks(run: SearchRun) -> np.ndarray:
    """(C, settings) each design's peak power per chip in each setting (its busiest layer pass + static)."""
    return np.stack([peak_power_w(run.space, s) for s in run.settings], axis=1)


def test_power_budget_excludes_and_lists_over_power_designs(tmp_path: Path) -> None:
    acc = _inputs()[0]
    free = _search("throughput_per_watt", True)
    peaks = _peaks(free)
    # the budget: between the unconstrained winner's lowest peak over the settings and the peak of the pair
    # that won, so the winner keeps some settings and loses the winning one
    free_best = best_row(_table(free))
    assert free_best is not None
    winner = int(free_best["index"])
    assert peaks[winner].min() < free_best["peak_power_w"]
    budget = float(0.5 * (peaks[winner].min() + free_best["peak_power_w"]))
    assert peaks.min() < budget < peaks.max()
    capped = _search("throughput_per_watt", True, budget)
    in_plan = set(zip(free.plan.candidate.tolist(), free.plan.setting.tolist(), strict=True))
    assert len(in_plan) == peaks.size  # every pair fits in memory here
    # the plan holds exactly the pairs within the budget; over_power marks the designs that lost one
    within = {(c, i) for c, i in in_plan if peaks[c, i] <= budget}
    assert set(zip(capped.plan.candidate.tolist(), capped.plan.setting.tolist(), strict=True)) == within
    assert capped.plan.over_power is not None
    assert capped.plan.over_power.tolist() == (peaks > budget).any(axis=1).tolist()
    assert all(r.placement is None or r.placement["peak_power_w"] <= budget for r in capped.pairs())
    all_over = sorted(int(c) for c in np.flatnonzero((peaks > budget).all(axis=1)))
    some_over = (peaks > budget).any(axis=1) & ~(peaks > budget).all(axis=1)
    assert 0 < len(all_over) < len(acc) and some_over[winner]
    # brute force: the capped search's best is the exhaustive search's best among pairs within the budget
    exhaustive = _search("throughput_per_watt", False).pairs()
    ok = [r for r in exhaustive if peaks[r.candidate, r.setting] <= budget]
    capped_best = best_row(_table(capped))
    assert capped_best is not None and int(capped_best["index"]) == _brute_best("throughput_per_watt", ok)
    assert capped_best["peak_power_w"] <= budget < free_best["peak_power_w"]
    assert capped_best["score"] < free_best["score"]  # the budget cost something

    # the same budget through the command line: candidates.parquet and result.json list the same designs
    out = tmp_path / "capped"
    proc = run_cli(*CLI, "search.objective=throughput_per_watt", f"hw.space.max_power_w={budget!r}",
                   "search.baselines=[tpuv4]", f"hydra.run.dir={out}", f"search.cache_dir={tmp_path / 'cache'}",
                   timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = pd.read_parquet(out / "candidates.parquet")
    result = json.loads((out / "result.json").read_text())
    s = result["search"]
    assert table.loc[table["status"] == "over_power", "index"].tolist() == all_over
    assert s["over_power_candidates"] == all_over and s["over_power"] == len(all_over)
    assert s["max_power_w"] == budget and s["objective"] == "throughput_per_watt"
    assert (table.loc[table["status"] == "over_power", "throughput_samples_s"].isna()).all()
    assert not table.loc[some_over, "status"].isin(["over_power", "infeasible"]).any()
    assert (table["peak_power_w"].dropna() <= budget).all()
    assert result["best"]["index"] == int(capped_best["index"]) and result["best"]["peak_power_w"] <= budget
    assert result["best"]["score"] == capped_best["score"]
    assert f"over the power budget of {budget:g} W" in proc.stdout
    # a baseline is a reference: over the budget it is flagged (never dropped), and ranked by the objective
    for name, entry in result["baselines"].items():
        b = entry["best"]
        assert entry["over_power"] == (b["peak_power_w"] > budget), name
        assert entry["objective_ratio"] == pytest.approx(result["best"]["throughput_per_watt"]
                                                         / b["throughput_per_watt"], rel=1e-12)
        assert entry["speedup"] == pytest.approx(result["best"]["throughput_samples_s"]
                                                 / b["throughput_samples_s"], rel=1e-12)
        assert (f"over the power budget: peak {b['peak_power_w']:.1f} W > {budget:g} W" in proc.stdout) \
            == entry["over_power"]
        assert f"{entry['objective_ratio']:.2f}x samples/s/W)" in proc.stdout
    assert result["baselines"]["tpuv4"]["over_power"]  # TPUv4 peaks far above a budget set on 2-16-wide arrays


def test_no_budget_and_a_loose_budget_change_nothing() -> None:
    free = _search("throughput_per_watt", True)
    loose = _search("throughput_per_watt", True, float(_peaks(free).max()) * 1.01)
    for name in ("candidate", "setting", "optimistic", "chunk"):
        assert np.array_equal(getattr(free.plan, name), getattr(loose.plan, name)), name
    assert free.plan.over_power is not None and not free.plan.over_power.any()
    assert loose.plan.over_power is not None and not loose.plan.over_power.any()
    assert [r.as_dict() for r in free.pairs()] == [r.as_dict() for r in loose.pairs()]


def _cli(out: Path, *extra: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "phaze", *CLI, "search.objective=throughput_per_watt", "search.baselines=[tpuv4]",
            f"hydra.run.dir={out}", f"search.cache_dir={out}-cache", *extra]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_throughput_per_watt_result_is_byte_identical(tmp_path: Path) -> None:
    """Twice the same config (an explicit null budget once, the default once; 2 workers, then 1): the same
    result.json bytes and the same table. The winner's energy fields satisfy the module doc's identities."""
    a, b = tmp_path / "a", tmp_path / "b"
    procs = [_cli(a, "hw.space.max_power_w=null"), _cli(b, "search.workers=1")]  # run side by side
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    assert (a / "result.json").read_bytes() == (b / "result.json").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(a / "candidates.parquet"), pd.read_parquet(b / "candidates.parquet"))
    result = json.loads((a / "result.json").read_text())
    s, best = result["search"], result["best"]
    assert s["objective"] == "throughput_per_watt" and s["max_power_w"] is None
    assert s["over_power"] == 0 and s["over_power_candidates"] == []
    assert "over_power" not in set(pd.read_parquet(a / "candidates.parquet")["status"])
    assert not any(k.endswith("_s") for k in s)  # no wall-clock field
    # the in-process search found the same design
    in_process = best_row(_table(_search("throughput_per_watt", True)))
    assert in_process is not None and best["index"] == int(in_process["index"])
    assert best["objective"] == {"name": "throughput_per_watt", "value": best["score"]}
    # E = sum of parts; samples/J = G/E; J/token = E/(G·seq); W per chip = E/(D·T), D = d·p·t devices
    acc, _, _, _, seq = _inputs()
    parts, p = best["energy_parts_j"], best["placement"]
    assert set(parts) == {"arithmetic", "sram", "hbm", "link", "static"} and all(v > 0 for v in parts.values())
    energy, t_iter, devices = sum(parts.values()), best["iteration_s"], p["data"] * p["pipeline"] * p["tensor"]
    assert best["throughput_per_watt"] == pytest.approx(64 / energy, rel=1e-12) == best["score"]
    assert best["energy_per_token_j"] == pytest.approx(energy / (64 * seq), rel=1e-12)
    assert best["power_w"] == pytest.approx(energy / (devices * t_iter), rel=1e-12)
    assert best["throughput_samples_s"] == pytest.approx(64 / t_iter, rel=1e-12)
    assert parts["static"] == pytest.approx(devices * float(static_power_w(acc)[best["index"]]) * t_iter, rel=1e-12)
    assert best["power_w"] <= best["peak_power_w"]


BAD = [("search.objective=foo", "search.objective"), ("hw.tech_node_nm=3", "hw.tech_node_nm"),
       ("hw.tech_node_nm=200", "hw.tech_node_nm"), ("hw.space.max_power_w=-1", "hw.space.max_power_w"),
       ("hw.space.max_power_w=0", "hw.space.max_power_w"), ("hw.static_power_w=-1", "hw.static_power_w")]


@pytest.mark.parametrize(("override", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_energy_config_is_one_line_naming_the_field(override: str, field: str, tmp_path: Path) -> None:
    proc = run_cli("model=bert_large", "tracking=none", override, f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"{field}=" in lines[0] and override.split("=")[1] in lines[0], lines[0]
    assert not (tmp_path / "result.json").exists()
