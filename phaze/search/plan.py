"""The search plan: every (candidate, setting) pair with a finite optimistic bound, in evaluation order.

Step 2 of the co-search (engine.py): an optimistic TPB per pair from the bounds (bounds.py), pairs in
descending optimistic throughput, cut into chunks. Separate from evaluating a pair (pair.py) and from the
chunk loop (engine.py) because it is built once per job, before any placement DP, over all candidates:
a shard keeps the whole job's chunk numbers, which is what makes merging shards exact (merge.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from phaze.config.parallelism import ParallelismConfig
from phaze.cost.energy import static_power_w
from phaze.hardware import Accelerators
from phaze.model import ModelGraphs
from phaze.placement.chain_builder import build_chain
from phaze.placement.evaluate import placement_spec
from phaze.placement.settings import Setting
from phaze.search.bounds import SettingBound, optimistic_tpb, setting_bound
from phaze.search.objective import Objective
from phaze.search.space_times import SpaceTimes


@dataclass(frozen=True)
class Plan:
    """Every (candidate, setting) pair with a finite optimistic bound within the power budget, in evaluation
    order; `optimistic` is an upper bound on the pair's score under `search.objective` (objective.py)."""

    settings: list[Setting]
    candidate: NDArray[np.int64]
    setting: NDArray[np.int64]
    optimistic: NDArray[np.float64]  # score upper bound (samples/s for objective=throughput)
    chunk: NDArray[np.int64]
    infeasible_settings: dict[int, str]
    over_power: NDArray[np.bool_] | None = None  # (C,) a memory-feasible pair was left out by hw.space.max_power_w

    def chunks(self) -> Iterator[tuple[int, NDArray[np.int64]]]:
        """(chunk number, pair positions) in order."""
        if self.chunk.size == 0:
            return
        bounds = np.flatnonzero(np.diff(self.chunk)) + 1
        for part in np.split(np.arange(self.chunk.size), bounds):
            yield int(self.chunk[part[0]]), part


def plan_bound(graphs: ModelGraphs, acc: Accelerators, par: ParallelismConfig, s: Setting) -> SettingBound:
    """The candidate-independent part of a setting's optimistic TPB (memory feasibility over S and d): the
    costly part of the plan, one setting at a time, so an executor can spread the settings over workers."""
    template = build_chain(graphs, dict.fromkeys(("embed", "block", "head"), 0.0), s.recompute, acc.row(0))
    return setting_bound(template, placement_spec(par, acc, s), par.schedule, par.chunks)


def peak_power_w(space: SpaceTimes, s: Setting) -> NDArray[np.float64]:
    """(C,) a design's peak power per chip in setting s: its busiest layer pass's dynamic power + static."""
    return space.peak_dynamic_w(s.microbatch, s.tensor) + static_power_w(space.acc)


def make_plan(space: SpaceTimes, settings: list[Setting], par: ParallelismConfig, chunk_size: int,
              area: NDArray[np.float64], bounds: list[SettingBound] | None = None,
              objective: Objective | None = None, max_power_w: float | None = None) -> Plan:
    """The plan; `bounds` are the settings' `plan_bound`s when an executor computed them already. Pairs whose
    peak power exceeds `max_power_w` are left out (the design is `over_power` in that setting)."""
    objective = objective if objective is not None else Objective("throughput", space)
    cand, sett, opt, infeasible = [], [], [], {}
    over = np.zeros(len(space.acc), dtype=bool)
    for i, s in enumerate(settings):
        space.ensure(s.microbatch, s.tensor)
        spec = placement_spec(par, space.acc, s)
        bound = bounds[i] if bounds is not None else plan_bound(space.model_graphs(s.microbatch, s.tensor),
                                                                space.acc, par, s)
        if not bound.feasible:
            infeasible[i] = bound.reason
            continue
        total, largest = space.chain_sums(s)
        thr = spec.global_batch / optimistic_tpb(bound, total, largest)
        fits = np.isfinite(thr) & (thr > 0)
        if max_power_w is not None:
            hot = fits & ~(peak_power_w(space, s) <= max_power_w)
            over |= hot
            fits &= ~hot
        ok = np.flatnonzero(fits)
        cand.append(ok)
        sett.append(np.full(ok.size, i))
        opt.append(objective.optimistic(s, spec, thr)[ok])
    c = np.concatenate(cand) if cand else np.zeros(0, np.int64)
    s_idx = np.concatenate(sett) if sett else np.zeros(0, np.int64)
    o = np.concatenate(opt) if opt else np.zeros(0)
    area_key = np.nan_to_num(area[c], nan=np.inf) if c.size else np.zeros(0)
    order = np.lexsort((s_idx, c, area_key, -o)) if c.size else np.zeros(0, np.int64)
    chunk = np.arange(order.size) // chunk_size
    return Plan(settings, c[order], s_idx[order], o[order], chunk, infeasible, over)
