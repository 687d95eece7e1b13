"""Stage A of the search: every layer pass of every (micro-batch, width) on every candidate (DESIGN §8).

Pricing, vectorised greedy schedules and lower bounds for the whole space; per candidate, the chain
loads of a setting from the greedy makespans (achievable), the lower bounds (optimistic) or the solver's
refinement. Shared by the engine, the baselines and Spotlight's objective.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phaze.config.model import ModelConfig
from phaze.config.solver import SolverConfig
from phaze.cost.energy import PARTS
from phaze.hardware import Accelerators
from phaze.model import LAYER_KINDS, ModelGraphs, build_model, kind_recompute
from phaze.placement.energy import layer_energy
from phaze.placement.layer_times import LayerTimes, layer_times, recompute_extra_s
from phaze.placement.settings import Setting
from phaze.schedule import NS_PER_S, Schedule, ScheduleCache, solve_candidate


@dataclass
class SpaceTimes:
    """Layer graphs and their pass times on all candidates, per (micro-batch, tensor width)."""

    model: ModelConfig
    acc: Accelerators
    sequence_parallel: bool
    kernels: str
    graphs: dict[tuple[int, int], ModelGraphs] = field(default_factory=dict)
    times: dict[tuple[int, int], dict[str, LayerTimes]] = field(default_factory=dict)
    # (C,) energy arrays derived from `times`, per setting or (b, t): computed once, read per pair
    derived: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    def model_graphs(self, b: int, t: int) -> ModelGraphs:
        """The layer graphs of micro-batch b at width t (built once)."""
        if (b, t) not in self.graphs:
            self.graphs[(b, t)] = build_model(self.model, b, t, self.sequence_parallel, kernels=self.kernels)
        return self.graphs[(b, t)]

    def ensure(self, b: int, t: int) -> None:
        if (b, t) not in self.times:
            self.times[(b, t)] = layer_times(self.model_graphs(b, t), self.acc)

    def kind_loads(self, s: Setting, optimistic: bool) -> dict[str, NDArray[np.float64]]:
        """(C,) per layer kind: greedy (achievable) or lower-bound load of one micro-batch."""
        self.ensure(s.microbatch, s.tensor)
        return {k: lt.load_s(s.recompute, optimistic=optimistic)
                for k, lt in self.times[(s.microbatch, s.tensor)].items()}

    def chain_sums(self, s: Setting) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(Σℓ, max ℓ) over the chain [embed, L blocks, head] with lower-bound loads, per candidate."""
        loads = self.kind_loads(s, optimistic=True)
        total = loads["embed"] + self.model.layers * loads["block"] + loads["head"]
        return total, np.maximum(np.maximum(loads["embed"], loads["block"]), loads["head"])

    def memo(self, key: tuple[Any, ...], compute: Any) -> Any:
        """`compute()` once per key (arrays derived from the layer times, read per pair)."""
        if key not in self.derived:
            self.derived[key] = compute()
        return self.derived[key]

    def chain_energy(self, s: Setting) -> dict[str, NDArray[np.float64]]:
        """(C,) per part: joules per device of one micro-batch through the chain [embed, L blocks, head] under
        the greedy schedules' modes (phaze.cost.energy)."""
        return self.memo(("chain_energy", s), lambda: self._chain_energy(s))

    def _chain_energy(self, s: Setting) -> dict[str, NDArray[np.float64]]:
        self.ensure(s.microbatch, s.tensor)
        times = self.times[(s.microbatch, s.tensor)]
        parts = {k: lt.energy_parts(s.recompute) for k, lt in times.items()}
        return {p: parts["embed"][p] + self.model.layers * parts["block"][p] + parts["head"][p] for p in PARTS}

    def chain_energy_lb(self, s: Setting) -> NDArray[np.float64]:
        """(C,) a lower bound on `chain_energy`'s total for any schedule of the passes."""
        return self.memo(("chain_energy_lb", s), lambda: self._chain_energy_lb(s))

    def _chain_energy_lb(self, s: Setting) -> NDArray[np.float64]:
        self.ensure(s.microbatch, s.tensor)
        lb = {k: lt.energy_lb_j(s.recompute) for k, lt in self.times[(s.microbatch, s.tensor)].items()}
        return lb["embed"] + self.model.layers * lb["block"] + lb["head"]

    def peak_dynamic_w(self, b: int, t: int) -> NDArray[np.float64]:
        """(C,) the busiest layer pass's dynamic power per device: max over passes of energy / greedy time."""
        return self.memo(("peak_dynamic_w", b, t), lambda: self._peak_dynamic_w(b, t))

    def _peak_dynamic_w(self, b: int, t: int) -> NDArray[np.float64]:
        self.ensure(b, t)
        out = np.zeros(len(self.acc))
        for lt in self.times[(b, t)].values():
            for pt in (lt.fwd, lt.bwd):
                secs = pt.space.greedy_ns / NS_PER_S
                with np.errstate(divide="ignore", invalid="ignore"):
                    out = np.maximum(out, np.where(secs > 0, pt.energy_j / secs, 0.0))
        return out

    def schedule_energy(self, s: Setting, c: int, schedules: dict[str, tuple[Schedule, Schedule]]
                        ) -> dict[str, float]:
        """Candidate c's `chain_energy` under the given (forward, backward) schedules' modes."""
        return layer_energy(self.times[(s.microbatch, s.tensor)], c, s.recompute, self.model.layers, schedules)[0]

    def closed(self, b: int, t: int, c: int) -> bool:
        """Every pass of candidate c is proven optimal by greedy = bound."""
        return all(bool(lt.fwd.space.closed[c] and lt.bwd.space.closed[c]) for lt in self.times[(b, t)].values())

    def schedules(self, b: int, t: int, c: int, solver: SolverConfig,
                  cache: ScheduleCache | None) -> dict[str, tuple[Schedule, Schedule]]:
        """Candidate c's (forward, backward) schedule of every layer kind: greedy where it met the bound
        (or with `solver=greedy`), else the solver's."""
        out = {}
        for kind in LAYER_KINDS:
            lt = self.times[(b, t)][kind]
            out[kind] = tuple(times.space.greedy_schedule(c) if solver.name == "greedy" or times.space.closed[c]
                              else solve_candidate(times.space, c, solver, cache) for times in (lt.fwd, lt.bwd))
        return out  # type: ignore[return-value]

    def refined_loads(self, s: Setting, c: int, solver: SolverConfig, cache: ScheduleCache | None
                      ) -> tuple[dict[str, float], bool, float, dict[str, tuple[Schedule, Schedule]]]:
        """Candidate c's loads with every pass solved by `solver`: (loads, all optimal, worst pass gap, the
        schedules)."""
        out, optimal, gap = {}, True, 0.0
        schedules = self.schedules(s.microbatch, s.tensor, c, solver, cache)
        for kind in LAYER_KINDS:
            lt = self.times[(s.microbatch, s.tensor)][kind]
            secs = []
            for sched in schedules[kind]:
                optimal &= sched.status == "optimal"
                gap = max(gap, sched.gap)
                secs.append(sched.makespan_ns / NS_PER_S)
            fwd, bwd = secs
            out[kind] = fwd + bwd + recompute_extra_s(kind_recompute(kind, s.recompute), fwd,
                                                      float(lt.selective_s[c]))
        return out, optimal, gap, schedules
