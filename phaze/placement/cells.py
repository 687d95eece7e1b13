"""The (S, d) grid of a placement problem and how the 1F1B in-flight limit splits it (DESIGN §7).

Stage j (counted from the pipeline's end) of a replica holds min(j, ceil(m/d)) micro-batches. For a cell
with ceil(m/d) >= S that is j, whatever d: all such cells share one DP ("limit 0"). Cells with
q = ceil(m/d) < S need the DP with limit q; with m >= N (e.g. GPT-3: m = 4096, N = 1024) there are none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phaze.placement.problem import PlacementSpec
from phaze.placement.timing import dp_allreduce_bw


@dataclass(frozen=True)
class Cells:
    """All admissible (S, d) pairs: d·S·t <= N, d <= m, S <= n; `variant` indexes `limits`.

    limits[0] = 0 stands for "ceil(m/d) >= S" (no in-flight limit below S); limits[v] = q > 0 for the
    cells whose replicas see only q = ceil(m/d) < S micro-batches.
    """

    stages: np.ndarray  # S per cell (int)
    data: np.ndarray  # d per cell (int)
    fill: np.ndarray  # ceil(m/d) + S - 1 (float): the pipeline factor of TPB
    data_f: np.ndarray  # d as float, for the all-reduce formula
    ring_bw: np.ndarray  # data-parallel ring bandwidth of the cell (timing.dp_allreduce_bw)
    variant: np.ndarray  # index into `limits`
    limits: tuple[int, ...]


def admissible_cells(n: int, spec: PlacementSpec, pipeline: int | None, data: int | None) -> Cells:
    """Every (S, d) with S <= n, d <= m and d·S·t <= N, optionally with S and/or d fixed, S-major order."""
    m, per_stage = spec.microbatches, spec.devices // spec.tensor_width
    stage_counts = range(1, min(n, per_stage) + 1) if pipeline is None else [pipeline]
    s_list, d_list = [], []
    for s in stage_counts:
        if s < 1 or s > min(n, per_stage):
            continue
        d_max = min(per_stage // s, m)
        ds = np.arange(1, d_max + 1) if data is None else np.array([data] if 1 <= data <= d_max else [])
        s_list.append(np.full(ds.size, s, dtype=np.int64))
        d_list.append(ds.astype(np.int64))
    stages = np.concatenate(s_list) if s_list else np.zeros(0, dtype=np.int64)
    ds = np.concatenate(d_list) if d_list else np.zeros(0, dtype=np.int64)
    per_replica = -(-m // ds)
    q = np.where(per_replica < stages, per_replica, 0)
    limits = (0, *(int(x) for x in np.unique(q[q > 0])))
    variant = np.searchsorted(np.array(limits), q)
    fill = (per_replica + stages - 1).astype(np.float64)
    ring_bw = dp_allreduce_bw(ds, spec, stages) if ds.size else np.zeros(0)
    return Cells(stages, ds, fill, ds.astype(np.float64), ring_bw, variant, limits)
