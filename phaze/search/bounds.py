"""An optimistic time per batch for every candidate of a space at once (DESIGN §8).

For one setting (micro-batch b, width t, recompute), with per-layer load lower bounds ℓ_i (each pass's
schedule lower bound, DESIGN §6), any placement with S stages and d replicas has

    TPB >= A·(ceil(m/d) + S − 1) + AR_d(P_S) + opt(P_S),   A = max(Σℓ/S, max_i ℓ_i),
                                                          P_S = max(ΣP/S, max_i P_i)

because the bottleneck stage carries at least the mean load and at least the largest layer, p2p costs
are >= 0, and the largest stage holds at least the mean parameters. Only S for which some placement
fits in memory count (memory does not depend on the candidate); d ranges over every d <= m with
d·S·t <= N (a relaxation: more d than memory may allow). The bound is the minimum over (S, d). Terms
other than A depend on the setting only, so they are tabulated once and the candidates share them.

With the interleaved schedule (v chunks per device, phaze/placement/interleaved.py) the same argument holds
per device — a device carries at least the mean load and the largest layer, and at least the mean
parameters — with the pipeline factor m/d + (S − 1)/v, S from 2 to L/v, and only the d that divide m
into a multiple of S per replica and whose near-uniform chunk layout fits in memory (memory does not depend on
the loads, so this check is exact, as the exact evaluation makes it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from phaze.placement.chunks import layout, layout_memory
from phaze.placement.memory import least_memory
from phaze.placement.problem import LayerChain, PlacementSpec
from phaze.placement.result import Infeasible
from phaze.placement.stages import stage_params
from phaze.placement.timing import dp_allreduce_s, optimizer_step_s


@dataclass(frozen=True)
class SettingBound:
    """Candidate-independent terms of the optimistic TPB: per feasible S, lines (F_d, G_d) in A."""

    stages: tuple[int, ...]
    fill: tuple[NDArray[np.float64], ...]  # F = ceil(m/d) + S − 1 per kept d
    fixed: tuple[NDArray[np.float64], ...]  # G = AR_d(P_S) + opt(P_S) per kept d
    reason: str = ""  # why no placement fits (empty when some S does)

    @property
    def feasible(self) -> bool:
        return bool(self.stages)


def _pareto_lines(fill: NDArray[np.float64], fixed: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """Drop d whose (F, G) is dominated: they can never give the minimum."""
    order = np.lexsort((fixed, fill))
    keep, best_g = [], np.inf
    for i in order:
        if fixed[i] < best_g:
            keep.append(i)
            best_g = fixed[i]
    idx = np.array(keep, dtype=np.int64)
    return fill[idx], fixed[idx]


def _lines(spec: PlacementSpec, stages: int, d: NDArray[np.float64], fill: NDArray[np.float64],
           p_s: float) -> tuple[NDArray, NDArray]:
    """The undominated (F_d, G_d) of one S: G = AR_d(P_S) + opt(P_S) at the S stages' ring bandwidth."""
    return _pareto_lines(fill, dp_allreduce_s(p_s, d, spec, stages=stages) + optimizer_step_s(p_s, spec))


def _interleaved_bound(chain: LayerChain, spec: PlacementSpec, chunks: int) -> SettingBound:
    t, m = spec.tensor_width, spec.microbatches
    total_p, max_p = float(chain.params.sum()), float(chain.params.max())
    stages, fills, fixeds = [], [], []
    reason = (f"infeasible: no (p, d) for the interleaved schedule with {chunks} chunks: "
              "2 <= p, p·v <= L, d·p·t <= N and m/d a whole multiple of p")
    for s in range(2, min((chain.n - 2) // chunks, spec.devices // t) + 1):
        d = np.arange(1, min(m, spec.devices // (s * t)) + 1, dtype=np.float64)
        d = d[(m % d == 0) & ((m // d) % s == 0)]
        lay = layout(chain, s, chunks)
        if d.size == 0 or isinstance(lay, Infeasible):
            continue
        fits = {q: max(layout_memory(spec, lay, q)) <= spec.hbm_bytes for q in {int(m // x) for x in d}}
        d = d[[fits[int(m // x)] for x in d]]
        if d.size == 0:
            reason = f"infeasible: no interleaved placement ({chunks} chunks) fits in hbm_bytes={spec.hbm_bytes:.6g}"
            continue
        f, g = _lines(spec, s, d, np.ceil(m / d) + (s - 1) / chunks, max(total_p / s, max_p))
        stages.append(s)
        fills.append(f)
        fixeds.append(g)
    return SettingBound(tuple(stages), tuple(fills), tuple(fixeds), "" if stages else reason)


def setting_bound(chain: LayerChain, spec: PlacementSpec, schedule: str = "1f1b", chunks: int = 1) -> SettingBound:
    """Tabulate F and G for every memory-feasible S (loads in `chain` are ignored)."""
    if schedule == "interleaved":
        return _interleaved_bound(chain, spec, chunks)
    n, t, m = chain.n, spec.tensor_width, spec.microbatches
    total_p, max_p = float(chain.params.sum()), float(chain.params.max())
    whole_p = stage_params(chain, 0, n)  # one stage keeps a tied copy once
    stages, fills, fixeds = [], [], []
    reason = ""
    for s in range(1, min(n, spec.devices // t) + 1):
        need = least_memory(chain, spec, pipeline=s)
        if isinstance(need, Infeasible):
            reason = reason or str(need)
            continue
        if need[0] > spec.hbm_bytes:
            reason = f"infeasible: no placement fits in hbm_bytes={spec.hbm_bytes:.6g}"
            continue
        d = np.arange(1, min(m, spec.devices // (s * t)) + 1, dtype=np.float64)
        p_s = whole_p if s == 1 else max(total_p / s, max_p)
        f, g = _lines(spec, s, d, np.ceil(m / d) + (s - 1), p_s)
        stages.append(s)
        fills.append(f)
        fixeds.append(g)
    return SettingBound(tuple(stages), tuple(fills), tuple(fixeds), "" if stages else reason)


def optimistic_tpb(bound: SettingBound, sum_load: NDArray[np.float64],
                   max_load: NDArray[np.float64]) -> NDArray[np.float64]:
    """(C,) lower bound on TPB from per-candidate Σℓ and max ℓ; +inf when no S fits in memory."""
    best = np.full(sum_load.shape, np.inf)
    for s, fill, fixed in zip(bound.stages, bound.fill, bound.fixed, strict=True):
        a = np.maximum(sum_load / s, max_load)
        tpb = (a[:, None] * fill[None, :] + fixed[None, :]).min(axis=1)
        np.minimum(best, tpb, out=best)
    return best
