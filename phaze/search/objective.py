"""What the co-search maximises (`search.objective`), its optimistic bound per pair, and a placement's energy.

Every pair (design, setting) is placed for throughput (the placement DP's optimum: the cluster trains as
fast as it can); the objective ranks the pairs. Per iteration of G samples on a placement with d replicas,
S stages, t-wide tensor parallelism, m micro-batches and D devices in use for T seconds:

    E = m·t·e_mb                        each micro-batch crosses every layer on t devices (e_mb: joules per
                                        device per micro-batch through the chain, phaze.cost.energy)
      + 2(d-1)·t·P·g·e_link             the data-parallel ring all-reduce of the gradients (g bytes per
                                        parameter, P parameters per tensor rank over the chain)
      + d·t·P·o·e_hbm                   the optimizer step's HBM traffic (o bytes touched per parameter)
      + D·p_static·T                    every device in use leaks for the whole iteration

    power per chip = E / (D·T);  samples per joule = G / E;  energy per token = E / (G·seq)

Objectives: `throughput` (G/T), `throughput_per_mm2` (G/T / area), `throughput_per_watt` (G/T over the
cluster's power = G/E, samples per joule) and `energy_per_token` (E/(G·seq), minimised: the same order as
samples per joule, so the same optimum). Pipeline sends' energy is not counted (docs/energy.md).

Optimistic bounds (valid for every placement of the pair, so pruning by them is exact): the throughput's is
the plan's (bounds.py); dividing by the design's fixed area keeps it a bound. For the energy objectives,
E >= m·t·e_lb + t·P·o·e_hbm + p_static·m·t·Σℓ, because e_mb >= e_lb (each op in its cheaper mode),
d >= 1, the all-reduce term is >= 0, and D·T >= the busy device-time m·t·Σℓ (each micro-batch holds t
devices for at least the lower-bound load ℓ of every layer). With a throughput upper bound U known, T >= G/U
and D >= t add D·T >= t·G/U.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from phaze.config.search import ENERGY_OBJECTIVES, OBJECTIVES
from phaze.cost.energy import EventEnergy, static_power_w
from phaze.placement.chain_builder import build_chain
from phaze.placement.energy import ENERGY_PARTS, PlacementEnergy, placement_energy
from phaze.placement.problem import PlacementSpec
from phaze.placement.settings import Setting
from phaze.search.space_times import SpaceTimes

__all__ = ["ENERGY_OBJECTIVES", "ENERGY_PARTS", "OBJECTIVES", "Objective", "PlacementEnergy", "chain_params",
           "objective_value", "placement_energy"]


def chain_params(space: SpaceTimes, s: Setting) -> float:
    """P: parameters per tensor rank summed over the chain (candidate-independent)."""
    def compute() -> float:
        graphs = space.model_graphs(s.microbatch, s.tensor)
        chain = build_chain(graphs, dict.fromkeys(("embed", "block", "head"), 0.0), s.recompute, space.acc.row(0))
        return float(chain.params.sum())
    return float(space.memo(("chain_params", s), compute))


@dataclass(frozen=True)
class Objective:
    """`search.objective` on one space: optimistic scores for the plan, scores of placed pairs."""

    name: str
    space: SpaceTimes

    def _energy_floor(self, s: Setting, spec: PlacementSpec) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(C,) (E's lower bound without the busy-time static term, the static term's device-seconds)."""
        def compute() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            ev = EventEnergy.at(self.space.acc.tech_node_nm)
            m, t = spec.microbatches, spec.tensor_width
            opt = t * chain_params(self.space, s) * spec.opt_bytes_touched_per_param * ev.hbm_j_per_byte
            total, _ = self.space.chain_sums(s)
            return m * t * self.space.chain_energy_lb(s) + opt, m * t * total
        return self.space.memo(("energy_floor", s, spec), compute)  # type: ignore[no-any-return]

    def optimistic(self, s: Setting, spec: PlacementSpec, throughput: NDArray[np.float64]) -> NDArray[np.float64]:
        """(C,) an upper bound on the score of any placement of (candidate, s), given the plan's optimistic
        throughput (module doc)."""
        if self.name == "throughput":
            return throughput
        if self.name == "throughput_per_mm2":
            return throughput / self.space.acc.area_mm2
        floor, busy = self._energy_floor(s, spec)
        return spec.global_batch / (floor + static_power_w(self.space.acc) * busy)

    def upper(self, c: int, s: Setting, spec: PlacementSpec, throughput_upper: float, optimistic: float) -> float:
        """An upper bound on candidate c's score in setting s once the DP on bound loads gave throughput_upper."""
        if self.name == "throughput":
            return throughput_upper
        if self.name == "throughput_per_mm2":
            return throughput_upper / float(self.space.acc.area_mm2[c])
        if throughput_upper <= 0:
            return 0.0
        floor, busy = self._energy_floor(s, spec)
        dev_s = max(float(busy[c]), spec.tensor_width * spec.global_batch / throughput_upper)
        return min(optimistic, spec.global_batch / (float(floor[c]) + float(static_power_w(self.space.acc)[c]) * dev_s))

    def score(self, c: int, throughput: float, energy: PlacementEnergy | None) -> float:
        """The objective of a placed pair, as a number to maximise (samples per joule for both energy objectives)."""
        if self.name == "throughput":
            return throughput
        if self.name == "throughput_per_mm2":
            return throughput / float(self.space.acc.area_mm2[c])
        return 0.0 if energy is None else energy.samples_per_j


def objective_value(name: str, score: float, seq_len: int) -> float:
    """The objective in its own unit from a score: energy per token is 1 / (score·seq), the rest are the score."""
    if name == "energy_per_token":
        return 1.0 / (score * seq_len) if score > 0 else float("inf")
    return score
