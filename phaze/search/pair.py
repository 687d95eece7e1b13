"""One (candidate, setting) pair: its raw measurements, the status they imply, and computing them.

`decide` turns a pair's raw fields and an incumbent into a status (pruned, optimal, ...) and names the
field it still lacks; `evaluate_pair` computes exactly those fields, cheapest first (greedy DP, bound DP,
solver refinement). Separate from the plan (plan.py) and the chunk loop (engine.py) because this is what
a worker runs per pair, and because merging shards replays the same `decide` (merge.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phaze.config.parallelism import ParallelismConfig
from phaze.config.solver import SolverConfig
from phaze.cost.energy import static_power_w
from phaze.placement.chain_builder import build_chain
from phaze.placement.evaluate import best_for_schedule, placement_spec
from phaze.placement.result import Placement
from phaze.placement.settings import Setting
from phaze.schedule import ScheduleCache
from phaze.search.objective import Objective, PlacementEnergy, chain_params, placement_energy
from phaze.search.plan import Plan
from phaze.search.space_times import SpaceTimes

PRUNED, PRUNED_DP, OPTIMAL, FEASIBLE, INFEASIBLE = "pruned", "pruned_dp", "optimal", "feasible", "infeasible"



@dataclass
class PairResult:
    """Raw measurements of one (candidate, setting) pair, and what `decide` made of them.

    Raw: optimistic (an upper bound on the pair's score, `search.objective`), greedy (DP on greedy loads:
    samples/s; None = not computed, 0 = no placement fits), closed (greedy schedules proven optimal), upper
    (DP on bound loads), refined (DP on solver loads), each with its score (`*_score`: the objective of that
    placement, or for `upper` a bound on it) and, for placed ones, the placement's energy. Decided: status,
    achieved (the chosen placement's samples/s), score (its objective), gap, placement (energy included).
    With `search.objective=throughput` every score is the throughput itself.
    """

    candidate: int
    setting: int
    optimistic: float
    greedy: float | None = None
    greedy_placement: dict[str, Any] | None = None
    greedy_score: float = 0.0
    closed: bool = False
    upper: float | None = None
    upper_score: float = 0.0
    refined: float | None = None
    refined_placement: dict[str, Any] | None = None
    refined_score: float = 0.0
    refined_optimal: bool = False
    refined_gap: float = 0.0
    status: str = PRUNED
    achieved: float = 0.0
    score: float = 0.0
    gap: float = 0.0
    placement: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def decide(r: PairResult, incumbent: float, solver_name: str) -> str | None:
    """Set status/achieved/score/gap/placement from the raw fields for this incumbent (a score); returns the
    name of the raw field still missing (the engine computes it and asks again), or None when decided."""
    r.achieved, r.score, r.gap, r.placement = 0.0, 0.0, 0.0, None
    if r.optimistic < incumbent:
        r.status = PRUNED
        return None
    if r.greedy is None:
        return "greedy"
    if r.greedy_placement is None:
        r.status = INFEASIBLE
        return None
    r.achieved, r.score, r.placement = r.greedy, r.greedy_score, r.greedy_placement
    if r.closed:
        r.status = OPTIMAL
        return None
    if r.upper is None:
        return "upper"
    if r.upper_score < incumbent or solver_name == "greedy":
        r.status = PRUNED_DP if r.upper_score < incumbent else FEASIBLE
        r.gap = 1.0 - r.greedy_score / r.upper_score if r.upper_score > 0 else 0.0
        return None
    if r.refined is None:
        return "refined"
    if r.refined_placement is not None and r.refined_score > r.greedy_score:
        r.achieved, r.score, r.placement = r.refined, r.refined_score, r.refined_placement
    r.status, r.gap = (OPTIMAL, 0.0) if r.refined_optimal else (FEASIBLE, r.refined_gap)
    return None


def _dp(space: SpaceTimes, s: Setting, loads: dict[str, float], par: ParallelismConfig) -> Placement | None:
    graphs = space.graphs[(s.microbatch, s.tensor)]
    chain = build_chain(graphs, loads, s.recompute, space.acc.row(0))
    result = best_for_schedule(chain, placement_spec(par, space.acc, s), par)
    return result if isinstance(result, Placement) else None


def _energy(space: SpaceTimes, s: Setting, c: int, p: Placement, par: ParallelismConfig,
            per_microbatch: dict[str, float]) -> PlacementEnergy:
    b, t = s.microbatch, s.tensor
    return placement_energy(per_microbatch, placement_spec(par, space.acc, s),
                            static_w=float(static_power_w(space.acc)[c]),
                            peak_dyn_w=float(space.peak_dynamic_w(b, t)[c]), params=chain_params(space, s),
                            data=p.data, stages=p.pipeline, devices=p.devices_used, iteration_s=p.iteration_s,
                            seq_len=space.model.seq_len, node_nm=space.acc.tech_node_nm)


def _placement(p: Placement | None, s: Setting, energy: PlacementEnergy | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"data": p.data, "pipeline": p.pipeline, "tensor": p.tensor, "microbatch": s.microbatch,
            "recompute": s.recompute, "stages": list(p.stage_layers), "chunks": p.chunks, "iteration_s": p.iteration_s,
            "memory_per_device_bytes": p.memory_per_device_bytes, "devices_used": p.devices_used,
            **(energy.as_dict() if energy is not None else {})}


def evaluate_pair(space: SpaceTimes, plan: Plan, pos: int, incumbent: float, par: ParallelismConfig,
                  solver: SolverConfig, cache: ScheduleCache | None, objective: Objective) -> PairResult:
    """Compute exactly the raw fields `decide` needs for this incumbent, cheapest first."""
    c, i = int(plan.candidate[pos]), int(plan.setting[pos])
    s = plan.settings[i]
    r = PairResult(c, i, float(plan.optimistic[pos]))
    while (missing := decide(r, incumbent, solver.name)) is not None:
        if missing == "greedy":
            p = _dp(space, s, {k: float(v[c]) for k, v in space.kind_loads(s, optimistic=False).items()}, par)
            e = None if p is None else _energy(space, s, c, p, par,
                                               {k: float(v[c]) for k, v in space.chain_energy(s).items()})
            r.greedy, r.greedy_placement = (p.throughput_samples_s if p else 0.0), _placement(p, s, e)
            r.greedy_score = objective.score(c, r.greedy, e)
            r.closed = space.closed(s.microbatch, s.tensor, c)
        elif missing == "upper":
            p = _dp(space, s, {k: float(v[c]) for k, v in space.kind_loads(s, optimistic=True).items()}, par)
            r.upper = p.throughput_samples_s if p else 0.0
            r.upper_score = objective.upper(c, s, placement_spec(par, space.acc, s), r.upper, r.optimistic)
        else:
            loads, r.refined_optimal, r.refined_gap, schedules = space.refined_loads(s, c, solver, cache)
            p = _dp(space, s, loads, par)
            e = None if p is None else _energy(space, s, c, p, par, space.schedule_energy(s, c, schedules))
            r.refined, r.refined_placement = (p.throughput_samples_s if p else 0.0), _placement(p, s, e)
            r.refined_score = objective.score(c, r.refined, e)
    return r
