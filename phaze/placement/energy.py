"""Energy of one placed training iteration (issue 19; the formula is phaze/search/objective.py's module doc).

Per iteration of G samples with d replicas, S stages, t-wide tensor parallelism, m micro-batches and D
devices in use for T seconds: E = m·t·e_mb + 2(d-1)·t·P·g·e_link + d·t·P·o·e_hbm + D·p_static·T, where e_mb
is the joules per device of one micro-batch through the chain (phaze.cost.energy, under the schedules the
placement's loads came from), P the parameters per tensor rank over the chain, g the gradient bytes and o the
optimizer bytes touched per parameter. `layer_energy` gives e_mb and the busiest pass's power from a design's
layer times, as the fixed designs' entries need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phaze.cost.energy import PARTS, EventEnergy
from phaze.model import kind_recompute
from phaze.placement.layer_times import LayerTimes, recompute_extra_s
from phaze.placement.problem import PlacementSpec
from phaze.placement.timing import dp_ranks_per_node
from phaze.schedule import NS_PER_S, Schedule

ENERGY_PARTS = (*PARTS, "static")


@dataclass(frozen=True)
class PlacementEnergy:
    """One placed pair's energy: per iteration (whole cluster), by part, and per chip."""

    energy_j: float
    parts: dict[str, float]
    power_w: float  # average per chip in use
    peak_power_w: float  # the busiest layer pass's dynamic power + static, per chip
    energy_per_token_j: float
    samples_per_j: float  # = throughput per watt of the cluster

    def as_dict(self) -> dict[str, Any]:
        return {"energy_per_iteration_j": self.energy_j, "energy_parts_j": dict(self.parts),
                "power_w": self.power_w, "peak_power_w": self.peak_power_w,
                "energy_per_token_j": self.energy_per_token_j, "throughput_per_watt": self.samples_per_j}


def placement_energy(per_microbatch: dict[str, float], spec: PlacementSpec, *, static_w: float, peak_dyn_w: float,
                     params: float, data: int, stages: int, devices: int, iteration_s: float, seq_len: int,
                     node_nm: float) -> PlacementEnergy:
    """The module doc's E for one placement; `per_microbatch` is e_mb by part (joules per device)."""
    ev = EventEnergy.at(node_nm)
    m, t = spec.microbatches, spec.tensor_width
    parts = {p: m * t * float(per_microbatch[p]) for p in PARTS}
    link = ev.intra_link_j_per_byte if dp_ranks_per_node(data, stages, spec) == 0 else ev.inter_link_j_per_byte
    parts["link"] += 2.0 * (data - 1) * t * params * spec.grad_bytes_per_param * link
    parts["hbm"] += data * t * params * spec.opt_bytes_touched_per_param * ev.hbm_j_per_byte
    parts["static"] = devices * static_w * iteration_s
    total = sum(parts.values())
    g = spec.global_batch
    return PlacementEnergy(total, parts, total / (devices * iteration_s), peak_dyn_w + static_w,
                           total / (g * seq_len), g / total)



def layer_energy(times: dict[str, LayerTimes], c: int, recompute: str, layers: int,
                 schedules: dict[str, tuple[Schedule, Schedule]] | None = None) -> tuple[dict[str, float], float]:
    """(e_mb by part, the busiest pass's dynamic power) of candidate c under the given (forward, backward)
    schedules of every layer kind, by default the ones behind `times` (the solver's where refined, else greedy)."""
    out = dict.fromkeys(PARTS, 0.0)
    peak = 0.0
    for kind, lt in times.items():
        count = layers if kind == "block" else 1
        per_pass = []
        for i, pt in enumerate((lt.fwd, lt.bwd)):
            sched = pt.schedule(c) if schedules is None else schedules[kind][i]
            e = pt.schedule_energy(c, sched)
            per_pass.append(e)
            if sched.makespan_ns:
                peak = max(peak, sum(e.values()) / (sched.makespan_ns / NS_PER_S))
        ef, eb = per_pass
        sel = {p: float(v[c]) for p, v in lt.selective_energy.items()}
        for p in PARTS:
            out[p] += count * (ef[p] + eb[p] + recompute_extra_s(kind_recompute(kind, recompute), ef[p],
                                                                 sel.get(p, 0.0)))
    return out, peak


__all__ = ["ENERGY_PARTS", "PlacementEnergy", "layer_energy", "placement_energy"]
