"""Best and given placements of one model on one fixed accelerator design (`task=evaluate`, DESIGN §7).

Every setting (micro-batch, tensor width, recompute) goes through the same pipeline: build the layer
graphs, price and schedule each layer kind's passes, assemble the chain, run the exact placement DP.
Schedules depend on (micro-batch, width) only, so they are shared by the recompute modes. Which settings
and strategies a task asks for (the best of all, a given, literature or fixed one) is `strategies.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from phaze.config.model import ModelConfig
from phaze.config.parallelism import ParallelismConfig
from phaze.config.solver import SolverConfig
from phaze.cost.energy import static_power_w
from phaze.hardware import Accelerators
from phaze.model import ModelGraphs, build_model
from phaze.placement.chain_builder import build_chain
from phaze.placement.energy import PlacementEnergy, layer_energy, placement_energy
from phaze.placement.interleaved import best_interleaved, evaluate_interleaved
from phaze.placement.layer_times import LayerTimes, layer_times, refine
from phaze.placement.optimal import best_placement
from phaze.placement.optimizer_bytes import GRAD_BYTES_PER_PARAM, bytes_per_param, opt_bytes_touched_per_param
from phaze.placement.pipeline import evaluate_literature
from phaze.placement.problem import LayerChain, PlacementSpec
from phaze.placement.result import Infeasible, Placement
from phaze.placement.settings import Setting
from phaze.schedule import ScheduleCache


@dataclass
class Outcome:
    """A placement (or why none fits) at one setting, with what is needed to report it."""

    setting: Setting
    result: Placement | Infeasible
    chain: LayerChain | None = None
    spec: PlacementSpec | None = None

    @property
    def feasible(self) -> bool:
        return isinstance(self.result, Placement)

    @property
    def throughput(self) -> float:
        return self.result.throughput_samples_s if isinstance(self.result, Placement) else 0.0


def placement_spec(par: ParallelismConfig, acc: Accelerators, setting: Setting) -> PlacementSpec:
    return PlacementSpec(
        devices=par.devices, tensor_width=setting.tensor, microbatches=par.global_batch // setting.microbatch,
        hbm_bytes=float(acc.hbm_bytes), hbm_bw_bytes_per_s=acc.hbm_bw_bytes_per_s,
        dp_link_bw_bytes_per_s=acc.dp_link_bw_bytes_per_s, dp_link_latency_s=acc.link_latency_s,
        node_size=acc.node_size, tp_link_bw_bytes_per_s=acc.tp_link_bw_bytes_per_s,
        bytes_per_param=bytes_per_param(par.optimizer, par.kernels), grad_bytes_per_param=GRAD_BYTES_PER_PARAM,
        opt_bytes_touched_per_param=opt_bytes_touched_per_param(par.optimizer, par.kernels),
        microbatch_size=setting.microbatch)


def best_for_schedule(chain: LayerChain, spec: PlacementSpec, par: ParallelismConfig) -> Placement | Infeasible:
    """The best placement under the configured pipeline schedule: the exact DP for 1F1B, the (S, d)
    enumeration for the interleaved schedule."""
    if par.schedule == "interleaved":
        return best_interleaved(chain, spec, par.chunks)
    return best_placement(chain, spec)


@dataclass
class DesignEvaluator:
    """Evaluates settings of one model on a single accelerator (`acc` has one row), caching per (b, t)."""

    model: ModelConfig
    par: ParallelismConfig
    solver: SolverConfig
    acc: Accelerators
    cache: ScheduleCache | None = None
    _graphs: dict[tuple[int, int], ModelGraphs] = field(default_factory=dict)
    _times: dict[tuple[int, int], dict[str, LayerTimes]] = field(default_factory=dict)

    def graphs(self, b: int, t: int) -> ModelGraphs:
        if (b, t) not in self._graphs:
            self._graphs[(b, t)] = build_model(self.model, b, t, self.par.sequence_parallel,
                                                kernels=self.par.kernels)
        return self._graphs[(b, t)]

    _refined: set[tuple[int, int]] = field(default_factory=set)

    def times(self, b: int, t: int) -> dict[str, LayerTimes]:
        """Greedy schedules and lower bounds; `refine` replaces them by the solver's where it is asked to."""
        if (b, t) not in self._times:
            self._times[(b, t)] = layer_times(self.graphs(b, t), self.acc)
        return self._times[(b, t)]

    def refine(self, s: Setting) -> bool:
        """Solve the (micro-batch, width)'s open passes with the configured solver; False if nothing to do."""
        key = (s.microbatch, s.tensor)
        times = self.times(*key)
        if key in self._refined or all(bool(lt.fwd.optimal[0] and lt.bwd.optimal[0]) for lt in times.values()):
            return False
        refine(times, [0], self.solver, self.cache)
        self._refined.add(key)
        return True

    def chain(self, s: Setting, optimistic: bool = False) -> LayerChain:
        times = self.times(s.microbatch, s.tensor)
        load = {kind: float(lt.load_s(s.recompute, optimistic=optimistic)[0]) for kind, lt in times.items()}
        return build_chain(self.graphs(s.microbatch, s.tensor), load, s.recompute, self.acc.row(0))

    def best(self, s: Setting, optimistic: bool = False) -> Outcome:
        chain, spec = self.chain(s, optimistic), placement_spec(self.par, self.acc, s)
        return Outcome(s, best_for_schedule(chain, spec, self.par), chain, spec)

    def energy(self, o: Outcome) -> PlacementEnergy | None:
        """The energy and power of a placed outcome (phaze.placement.energy) on its setting's current schedules
        (the solver's where refined, else greedy); None if nothing is placed."""
        p = o.result
        if not isinstance(p, Placement) or o.chain is None or o.spec is None:
            return None
        times = self.times(o.setting.microbatch, o.setting.tensor)
        per_mb, peak = layer_energy(times, 0, o.setting.recompute, self.model.layers)
        return placement_energy(per_mb, o.spec, static_w=float(static_power_w(self.acc)[0]), peak_dyn_w=peak,
                                params=float(o.chain.params.sum()), data=p.data, stages=p.pipeline,
                                devices=p.devices_used, iteration_s=p.iteration_s, seq_len=self.model.seq_len,
                                node_nm=self.acc.tech_node_nm)

    def given(self, s: Setting, data: int, pipeline: int) -> Outcome:
        """A given (d, p) with the literature stage split (DESIGN §7), per chunk when interleaved."""
        chain, spec = self.chain(s), placement_spec(self.par, self.acc, s)
        if self.par.schedule == "interleaved":
            return Outcome(s, evaluate_interleaved(chain, spec, data, pipeline, self.par.chunks), chain, spec)
        return Outcome(s, evaluate_literature(chain, spec, data, pipeline), chain, spec)


def pick_best(outcomes: Iterable[Outcome], score: Callable[[Outcome], float] | None = None) -> Outcome | None:
    """The feasible outcome with the highest `score` (default: throughput); ties keep the earliest setting in
    config order (deterministic)."""
    best: Outcome | None = None
    best_score = 0.0
    for o in outcomes:
        if not o.feasible:
            continue
        value = o.throughput if score is None else score(o)
        if best is None or value > best_score:
            best, best_score = o, value
    return best
