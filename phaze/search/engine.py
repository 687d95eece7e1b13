"""The co-search: every candidate x every setting, exhaustively, with exact pruning (DESIGN §8).

1. Stage A (space_times): price and schedule every layer pass on all candidates (greedy + bound).
2. Plan: an optimistic TPB per (candidate, setting) pair from the bounds (bounds.py); pairs in
   descending optimistic throughput (ties: area ascending, index ascending), cut into chunks.
3. Chunks in order. The incumbent (best achieved throughput) is updated only between chunks, so
   nothing depends on worker timing. A pair whose optimistic throughput is strictly below the incumbent
   is pruned; otherwise the placement DP runs on greedy loads (achievable) and, unless greedy is proven
   optimal, on bound loads (optimistic, exact placement); if that can still beat the incumbent, the
   solver refines the candidate's schedules and the DP runs once more.
Pairs carry their global chunk number, so a shard (a subset of candidates) prunes only what the whole
job would prune, and merging shards replays the single job exactly (merge.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phaze.config.parallelism import ParallelismConfig
from phaze.config.solver import SolverConfig
from phaze.placement.chain_builder import build_chain
from phaze.placement.evaluate import best_for_schedule, placement_spec
from phaze.placement.result import Placement
from phaze.placement.settings import Setting
from phaze.schedule import ScheduleCache
from phaze.search.bounds import optimistic_tpb, setting_bound
from phaze.search.space_times import SpaceTimes

PRUNED, PRUNED_DP, OPTIMAL, FEASIBLE, INFEASIBLE = "pruned", "pruned_dp", "optimal", "feasible", "infeasible"


@dataclass(frozen=True)
class Plan:
    """Every (candidate, setting) pair with a finite optimistic bound, in evaluation order."""

    settings: list[Setting]
    candidate: NDArray[np.int64]
    setting: NDArray[np.int64]
    optimistic: NDArray[np.float64]  # samples/s upper bound
    chunk: NDArray[np.int64]
    infeasible_settings: dict[int, str]

    def chunks(self) -> Iterator[tuple[int, NDArray[np.int64]]]:
        """(chunk number, pair positions) in order."""
        if self.chunk.size == 0:
            return
        bounds = np.flatnonzero(np.diff(self.chunk)) + 1
        for part in np.split(np.arange(self.chunk.size), bounds):
            yield int(self.chunk[part[0]]), part


def make_plan(space: SpaceTimes, settings: list[Setting], par: ParallelismConfig, chunk_size: int,
              area: NDArray[np.float64]) -> Plan:
    cand, sett, opt, infeasible = [], [], [], {}
    for i, s in enumerate(settings):
        space.ensure(s.microbatch, s.tensor)
        graphs = space.graphs[(s.microbatch, s.tensor)]
        template = build_chain(graphs, dict.fromkeys(("embed", "block", "head"), 0.0), s.recompute,
                               space.acc.row(0))
        spec = placement_spec(par, space.acc, s)
        bound = setting_bound(template, spec, par.schedule, par.chunks)
        if not bound.feasible:
            infeasible[i] = bound.reason
            continue
        total, largest = space.chain_sums(s)
        thr = spec.global_batch / optimistic_tpb(bound, total, largest)
        ok = np.flatnonzero(np.isfinite(thr) & (thr > 0))
        cand.append(ok)
        sett.append(np.full(ok.size, i))
        opt.append(thr[ok])
    c = np.concatenate(cand) if cand else np.zeros(0, np.int64)
    s_idx = np.concatenate(sett) if sett else np.zeros(0, np.int64)
    o = np.concatenate(opt) if opt else np.zeros(0)
    area_key = np.nan_to_num(area[c], nan=np.inf) if c.size else np.zeros(0)
    order = np.lexsort((s_idx, c, area_key, -o)) if c.size else np.zeros(0, np.int64)
    chunk = np.arange(order.size) // chunk_size
    return Plan(settings, c[order], s_idx[order], o[order], chunk, infeasible)


@dataclass
class PairResult:
    """Raw measurements of one (candidate, setting) pair, and what `decide` made of them.

    Raw: optimistic (bound-based samples/s), greedy (DP on greedy loads; None = not computed, 0 = no
    placement fits), closed (greedy schedules proven optimal), upper (DP on bound loads), refined (DP on
    solver loads). Decided: status, achieved (a real placement's samples/s), gap, placement.
    """

    candidate: int
    setting: int
    optimistic: float
    greedy: float | None = None
    greedy_placement: dict[str, Any] | None = None
    closed: bool = False
    upper: float | None = None
    refined: float | None = None
    refined_placement: dict[str, Any] | None = None
    refined_optimal: bool = False
    refined_gap: float = 0.0
    status: str = PRUNED
    achieved: float = 0.0
    gap: float = 0.0
    placement: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def decide(r: PairResult, incumbent: float, solver_name: str) -> str | None:
    """Set status/achieved/gap/placement from the raw fields for this incumbent; returns the name of
    the raw field still missing (the engine computes it and asks again), or None when decided."""
    r.achieved, r.gap, r.placement = 0.0, 0.0, None
    if r.optimistic < incumbent:
        r.status = PRUNED
        return None
    if r.greedy is None:
        return "greedy"
    if r.greedy_placement is None:
        r.status = INFEASIBLE
        return None
    r.achieved, r.placement = r.greedy, r.greedy_placement
    if r.closed:
        r.status = OPTIMAL
        return None
    if r.upper is None:
        return "upper"
    if r.upper < incumbent or solver_name == "greedy":
        r.status = PRUNED_DP if r.upper < incumbent else FEASIBLE
        r.gap = 1.0 - r.greedy / r.upper if r.upper > 0 else 0.0
        return None
    if r.refined is None:
        return "refined"
    if r.refined_placement is not None and r.refined > r.greedy:
        r.achieved, r.placement = r.refined, r.refined_placement
    r.status, r.gap = (OPTIMAL, 0.0) if r.refined_optimal else (FEASIBLE, r.refined_gap)
    return None


def _dp(space: SpaceTimes, s: Setting, loads: dict[str, float], par: ParallelismConfig) -> Placement | None:
    graphs = space.graphs[(s.microbatch, s.tensor)]
    chain = build_chain(graphs, loads, s.recompute, space.acc.row(0))
    result = best_for_schedule(chain, placement_spec(par, space.acc, s), par)
    return result if isinstance(result, Placement) else None


def _placement(p: Placement | None, s: Setting) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"data": p.data, "pipeline": p.pipeline, "tensor": p.tensor, "microbatch": s.microbatch,
            "recompute": s.recompute, "stages": list(p.stage_layers), "chunks": p.chunks, "iteration_s": p.iteration_s,
            "memory_per_device_bytes": p.memory_per_device_bytes, "devices_used": p.devices_used}


def evaluate_pair(space: SpaceTimes, plan: Plan, pos: int, incumbent: float, par: ParallelismConfig,
                  solver: SolverConfig, cache: ScheduleCache | None) -> PairResult:
    """Compute exactly the raw fields `decide` needs for this incumbent, cheapest first."""
    c, i = int(plan.candidate[pos]), int(plan.setting[pos])
    s = plan.settings[i]
    r = PairResult(c, i, float(plan.optimistic[pos]))
    while (missing := decide(r, incumbent, solver.name)) is not None:
        if missing == "greedy":
            p = _dp(space, s, {k: float(v[c]) for k, v in space.kind_loads(s, optimistic=False).items()}, par)
            r.greedy, r.greedy_placement = (p.throughput_samples_s if p else 0.0), _placement(p, s)
            r.closed = space.closed(s.microbatch, s.tensor, c)
        elif missing == "upper":
            p = _dp(space, s, {k: float(v[c]) for k, v in space.kind_loads(s, optimistic=True).items()}, par)
            r.upper = p.throughput_samples_s if p else 0.0
        else:
            loads, r.refined_optimal, r.refined_gap = space.refined_loads(s, c, solver, cache)
            p = _dp(space, s, loads, par)
            r.refined, r.refined_placement = (p.throughput_samples_s if p else 0.0), _placement(p, s)
    return r


def incumbent_of(results: list[PairResult]) -> float:
    return max((r.achieved for r in results), default=0.0)


ChunkRunner = Callable[[NDArray[np.int64], float], list[PairResult]]


def run_chunks(plan: Plan, member: NDArray[np.bool_], run_chunk: ChunkRunner,
               done: dict[int, list[PairResult]], on_chunk: Callable[[int, list[PairResult], float], None]
               ) -> dict[int, list[PairResult]]:
    """Evaluate every chunk not in `done` (restored from the cache), incumbent updated between chunks."""
    incumbent = 0.0
    for k, positions in plan.chunks():
        mine = positions[member[plan.candidate[positions]]]
        if k not in done:
            done[k] = run_chunk(mine, incumbent) if mine.size else []
            on_chunk(k, done[k], incumbent)
        incumbent = max(incumbent, incumbent_of(done[k]))
    return done
