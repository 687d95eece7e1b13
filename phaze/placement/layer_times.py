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
from phaze.cost import price_ops
from phaze.cost.energy import PARTS, op_energy
from phaze.cost.price import price_detail
from phaze.hardware import Accelerators
from phaze.model import LAYER_KINDS, LayerGraph, ModelGraphs, kind_recompute
from phaze.schedule import (
    MODE_INTRA,
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

    energy: dict[str, NDArray[np.float64]] = field(default_factory=dict)  # part -> (C,) J per device, greedy modes
    energy_lb_j: NDArray[np.float64] | None = None  # (C,) each op in its cheaper mode: a bound for any schedule

    @classmethod
    def of(cls, graph: LayerGraph, acc: Accelerators) -> PassTimes:
        priced = price_detail(graph.ops, acc)
        space = schedule_space(build_problem(graph, priced.single_s, priced.intra_s, acc.n_tc, acc.n_vc))
        energy = op_energy(graph.ops, acc, priced)
        intra = space.greedy.modes == MODE_INTRA
        parts = {part: np.where(intra, energy.intra[part], energy.single[part]).sum(axis=1) for part in PARTS}
        lb = np.minimum(energy.total(intra=False), energy.total(intra=True)).sum(axis=1)
        return cls(space, space.greedy_ns.copy(), space.closed.copy(), graph=graph, acc=acc, energy=parts,
                   energy_lb_j=lb)

    @property
    def energy_j(self) -> NDArray[np.float64]:
        """(C,) joules per device of one pass under the greedy schedule's modes."""
        return sum(self.energy[p] for p in PARTS)  # type: ignore[return-value]

    def schedule_energy(self, c: int, sched: Schedule) -> dict[str, float]:
        """Candidate c's energy by part under `sched`'s modes (a refined schedule may choose others)."""
        assert self.graph is not None and self.acc is not None
        e = op_energy(self.graph.ops, self.acc.take(np.array([c])))
        intra = np.asarray(sched.modes) == MODE_INTRA
        return {part: float(np.where(intra, e.intra[part][0], e.single[part][0]).sum()) for part in PARTS}

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
    selective_energy: dict[str, NDArray[np.float64]] = field(default_factory=dict)  # part -> (C,) J, intra mode

    def energy_parts(self, recompute: str) -> dict[str, NDArray[np.float64]]:
        """(C,) joules per device by part of one micro-batch's fwd + bwd (+ what recompute re-runs), greedy modes."""
        extra = kind_recompute(self.kind, recompute)
        out = {}
        for part in PARTS:
            sel = self.selective_energy.get(part, np.zeros_like(self.fwd.energy[part]))
            out[part] = self.fwd.energy[part] + self.bwd.energy[part] + recompute_extra_s(extra, self.fwd.energy[part],
                                                                                          sel)
        return out

    def energy_lb_j(self, recompute: str) -> NDArray[np.float64]:
        """(C,) a lower bound on the joules per device of one micro-batch, for any schedule (ops in their cheaper
        mode; the selective extra runs whole-chip)."""
        assert self.fwd.energy_lb_j is not None and self.bwd.energy_lb_j is not None
        sel = sum(self.selective_energy.values()) if self.selective_energy else np.zeros_like(self.fwd.energy_lb_j)
        return self.fwd.energy_lb_j + self.bwd.energy_lb_j + recompute_extra_s(
            kind_recompute(self.kind, recompute), self.fwd.energy_lb_j, sel)

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
        selective_energy = ({part: e.sum(axis=1) for part, e in op_energy(selective_ops, acc).intra.items()}
                            if selective_ops else {})
        out[kind] = LayerTimes(kind, PassTimes.of(layer.fwd, acc), PassTimes.of(layer.bwd, acc), selective_s,
                               selective_energy)
    return out


def refine(times: dict[str, LayerTimes], candidates: Sequence[int], cfg: SolverConfig,
           cache: ScheduleCache | None = None) -> None:
    """Run the configured solver on the listed candidates for every layer pass (no-op for `greedy`)."""
    if cfg.name == "greedy":
        return
    for lt in times.values():
        lt.fwd.refine(candidates, cfg, cache)
        lt.bwd.refine(candidates, cfg, cache)
