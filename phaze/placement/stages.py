"""Load and memory of one contiguous stage `[start, end)` of the chain (DESIGN §7), scalar and tabulated.

Pipeline p2p convention (kept deliberately simple): a stage pays, inside its load, the send of its OUTPUT
boundary activation in the forward pass (unless it is the last stage) and the send of the gradient of its
INPUT boundary in the backward pass (unless it is the first stage); both cost `boundary_p2p_s` of the
boundary layer. The transfers are not overlapped with compute, as in the original
(docs/phaze-original.md §5.2, where p2p waits sit inside the stage load). So with two stages of 1 ms
compute and a 1 ms boundary transfer each stage's load is 2 ms.

Memory of a stage holding `inflight` micro-batches (1F1B: the k-th of S stages holds
`min(S − k + 1, ceil(m/d))`): `P·bytes_per_param + act·inflight + extra`.

Range sums are accumulated left to right (`np.cumsum`) in both the scalar and the tabulated form, so the
dynamic program and the evaluation of a placement see bit-identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import add

import numpy as np

from phaze.placement.problem import LayerChain, PlacementSpec


def range_sum(values: np.ndarray, start: int, end: int) -> float:
    """`values[start] + ... + values[end-1]`, summed left to right: the same float as the last entry of
    `np.cumsum` (a strictly sequential accumulate), without a numpy call per range. Not `sum()`, which
    compensates its rounding from Python 3.12 on."""
    return reduce(add, values[start:end].tolist())


def range_sums(values: np.ndarray) -> np.ndarray:
    """Matrix R (n, n+1) with R[i, e] = range_sum(values, i, e) for e > i and 0 elsewhere."""
    n = values.size
    out = np.zeros((n, n + 1))
    for i in range(n):
        out[i, i + 1:] = np.cumsum(values[i:])
    return out


def _p2p_out(chain: LayerChain, end: int) -> float:
    return float(chain.boundary_p2p_s[end - 1]) if end < chain.n else 0.0


def _p2p_in(chain: LayerChain, start: int) -> float:
    return float(chain.boundary_p2p_s[start - 1]) if start > 0 else 0.0


def stage_load_s(chain: LayerChain, start: int, end: int) -> float:
    """Seconds per micro-batch of stage `[start, end)`: compute + output send + input-gradient send."""
    return (range_sum(chain.load_s, start, end) + _p2p_out(chain, end)) + _p2p_in(chain, start)


def stage_params(chain: LayerChain, start: int, end: int) -> float:
    """Parameters per device of stage `[start, end)`; the whole chain keeps `shared_params` once."""
    total = range_sum(chain.params, start, end)
    return total - chain.shared_params if (start, end) == (0, chain.n) else total


def stage_memory_bytes(chain: LayerChain, spec: PlacementSpec, start: int, end: int, inflight: int) -> float:
    """Bytes per device of stage `[start, end)` holding `inflight` micro-batches' activations."""
    weights = stage_params(chain, start, end) * spec.bytes_per_param
    acts = range_sum(chain.act_bytes, start, end) * float(inflight)
    return (weights + acts) + range_sum(chain.extra_bytes, start, end)


@dataclass(frozen=True, eq=False)
class StageTables:
    """Every contiguous stage `[i, e)` tabulated as (n, n+1) matrices; entries with e <= i are unusable.

    load: stage load (inf where e <= i); params: parameter sum (inf where e <= i);
    fit: the largest number of in-flight micro-batches whose memory fits in HBM, clipped to n (the most a
    stage can ever hold here), 0 if not even one fits or e <= i;
    weights / act / extra: P·bytes_per_param, activation bytes per micro-batch and once-only bytes, the
    three parts of the memory formula (for the minimum-memory search).
    """

    n: int
    load: np.ndarray
    params: np.ndarray
    fit: np.ndarray
    weights: np.ndarray
    act: np.ndarray
    extra: np.ndarray

    def memory(self, inflight: int | np.ndarray) -> np.ndarray:
        """Stage memory matrix for `inflight` micro-batches (same operation order as stage_memory_bytes)."""
        return (self.weights + self.act * np.asarray(inflight, dtype=np.float64)) + self.extra


def _largest_fit(tables: StageTables, hbm_bytes: float, valid: np.ndarray) -> np.ndarray:
    """Largest k in [0, n] with memory(k) <= hbm for each stage, exact w.r.t. the memory formula."""
    n = tables.n
    base = tables.weights + tables.extra
    act = tables.act
    with np.errstate(divide="ignore", invalid="ignore"):
        guess = np.where(act > 0, np.floor((hbm_bytes - base) / act), n)
    k = np.clip(np.nan_to_num(guess, nan=0.0, posinf=n, neginf=0.0), 0, n).astype(np.int64)
    k[tables.memory(1) > hbm_bytes] = 0
    for _ in range(n + 1):  # fix the rounding of the guess by +-1 steps; converges in one or two rounds
        up = (k < n) & (tables.memory(k + 1) <= hbm_bytes)
        down = (k > 0) & (tables.memory(k) > hbm_bytes)
        if not (up.any() or down.any()):
            break
        k = k + up.astype(np.int64) - down.astype(np.int64)
    return np.where(valid, k, 0)


def build_tables(chain: LayerChain, spec: PlacementSpec) -> StageTables:
    """Tabulate load, parameters and memory fit of all n(n+1)/2 stages (O(n²) numpy)."""
    n = chain.n
    idx = np.arange(n + 1)
    valid = idx[None, :] > np.arange(n)[:, None]
    p2p_out = np.zeros(n + 1)
    p2p_out[1:n] = chain.boundary_p2p_s[: n - 1]
    p2p_in = np.zeros(n)
    p2p_in[1:] = chain.boundary_p2p_s[: n - 1]
    load = (range_sums(chain.load_s) + p2p_out[None, :]) + p2p_in[:, None]
    params = range_sums(chain.params)
    params[0, n] = params[0, n] - chain.shared_params  # as stage_params: the whole chain keeps it once
    partial = StageTables(
        n=n, load=np.where(valid, load, np.inf), params=np.where(valid, params, np.inf),
        fit=np.zeros((n, n + 1), dtype=np.int64), weights=params * spec.bytes_per_param,
        act=range_sums(chain.act_bytes), extra=range_sums(chain.extra_bytes),
    )
    fit = _largest_fit(partial, spec.hbm_bytes, valid)
    return StageTables(n=n, load=partial.load, params=partial.params, fit=fit, weights=partial.weights,
                       act=partial.act, extra=partial.extra)
