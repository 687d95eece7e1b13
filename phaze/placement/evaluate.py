"""Best and given placements of one model on one fixed accelerator design (`task=evaluate`, DESIGN §7).

Every setting (micro-batch, tensor width, recompute) goes through the same pipeline: build the layer
graphs, price and schedule each layer kind's passes, assemble the chain, run the exact placement DP.
Schedules depend on (micro-batch, width) only, so they are shared by the recompute modes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from phaze.config.model import ModelConfig, validate_tensor_width
from phaze.config.parallelism import FixedStrategy, ParallelismConfig
from phaze.config.solver import SolverConfig
from phaze.hardware import Accelerators
from phaze.model import ModelGraphs, build_model
from phaze.placement.chain_builder import build_chain
from phaze.placement.interleaved import best_interleaved, evaluate_interleaved
from phaze.placement.layer_times import LayerTimes, layer_times, refine
from phaze.placement.optimal import best_placement
from phaze.placement.pipeline import evaluate_literature
from phaze.placement.problem import (
    GRAD_BYTES_PER_PARAM,
    LayerChain,
    PlacementSpec,
    bytes_per_param,
    opt_bytes_touched_per_param,
)
from phaze.placement.result import Infeasible, Placement
from phaze.placement.settings import Setting, literature_strategy, settings
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

    def given(self, s: Setting, data: int, pipeline: int) -> Outcome:
        """A given (d, p) with the literature stage split (DESIGN §7), per chunk when interleaved."""
        chain, spec = self.chain(s), placement_spec(self.par, self.acc, s)
        if self.par.schedule == "interleaved":
            return Outcome(s, evaluate_interleaved(chain, spec, data, pipeline, self.par.chunks), chain, spec)
        return Outcome(s, evaluate_literature(chain, spec, data, pipeline), chain, spec)


def pick_best(outcomes: Iterable[Outcome]) -> Outcome | None:
    """Highest throughput; ties keep the earliest setting in config order (deterministic)."""
    best: Outcome | None = None
    for o in outcomes:
        if o.feasible and (best is None or o.throughput > best.throughput):
            best = o
    return best


def evaluate_best(ev: DesignEvaluator) -> tuple[Outcome | None, list[Outcome], list[int]]:
    """Every setting on greedy schedules; then the solver refines, best first, only the settings whose
    placement on lower-bound schedules could still beat the best so far (the search's rule, DESIGN §8)."""
    all_settings, skipped = settings(ev.par, ev.model)
    outcomes = [ev.best(s) for s in all_settings]
    if ev.solver.name != "greedy":
        upper = [ev.best(s, optimistic=True).throughput for s in all_settings]
        for i in sorted(range(len(all_settings)), key=lambda i: (-upper[i], i)):
            incumbent = max(o.throughput for o in outcomes)
            if upper[i] < incumbent:
                break
            key = (all_settings[i].microbatch, all_settings[i].tensor)
            if ev.refine(all_settings[i]):
                outcomes = [ev.best(s) if (s.microbatch, s.tensor) == key else o
                            for s, o in zip(all_settings, outcomes, strict=True)]
    return pick_best(outcomes), outcomes, skipped


def evaluate_given(ev: DesignEvaluator, data: int, pipeline: int, tensor: int, microbatches: list[int],
                   recomputes: list[str]) -> Outcome | Infeasible:
    """A given (d, p, t) with the literature stage split and the best feasible (micro-batch, recompute) of
    the lists (DESIGN §7); "infeasible: <reason>" when none fits, never an exception."""
    try:
        validate_tensor_width(ev.model, tensor, "tensor")
    except ValueError as err:
        return Infeasible(str(err))
    tries = [ev.given(Setting(b, tensor, r), data, pipeline) for b in microbatches for r in recomputes]
    best = pick_best(tries)
    if best is not None:
        ev.refine(best.setting)  # report the chosen setting on the solver's schedules
        return ev.given(best.setting, data, pipeline)
    if len(tries) == 1:
        return tries[0]
    return Infeasible("no configured micro-batch and recompute fits; the first: " + str(tries[0].result))


def evaluate_literature_placement(ev: DesignEvaluator) -> Outcome | Infeasible | None:
    """The model's literature (p, d, t) with the best feasible micro-batch and recompute from the config."""
    lit = literature_strategy(ev.model.name)
    if lit is None:
        return None
    return evaluate_given(ev, lit.data, lit.pipeline, lit.tensor, ev.par.microbatch_sizes, ev.par.recompute)


def evaluate_fixed(ev: DesignEvaluator, fixed: FixedStrategy) -> Outcome | Infeasible:
    """`parallelism.fixed`, through the same code; null micro-batch / recompute take the best feasible."""
    assert fixed.data is not None and fixed.pipeline is not None and fixed.tensor is not None
    micro = [fixed.microbatch] if fixed.microbatch is not None else ev.par.microbatch_sizes
    recompute = [fixed.recompute] if fixed.recompute is not None else ev.par.recompute
    return evaluate_given(ev, fixed.data, fixed.pipeline, fixed.tensor, micro, recompute)
