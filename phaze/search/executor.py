"""Where one search's work runs: forked processes on this machine, or tasks on a Ray cluster (DESIGN §8).

An executor does three things for `run_search` (job.py): Stage A (`stage_a`: price, greedy-schedule and bound
every layer pass of every (micro-batch, width) on every candidate), the settings' memory-feasible (S, d)
tables of the plan (`plan_bounds`, candidate-independent) and the chunks' open pairs (`evaluate`: lists of
plan positions -> their PairResults, one list per worker). It never decides
anything: the plan, the incumbent between chunks and the order of results are job.py's, so every executor
gives the same pairs, bit for bit.

- `LocalExecutor` (`search.executor=local`): Stage A in this process; pairs in `search.workers` processes
  forked after the plan, so they share its arrays.
- `RayExecutor` (`search.executor=ray`, phaze/search/ray_executor.py): Stage A split by candidate range
  (split.py) and the settings' plan bounds spread over one Ray actor per cluster CPU, which then evaluate
  the pairs.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from phaze.config.parallelism import ParallelismConfig
from phaze.config.search import SearchConfig
from phaze.config.solver import SolverConfig
from phaze.hardware import Accelerators
from phaze.placement.settings import Setting
from phaze.schedule import ScheduleCache
from phaze.search.bounds import SettingBound
from phaze.search.objective import Objective
from phaze.search.pair import PairResult, evaluate_pair
from phaze.search.plan import Plan, plan_bound
from phaze.search.space_times import SpaceTimes

Key = tuple[int, int]  # (micro-batch, tensor width): one Stage A computation


@dataclass
class WorkerState:
    """What a worker evaluates pairs against: built once per job, after the plan."""

    space: SpaceTimes
    plan: Plan
    par: ParallelismConfig
    solver: SolverConfig
    schedule_dir: Path | None  # the CP-SAT schedule cache (absolute: workers may start elsewhere)
    objective: Objective

    def evaluate(self, positions: list[int], incumbent: float, cache: ScheduleCache) -> list[PairResult]:
        return [evaluate_pair(self.space, self.plan, p, incumbent, self.par, self.solver, cache, self.objective)
                for p in positions]


class Executor(Protocol):
    workers: int  # how many lists `evaluate` takes at once

    def stage_a(self, space: SpaceTimes, keys: list[Key]) -> None:
        """Fill `space.times` (and `space.graphs`) for every key."""

    def plan_bounds(self, space: SpaceTimes, settings: list[Setting], par: ParallelismConfig) -> list[SettingBound]:
        """Every setting's `plan_bound`, in settings order."""

    def start(self, state: WorkerState) -> None:
        """Hand the workers the job's state (after the plan, before the first chunk)."""

    def evaluate(self, slices: list[list[int]], incumbent: float) -> list[list[PairResult]]:
        """Each slice's PairResults, in slice order."""

    def close(self) -> None: ...


_WORKER: dict[str, Any] = {}  # the state forked workers evaluate against
PARENT_POLL_S = 1.0  # how often a worker checks that the job process still exists


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: leave when the job process dies (e.g. SIGKILL), instead of lingering idle."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _evaluate_forked(positions: list[int], incumbent: float) -> list[PairResult]:
    return _WORKER["state"].evaluate(positions, incumbent, _WORKER["cache"])


class LocalExecutor:
    """Stage A in this process; pairs in `workers` processes forked once the state is known."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.pool: ProcessPoolExecutor | None = None

    def stage_a(self, space: SpaceTimes, keys: list[Key]) -> None:
        for b, t in keys:
            space.ensure(b, t)

    def plan_bounds(self, space: SpaceTimes, settings: list[Setting], par: ParallelismConfig) -> list[SettingBound]:
        return [plan_bound(space.model_graphs(s.microbatch, s.tensor), space.acc, par, s) for s in settings]

    def start(self, state: WorkerState) -> None:
        _WORKER.update(state=state, cache=ScheduleCache(state.schedule_dir))
        if self.workers > 1:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("fork"),
                                            initializer=_exit_with_parent, initargs=(os.getpid(),))

    def evaluate(self, slices: list[list[int]], incumbent: float) -> list[list[PairResult]]:
        if self.pool is None:
            return [_evaluate_forked(s, incumbent) for s in slices]
        return list(self.pool.map(_evaluate_forked, slices, [incumbent] * len(slices)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
        _WORKER.clear()  # the job's arrays: a sweep running its jobs in one process must not keep two jobs' alive


# Read by Ray when it is imported (docs/scale_out.md): "0" makes a Ray started here take 127.0.0.1 as its node
# address, so that every server it starts listens on loopback only (Ray's default binds all interfaces); no
# usage statistics are sent anywhere.
RAY_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
RAY_QUIET_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
TOKEN_ENV = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")  # where Ray 2.60 looks before ~/.ray/auth_token


def prepare_ray_env(local: bool) -> None:
    """Set Ray's environment before its first import (an explicit setting of the user's wins). A Ray started
    here also gets token authentication with a fresh token of its own, so nothing is read from or written
    to ~/.ray."""
    for k, v in (RAY_QUIET_ENV | (RAY_LOOPBACK_ENV if local else {})).items():
        os.environ.setdefault(k, v)
    if local and os.environ.setdefault("RAY_AUTH_MODE", "token") == "token" and not any(
            k in os.environ for k in TOKEN_ENV):
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)


def make_executor(search: SearchConfig, acc: Accelerators) -> Executor:
    """The executor `search.executor` names (Ray is imported only for `ray`)."""
    if search.executor == "ray":
        prepare_ray_env(local=search.ray_address is None)
        from phaze.search.ray_executor import RayExecutor

        return RayExecutor(search, acc)
    return LocalExecutor(search.workers)
