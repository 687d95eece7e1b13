"""`search.executor=ray`: one search's Stage A and chunks on a Ray cluster (docs/scale_out.md).

One worker actor per cluster CPU, spread over the nodes, each importing phaze once. Stage A is cut into one
candidate range per worker (split.py) for every (micro-batch, width), and the driver concatenates the ranges
into the arrays of the whole space, bit for bit those of a local run. The plan's per-setting memory tables
(plan.plan_bound, pure functions of the setting) are spread over the workers one setting each. The chunks'
open pairs then go to the same workers, each holding the job's state (put in the object store once); the
driver keeps the plan, the incumbent and the order of results, so result.json is byte-identical to
`search.executor=local`.

`search.ray_address` null starts a Ray on this machine with `search.workers` CPUs, listening on 127.0.0.1
only (executor.prepare_ray_env, set before Ray is imported), and stops it at the end; an address connects
to a running cluster (whose nodes need this phaze installed) and leaves it running. A process that
initialised Ray itself (a script calling run_search) keeps its Ray. Under a parallel Hydra launcher
tasks/search.py refuses executor=ray: the workers would wait for CPUs that the sweep's jobs hold.
"""

from __future__ import annotations

import logging
import sys

import ray

from phaze.config.errors import ConfigError
from phaze.config.parallelism import ParallelismConfig
from phaze.config.search import SearchConfig
from phaze.hardware import Accelerators
from phaze.model import ModelGraphs
from phaze.placement.layer_times import LayerTimes
from phaze.placement.settings import Setting
from phaze.schedule import ScheduleCache
from phaze.search.bounds import SettingBound
from phaze.search.executor import Key, WorkerState
from phaze.search.pair import PairResult
from phaze.search.plan import plan_bound
from phaze.search.space_times import SpaceTimes
from phaze.search.split import candidate_ranges, concat_parts, range_times

LOOPBACK = "127.0.0.1"


@ray.remote(num_cpus=1)
class _Worker:
    """One worker process for the whole job: Stage A ranges, then pairs against the job's state."""

    def __init__(self, acc: Accelerators) -> None:
        self.acc = acc
        self.state: WorkerState | None = None
        self.cache = ScheduleCache(None)

    def ready(self) -> bool:
        return True

    def range_times(self, graphs: ModelGraphs, lo: int, hi: int) -> dict[str, LayerTimes]:
        return range_times(graphs, self.acc, lo, hi)

    def plan_bound(self, graphs: ModelGraphs, par: ParallelismConfig, s: Setting) -> SettingBound:
        return plan_bound(graphs, self.acc, par, s)

    def load(self, state: WorkerState) -> None:
        self.state = state
        self.cache = ScheduleCache(state.schedule_dir)

    def evaluate(self, positions: list[int], incumbent: float) -> list[PairResult]:
        assert self.state is not None, "load() comes before evaluate()"
        return self.state.evaluate(positions, incumbent, self.cache)


def _connect(search: SearchConfig) -> bool:
    """Join or start Ray; True when this job started it (and so stops it)."""
    if ray.is_initialized():
        return False
    if search.ray_address is None:
        ray.init(address="local", num_cpus=search.workers, include_dashboard=False, logging_level=logging.WARNING)
        node_ip = ray.util.get_node_ip_address()
        if node_ip != LOOPBACK:  # Ray was imported before phaze could set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
            print(f"phaze: the local Ray took node address {node_ip}, not {LOOPBACK}: its servers listen on every "
                  "interface (set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before Ray is imported)", file=sys.stderr)
        return True
    try:
        ray.init(address=search.ray_address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ConfigError("search.ray_address", search.ray_address,
                          f"a running Ray cluster this machine can join ({type(exc).__name__}: {first})") from None
    return False


class RayExecutor:
    """One actor per cluster CPU, spread over the nodes: Stage A by candidate range, then the open pairs."""

    def __init__(self, search: SearchConfig, acc: Accelerators) -> None:
        self.started = _connect(search)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        acc_ref = ray.put(acc)
        self.actors = [_Worker.options(scheduling_strategy="SPREAD").remote(acc_ref)  # type: ignore[attr-defined]
                       for _ in range(self.workers)]

    def stage_a(self, space: SpaceTimes, keys: list[Key]) -> None:
        ranges = candidate_ranges(len(space.acc), self.workers)
        todo = [k for k in dict.fromkeys(keys) if k not in space.times]
        if len(ranges) == 1:
            for b, t in todo:
                space.ensure(b, t)
            return
        sizes = [hi - lo for lo, hi in ranges]
        parts = {}
        for b, t in todo:  # every range of every key submitted before the first result is awaited
            graphs = ray.put(space.model_graphs(b, t))
            calls = zip(self.actors, ranges, strict=False)  # ranges <= workers
            parts[(b, t)] = [a.range_times.remote(graphs, lo, hi) for a, (lo, hi) in calls]
        for key, refs in parts.items():
            space.times[key] = concat_parts(ray.get(refs), sizes)  # new arrays: the object store's are released

    def plan_bounds(self, space: SpaceTimes, settings: list[Setting], par: ParallelismConfig) -> list[SettingBound]:
        graphs = {k: ray.put(space.model_graphs(*k)) for k in dict.fromkeys((s.microbatch, s.tensor) for s in settings)}
        par_ref = ray.put(par)
        refs = [self.actors[i % self.workers].plan_bound.remote(graphs[(s.microbatch, s.tensor)], par_ref, s)
                for i, s in enumerate(settings)]
        return ray.get(refs)

    def start(self, state: WorkerState) -> None:
        ref = ray.put(state)
        ray.get([a.load.remote(ref) for a in self.actors])

    def evaluate(self, slices: list[list[int]], incumbent: float) -> list[list[PairResult]]:
        return ray.get([a.evaluate.remote(s, incumbent) for a, s in zip(self.actors, slices, strict=True)])

    def close(self) -> None:
        for a in self.actors:
            ray.kill(a)
        self.actors = []
        if self.started:
            ray.shutdown()
            self.started = False
