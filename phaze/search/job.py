"""One search job: Stage A, the plan, chunks on an executor, the chunk cache (DESIGN §8).

Finished chunks are written to `<cache>/chunks/<k>.json` (atomically, fsynced) as soon as they finish, so a
run killed at any point and restarted with the same config re-evaluates no finished chunk; CP-SAT schedules
are cached by content under `<cache>/schedules/`. A chunk file that is not what this plan would write (empty,
truncated, not JSON, wrong fields, or other pairs than the chunk's) is reported in one line and recomputed.
Where the work runs is the executor's (executor.py:
forked processes, or Ray tasks): a chunk's pairs that its incumbent already prunes are decided here, the
open ones go to the workers in interleaved slices, and results are put back in plan order, so every
executor gives the same result.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phaze.atomic_file import write_atomic
from phaze.config.model import ModelConfig
from phaze.config.parallelism import ParallelismConfig
from phaze.config.search import SearchConfig, parse_shard
from phaze.config.solver import SolverConfig
from phaze.hardware import Accelerators
from phaze.placement.settings import Setting, settings
from phaze.schedule import ScheduleCache
from phaze.search.engine import run_chunks
from phaze.search.executor import Executor, WorkerState, make_executor
from phaze.search.objective import Objective
from phaze.search.pair import FEASIBLE, INFEASIBLE, OPTIMAL, PRUNED, PRUNED_DP, PairResult
from phaze.search.plan import Plan, make_plan
from phaze.search.space_times import SpaceTimes

log = logging.getLogger(__name__)
PAIR_STATUSES = (PRUNED, PRUNED_DP, OPTIMAL, FEASIBLE, INFEASIBLE)


@dataclass
class SearchRun:
    plan: Plan
    space: SpaceTimes
    settings: list[Setting]
    skipped_widths: list[int]
    member: NDArray[np.bool_]
    results: dict[int, list[PairResult]]
    timings: dict[str, float] = field(default_factory=dict)
    cached_chunks: int = 0

    def pairs(self) -> list[PairResult]:
        return [r for k in sorted(self.results) for r in self.results[k]]

    def chunk_of_pairs(self) -> list[int]:
        return [k for k in sorted(self.results) for _ in self.results[k]]


def _chunk_file(cache_dir: Path | None, k: int) -> Path | None:
    return None if cache_dir is None else cache_dir / "chunks" / f"{k:06d}.json"


def _load_done(cache_dir: Path | None, plan: Plan, member: NDArray[np.bool_]) -> dict[int, list[PairResult]]:
    """The chunks finished by an earlier run of this config; a corrupt file is reported and left out."""
    done: dict[int, list[PairResult]] = {}
    if cache_dir is None or not (cache_dir / "chunks").is_dir():
        return done
    expected = {k: positions[member[plan.candidate[positions]]] for k, positions in plan.chunks()}
    for path in sorted((cache_dir / "chunks").glob("*.json")):
        k = int(path.stem) if path.stem.isdigit() else -1
        if k not in expected:
            log.warning("stray chunk cache file %s (no chunk %s in this plan): ignoring it", path, path.stem)
            continue
        try:
            done[k] = _read_chunk(path.read_bytes(), plan, expected[k])
        except ValueError as err:
            log.warning("corrupt chunk cache entry %s (%s): recomputing it", path, err)
    return done


def _read_chunk(blob: bytes, plan: Plan, positions: NDArray[np.int64]) -> list[PairResult]:
    """A chunk file's pairs; ValueError (what is wrong) unless it holds exactly the chunk's pairs, in order."""
    if not blob.strip():
        raise ValueError("empty file")
    try:
        rows: Any = json.loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"not JSON: {err}") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError("not a list of pair records")
    try:
        pairs = [PairResult(**row) for row in rows]
    except TypeError as err:
        raise ValueError(f"wrong fields: {err}") from None
    want = list(zip(plan.candidate[positions].tolist(), plan.setting[positions].tolist(), strict=True))
    if [(r.candidate, r.setting) for r in pairs] != want:
        raise ValueError(f"{len(pairs)} pairs that are not the chunk's {len(want)}")
    if any(r.status not in PAIR_STATUSES for r in pairs):
        raise ValueError("a pair with an unknown status")
    return pairs


def _save_chunk(cache_dir: Path | None, k: int, results: list[PairResult]) -> None:
    path = _chunk_file(cache_dir, k)
    if path is not None:
        write_atomic(path, json.dumps([r.as_dict() for r in results]))


ProgressHook = Callable[[int, int, float], None]  # (pairs done, pairs total, best score)
SCHEDULES_DIR = "schedules"
# Part of a run's cache directory name (tasks/search.py): the config hash names what was asked, this what the code
# computes for it. Bump it when a pair's fields or what the cost model gives for them change (2: energy and scores,
# issue 19), so chunks written by an older phaze are never read back as this one's.
CHUNK_CACHE_VERSION = 2  # the schedule cache under a run's cache directory (also read by tasks/search)


def run_search(model: ModelConfig, par: ParallelismConfig, solver: SolverConfig, search: SearchConfig,
               acc: Accelerators, cache_dir: Path | None, progress: ProgressHook | None = None,
               max_power_w: float | None = None) -> SearchRun:
    """Stage A, the plan and every chunk not in the cache, on the executor `search.executor` names; pairs
    over `max_power_w` (hw.space.max_power_w) are left out of the plan."""
    executor = make_executor(search, acc)
    try:
        return _run(model, par, solver, search, acc, cache_dir, progress, executor, max_power_w)
    finally:
        executor.close()


def _run(model: ModelConfig, par: ParallelismConfig, solver: SolverConfig, search: SearchConfig,
         acc: Accelerators, cache_dir: Path | None, progress: ProgressHook | None, executor: Executor,
         max_power_w: float | None) -> SearchRun:
    t0 = time.perf_counter()
    all_settings, skipped = settings(par, model)
    space = SpaceTimes(model, acc, par.sequence_parallel, par.kernels)
    executor.stage_a(space, [(s.microbatch, s.tensor) for s in all_settings])
    t1 = time.perf_counter()
    area = acc.area_mm2.astype(np.float64)
    chunk_size = search.chunk_size if search.pruning else max(1, len(acc) * max(len(all_settings), 1))
    objective = Objective(search.objective, space)
    plan = make_plan(space, all_settings, par, chunk_size, area, executor.plan_bounds(space, all_settings, par),
                     objective, max_power_w)
    shard, shards = parse_shard(search.shard)
    member = (np.arange(len(acc)) % shards) == shard
    t2 = time.perf_counter()
    state = WorkerState(space, plan, par, solver,
                        (cache_dir / SCHEDULES_DIR).resolve() if cache_dir is not None else None, objective)
    sched_cache = ScheduleCache(state.schedule_dir)
    done = _load_done(cache_dir, plan, member)
    cached = len(done)
    total = int(member[plan.candidate].sum())
    counts = {"done": sum(len(v) for v in done.values()),
              "best": max((r.score for v in done.values() for r in v), default=0.0), "on_workers": 0}
    if progress is not None:  # chunks resumed from the cache count as done from the start
        progress(counts["done"], total, counts["best"])
    workers = executor.workers
    executor.start(state)

    def run_chunk(positions: NDArray[np.int64], incumbent: float) -> list[PairResult]:
        incumbent = incumbent if search.pruning else 0.0
        shut = plan.optimistic[positions] < incumbent  # pruned by their bound alone: decided here, no work
        open_ = positions[~shut]
        if open_.size < 2 * workers:
            return state.evaluate([int(p) for p in positions], incumbent, sched_cache)
        merged = dict(zip((int(p) for p in positions[shut]),
                          state.evaluate([int(p) for p in positions[shut]], incumbent, sched_cache), strict=True))
        slices = [[int(p) for p in open_[i::workers]] for i in range(workers)]
        counts["on_workers"] += open_.size
        for sl, part in zip(slices, executor.evaluate(slices, incumbent), strict=True):
            merged.update(zip(sl, part, strict=True))
        return [merged[int(p)] for p in positions]

    def on_chunk(k: int, results: list[PairResult], incumbent: float) -> None:
        _save_chunk(cache_dir, k, results)
        counts["done"] += len(results)
        counts["best"] = max(counts["best"], *(r.score for r in results), incumbent)
        if progress is not None:
            progress(counts["done"], total, counts["best"])

    results = run_chunks(plan, member, run_chunk, done, on_chunk)
    t3 = time.perf_counter()
    timings = {"stage_a_s": t1 - t0, "plan_s": t2 - t1, "evaluate_s": t3 - t2, "workers": float(workers),
               "pairs_on_workers": float(counts["on_workers"]),
               "schedule_cache_hits": float(sched_cache.hits), "schedule_cache_misses": float(sched_cache.misses)}
    return SearchRun(plan, space, all_settings, skipped, member, results, timings, cached)
