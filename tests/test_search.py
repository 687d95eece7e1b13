"""The co-search on small spaces: pruning is exact, runs are reproducible, resumable and shardable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, compose_cfg, run_cli
from omegaconf import OmegaConf

from phaze.config.search import SearchConfig
from phaze.hardware import Accelerators
from phaze.placement.evaluate import DesignEvaluator
from phaze.placement.settings import Setting
from phaze.placement.time_split import layer_time_split
from phaze.search.job import run_search
from phaze.search.pair import FEASIBLE, OPTIMAL

# a few thousand candidates (BERT-large on 64 devices): seconds per run
SMALL = ["model=bert_large", "hw.space.n_tc.max=16", "hw.space.n_vc.max=8", "hw.space.tc_width.max=64",
         "hw.space.tc_depth.max=64", "hw.space.glb_mib.max=8", "hw.space.glb_banks.min=4", "hw.space.glb_banks.max=16",
         "hw.space.min_area_fraction=0",
         "parallelism.devices=64", "parallelism.global_batch=256", "parallelism.microbatch_sizes=[1,4]",
         "parallelism.tensor_widths=[1,2]", "search.chunk_size=16", "search.progress=false",
         "search.spotlight.evaluations=20", "tracking=none"]
TINY = ["model=bert_large", "hw.space.n_tc.max=4", "hw.space.n_vc.max=4", "hw.space.tc_width.max=32",
        "hw.space.tc_depth.max=32", "hw.space.glb_mib.max=4", "hw.space.glb_banks.min=4", "hw.space.glb_banks.max=16",
        "hw.space.min_area_fraction=0",
        "parallelism.devices=32", "parallelism.global_batch=64", "parallelism.microbatch_sizes=[1,2]",
        "parallelism.tensor_widths=[1,2]", "search.chunk_size=8"]


def _search(overrides: list[str], pruning: bool):
    cfg = compose_cfg(overrides)
    acc = Accelerators.from_config(cfg.hw)
    model, par, solver = (OmegaConf.to_object(cfg[k]) for k in ("model", "parallelism", "solver"))
    run = run_search(model, par, solver, SearchConfig(workers=1, pruning=pruning, chunk_size=8), acc, None)
    return acc, run


# CP-SAT without pruning solves every candidate's schedules: keep that space to a few dozen designs
# later overrides win over TINY's
CPSAT_SPACE = ["hw.space.n_tc.max=2", "hw.space.n_vc.max=2", "hw.space.tc_width.max=8", "hw.space.tc_depth.max=8",
               "parallelism.microbatch_sizes=[2]", "solver=cpsat", "solver.max_deterministic_time=0.05"]


@pytest.mark.parametrize(("overrides", "size"), [([*TINY, "solver=greedy"], (100, 1000)),
                                                 ([*TINY, *CPSAT_SPACE], (20, 200)),
                                                 ([*TINY, "solver=greedy", "parallelism.schedule=interleaved"],
                                                  (100, 1000))], ids=["greedy", "cpsat", "interleaved"])
def test_pruned_search_finds_the_exhaustive_best(overrides: list[str], size: tuple[int, int]) -> None:
    acc, pruned = _search(overrides, pruning=True)
    _, full = _search(overrides, pruning=False)
    assert size[0] <= len(acc) <= size[1]

    def best(run):
        return max((r for r in run.pairs() if r.achieved > 0), key=lambda r: (r.achieved, -acc.area_mm2[r.candidate],
                                                                                -r.candidate))

    assert (best(pruned).candidate, best(pruned).achieved) == (best(full).candidate, best(full).achieved)
    exact = {(r.candidate, r.setting): r.achieved for r in full.pairs()}
    evaluated = [r for r in pruned.pairs() if r.status in (OPTIMAL, FEASIBLE)]
    assert evaluated and all(exact[(r.candidate, r.setting)] == r.achieved for r in evaluated)
    if "parallelism.schedule=interleaved" in overrides:  # v = 2 chunks per device: 2·p chunks listed
        assert all(len(r.placement["stages"]) == 2 * r.placement["pipeline"] for r in evaluated)
    assert sum(r.status == "pruned" for r in pruned.pairs()) > len(pruned.pairs()) // 2  # pruning does prune
    # the optimistic bound never undercuts a real placement
    assert all(r.optimistic >= r.achieved * (1 - 1e-12) for r in full.pairs())


def _run(tmp: Path, name: str, *extra: str) -> Path:
    out = tmp / name
    proc = run_cli(*SMALL, "solver=greedy", f"hydra.run.dir={out}", f"search.cache_dir={tmp / name}-cache", *extra,
                   timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_same_config_twice_gives_byte_identical_result(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b", "search.workers=1")
    assert (a / "result.json").read_bytes() == (b / "result.json").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(a / "candidates.parquet"), pd.read_parquet(b / "candidates.parquet"))
    result = json.loads((a / "result.json").read_text())
    assert set(result["baselines"]) == {"tpuv4", "tpuv4_phaze", "spotlight", "spotlight_oracle"}
    # 2,160 designs x 2 bank counts
    assert result["best"]["throughput_samples_s"] > 0 and result["search"]["candidates"] == 4320
    table = pd.read_parquet(a / "candidates.parquet")  # each candidate's MFU, as result.json's for the winner
    winner = table[table["index"] == result["best"]["index"]].iloc[0]
    assert winner["mfu"] == pytest.approx(result["best"]["mfu"], rel=1e-12)
    assert table["mfu"].isna().equals(table["throughput_samples_s"].isna())
    for name in ("timings.json", "config.resolved.yaml", "pareto.png", "pairs.parquet", "time_split.png"):
        assert (a / name).is_file()
    assert (a / "time_split.png").read_bytes() == (b / "time_split.png").read_bytes()  # plots are reproducible too
    assert "search_s" in json.loads((a / "timings.json").read_text())
    assert not any(k.endswith("_s") for k in result["search"])  # no wall-clock field in result.json


def test_shards_of_an_experiment_merge_into_the_single_jobs_bytes(tmp_path: Path) -> None:
    # the experiment (experiment_name, model, HBM) is read from the shards' config: the merge command names none
    exp = "+experiment=quickstart"
    one = _run(tmp_path, "one", exp)
    shards = [_run(tmp_path, f"s{i}", exp, f"search.shard={i}/2") for i in range(2)]
    merged = tmp_path / "merged"
    proc = run_cli("task=merge", f"merge.dirs=[{shards[0]},{shards[1]}]", f"hydra.run.dir={merged}", "tracking=none")
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = (json.loads((d / "result.json").read_text()) for d in (one, merged))
    assert a["task"] == "search" and a["config_hash"] == b["config_hash"] and a["search"]["shard"] == "0/1"
    assert set(a["baselines"]) == {"tpuv4", "tpuv4_phaze", "spotlight", "spotlight_oracle"}
    assert a["best_layer_time_split"]  # the best design's split comes from the shard that searched it
    # the merged directory is the single job's: the same bytes, the same plots, the same table
    for name in ("result.json", "pareto.png", "time_split.png"):
        assert (one / name).read_bytes() == (merged / name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(one / "candidates.parquet"),
                                  pd.read_parquet(merged / "candidates.parquet"))
    shard_cfg = OmegaConf.load(shards[0] / "config.resolved.yaml")
    merged_cfg = OmegaConf.load(merged / "config.resolved.yaml")
    assert merged_cfg.experiment_name == "quickstart" and merged_cfg.search.shard == "0/1"
    assert OmegaConf.masked_copy(merged_cfg, ["model", "hw", "parallelism", "solver"]) == \
        OmegaConf.masked_copy(shard_cfg, ["model", "hw", "parallelism", "solver"])


def test_killed_run_resumes_without_reevaluating(tmp_path: Path) -> None:
    reference = _run(tmp_path, "reference", "solver=cpsat", "solver.max_deterministic_time=0.2")
    out, cache = tmp_path / "killed", tmp_path / "killed-cache"
    args = [sys.executable, "-m", "phaze", *SMALL, "solver=cpsat", "solver.max_deterministic_time=0.2",
            f"hydra.run.dir={out}", f"search.cache_dir={cache}"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    finished: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        finished = list(cache.glob("*/chunks/*.json"))
        if len(finished) >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    if proc.returncode != -signal.SIGKILL:
        pytest.skip("the run finished before it could be killed")
    finished = list(cache.glob("*/chunks/*.json"))
    assert not (out / "result.json").exists()
    restarted = run_cli(*SMALL, "solver=cpsat", "solver.max_deterministic_time=0.2", f"hydra.run.dir={out}",
                        f"search.cache_dir={cache}", timeout=300)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert (out / "result.json").read_bytes() == (reference / "result.json").read_bytes()
    assert json.loads((out / "timings.json").read_text())["cached_chunks"] == len(finished)


def test_progress_counts_resumed_chunks_from_the_start(tmp_path: Path) -> None:
    """A run resumed from a complete cache reports every pair done at once, with the best throughput found:
    the bar must not sit at 0 while the cached chunks are reused."""
    cfg = compose_cfg([*TINY, "solver=greedy"])
    acc = Accelerators.from_config(cfg.hw)
    model, par, solver = (OmegaConf.to_object(cfg[k]) for k in ("model", "parallelism", "solver"))
    search = SearchConfig(workers=1, chunk_size=8)
    calls: list[list[tuple[int, int, float]]] = [[], []]
    runs = [run_search(model, par, solver, search, acc, tmp_path, lambda *a, k=k: calls[k].append(a))
            for k in range(2)]
    best = max(r.achieved for r in runs[0].pairs())
    assert calls[0][0][0] == 0 and calls[0][-1][0] == calls[0][-1][1]  # fresh: from 0 to every pair
    assert calls[1] == [(calls[0][-1][1], calls[0][-1][1], best)]  # resumed: all done, nothing re-evaluated


def test_best_design_time_split_matches_evaluating_that_design(tmp_path: Path) -> None:
    """The search's split of its best design (from the schedules it priced, CP-SAT's read back from its cache)
    equals `task=evaluate`'s split of that one design at the same setting: two paths, one answer."""
    extra = ["solver=cpsat", "solver.max_deterministic_time=0.2"]
    result = json.loads((_run(tmp_path, "cpsat", *extra) / "result.json").read_text())
    best, split = result["best"], result["best_layer_time_split"]
    cfg = compose_cfg([*SMALL, *extra])
    acc = Accelerators.from_config(cfg.hw).take(np.array([best["index"]]))
    ev = DesignEvaluator(OmegaConf.to_object(cfg.model), OmegaConf.to_object(cfg.parallelism),
                         OmegaConf.to_object(cfg.solver), acc)
    p = best["placement"]
    ev.refine(Setting(p["microbatch"], p["tensor"], p["recompute"]))
    assert layer_time_split(ev.times(p["microbatch"], p["tensor"])) == split
    assert split["block"]["bwd"]["gemm_s"] > split["block"]["fwd"]["gemm_s"] > 0
