"""Per-layer-kind forward/backward times on an array of accelerators (DESIGN §6–7).

Each layer kind's fused forward and backward graph is priced on every candidate (phaze.cost) and
scheduled (phaze.schedule): the vectorised greedy schedule and lower bound for all candidates at once,
then, where the solver config asks for it, CP-SAT on the candidates whose greedy schedule is not proven
optimal. The recompute extra of `selective` (Korthikanti et al. 2023 §5: re-running the attention core — QKᵀ,
softmax, softmax dropout and attention over V) is the sum of those kernels' all-cores durations
(`LayerKind.selective_ops`): they run back to back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phaze.config.solver import SolverConfig
from phaze.cost import price_graph, price_ops
from phaze.hardware import Accelerators
from phaze.model import LAYER_KINDS, LayerGraph, ModelGraphs, kind_recompute
from phaze.schedule import (
    NS_PER_S,
    Schedule,
    ScheduleCache,
    SpaceSchedule,
    build_problem,
    schedule_space,
    solve_candidate,
)


@dataclass
class PassTimes:
    """One layer pass on C candidates: greedy makespan, lower bound and the refined (solver) makespan."""

    space: SpaceSchedule
    refined_ns: NDArray[np.int64]  # the solver's makespan where refined, else the greedy one
    optimal: NDArray[np.bool_]  # proven optimal (greedy met a bound, or CP-SAT proved it)
    schedules: dict[int, Schedule] = field(default_factory=dict)  # the solver's schedule where refined
    graph: LayerGraph | None = None  # what was priced, on `acc`: kept to explain a schedule (time_split)
    acc: Accelerators | None = None

    def schedule(self, c: int) -> Schedule:
        """Candidate c's schedule behind `seconds`: the solver's where refined, else the greedy one."""
        return self.schedules.get(c) or self.space.greedy_schedule(c)

    @classmethod
    def of(cls, graph: LayerGraph, acc: Accelerators) -> PassTimes:
        single, intra = price_graph(graph, acc)
        space = schedule_space(build_problem(graph, single, intra, acc.n_tc, acc.n_vc))
        return cls(space, space.greedy_ns.copy(), space.closed.copy(), graph=graph, acc=acc)

    @property
    def bound_s(self) -> NDArray[np.float64]:
        return self.space.bound_ns / NS_PER_S

    @property
    def seconds(self) -> NDArray[np.float64]:
        return self.refined_ns / NS_PER_S

    def refine(self, candidates: Sequence[int], cfg: SolverConfig, cache: ScheduleCache | None = None) -> None:
        """Solve the listed candidates with `cfg` (`solve_candidate`: phase bound, then CP-SAT)."""
        for c in candidates:
            sched = solve_candidate(self.space, int(c), cfg, cache)
            if sched.makespan_ns is not None:
                self.refined_ns[c] = sched.makespan_ns
                self.optimal[c] = sched.status == "optimal"
                self.schedules[int(c)] = sched


def recompute_extra_s(recompute: str, fwd_s: Any, selective_s: Any) -> Any:
    """What recomputation adds to one micro-batch's fwd + bwd: nothing, the attention core, or a second
    forward (Korthikanti et al. 2023); works on scalars and per-candidate arrays alike."""
    return {"none": 0.0, "selective": selective_s, "full": fwd_s}[recompute]


@dataclass
class LayerTimes:
    """Forward and backward times of one layer kind, plus its selective-recompute extra."""

    kind: str
    fwd: PassTimes
    bwd: PassTimes
    selective_s: NDArray[np.float64]

    def load_s(self, recompute: str, optimistic: bool = False) -> NDArray[np.float64]:
        """fwd + bwd (+ a second forward for `full`, + the attention core for `selective`, blocks only) per
        micro-batch."""
        fwd = self.fwd.bound_s if optimistic else self.fwd.seconds
        bwd = self.bwd.bound_s if optimistic else self.bwd.seconds
        return fwd + bwd + recompute_extra_s(kind_recompute(self.kind, recompute), fwd, self.selective_s)


def layer_times(graphs: ModelGraphs, acc: Accelerators) -> dict[str, LayerTimes]:
    """Greedy + bound schedules of every layer kind's passes on every candidate of `acc`."""
    out = {}
    for kind in LAYER_KINDS:
        layer = graphs.layers[kind]
        selective_ops = layer.selective_ops
        selective_s = price_ops(selective_ops, acc)[1].sum(axis=1) if selective_ops else np.zeros(len(acc))
        out[kind] = LayerTimes(kind, PassTimes.of(layer.fwd, acc), PassTimes.of(layer.bwd, acc), selective_s)
    return out


def refine(times: dict[str, LayerTimes], candidates: Sequence[int], cfg: SolverConfig,
           cache: ScheduleCache | None = None) -> None:
    """Run the configured solver on the listed candidates for every layer pass (no-op for `greedy`)."""
    if cfg.name == "greedy":
        return
    for lt in times.values():
        lt.fwd.refine(candidates, cfg, cache)
        lt.bwd.refine(candidates, cfg, cache)
