"""The placements `task=evaluate` and the search's baselines report: the best over every configured
setting, a given (d, p, t), the model's literature strategy and `parallelism.fixed` (DESIGN §7).

Separate from `evaluate.py`, which prices one setting on one design: these choose which settings to price
and in what order, and when the configured solver refines the greedy schedules.
"""

from __future__ import annotations

from collections.abc import Callable

from phaze.config.model import validate_tensor_width
from phaze.config.parallelism import FixedStrategy
from phaze.config.search import ENERGY_OBJECTIVES
from phaze.placement.evaluate import DesignEvaluator, Outcome, pick_best
from phaze.placement.result import Infeasible
from phaze.placement.settings import Setting, literature_strategy, settings


def evaluate_best(ev: DesignEvaluator, objective: str = "throughput"
                  ) -> tuple[Outcome | None, list[Outcome], list[int]]:
    """The best setting by `search.objective`, each setting placed for throughput (as the search places pairs).

    Throughput (and throughput per mm², the same order on one design): every setting on greedy schedules; then
    the solver refines, best first, only the settings whose placement on lower-bound schedules could still beat
    the best so far (the search's rule, DESIGN §8). The energy objectives: the throughput bound does not bound
    samples per joule, so the solver refines every setting and the most samples per joule wins (ties: the
    earliest setting in config order)."""
    all_settings, skipped = settings(ev.par, ev.model)
    outcomes = [ev.best(s) for s in all_settings]
    if objective in ENERGY_OBJECTIVES:
        if ev.solver.name != "greedy":
            refined = [ev.refine(s) for s in all_settings]  # every setting, no short-circuit
            if any(refined):
                outcomes = [ev.best(s) for s in all_settings]
        return pick_best(outcomes, _samples_per_j(ev)), outcomes, skipped
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


def _samples_per_j(ev: DesignEvaluator) -> Callable[[Outcome], float]:
    def score(o: Outcome) -> float:
        energy = ev.energy(o)
        return 0.0 if energy is None else energy.samples_per_j

    return score


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
