"""The best placement of a chain: stage count S, data-parallel degree d and stage cuts (DESIGN §7).

TPB = max_load·(ceil(m/d) + S − 1) + AR_d(P_max) + opt(P_max) is not separable over stages: the last two
terms grow with P_max, the largest stage parameter sum. So, as in the design, the min-max DP
(`partition.Ladder`) runs under a cap on stage parameters, and the optimum over caps is kept. Every
partition with P_max = c is allowed under cap c, and the capped DP's answer is no worse in load and in
P_max, hence its TPB is no worse: trying every distinct stage parameter sum as a cap is exact.

Making it fast without losing exactness (brute force equality is tested):
- one DP run per cap serves every S (levels) and every d with ceil(m/d) >= S (the 1F1B in-flight count is
  then j, independent of d); cells (S, d) with ceil(m/d) = q < S share a branch for limit q;
- caps are visited from the largest down. After the run at cap c, cell (S, d) with optimum B and partition
  peak P cannot gain from any cap in [P, c] (same B, larger or equal AR/opt), so the next cap visited is the
  largest one below max P over live cells; a cell dies when even a larger-or-equal load B with the
  smallest possible parameter term, `B·(ceil(m/d)+S−1) + AR_d(c_min) + opt(c_min)`, cannot beat the best
  TPB so far (all float operations are monotone, so this bound holds bit for bit);
- all (S, d) cells of a cap are priced in one numpy expression.
"""

from __future__ import annotations

import numpy as np

from phaze.placement.cells import Cells, admissible_cells
from phaze.placement.memory import no_cells, smallest_memory
from phaze.placement.partition import Ladder, heads
from phaze.placement.pipeline import evaluate_placement
from phaze.placement.problem import LayerChain, PlacementSpec
from phaze.placement.result import Infeasible, Placement
from phaze.placement.stages import StageTables, build_tables
from phaze.placement.timing import iteration_s


def _climb_all(tables: StageTables, allowed_cost: np.ndarray, cells: Cells,
               live: np.ndarray) -> dict[int, Ladder]:
    """Ladders for the live cells under stage costs `allowed_cost` ((n, n+1), inf = forbidden)."""
    fit, params = tables.fit, tables.params
    need = np.zeros(len(cells.limits), dtype=np.int64)
    np.maximum.at(need, cells.variant[live], cells.stages[live])
    branch_levels = [cells.limits[v] for v in range(1, need.size) if need[v] > 0]
    base = Ladder.start(tables.n)

    def unlimited(j: int, rows: int) -> np.ndarray:
        return np.where(fit[:rows, : rows + 1] >= j, allowed_cost[:rows, : rows + 1], np.inf)

    base.climb(unlimited, params, max([int(need[0]), *branch_levels]))
    out = {0: base}
    for v in range(1, need.size):
        if need[v] == 0:
            continue
        q = cells.limits[v]
        fixed = np.where(fit >= q, allowed_cost, np.inf)
        ladder = base.branch(q)
        ladder.climb(lambda j, rows, fixed=fixed: fixed[:rows, : rows + 1], params, int(need[v]))
        out[v] = ladder
    return out


def _head_tables(ladders: dict[int, Ladder], nvariants: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    value = np.full((nvariants, n + 1), np.inf)
    peak = np.full((nvariants, n + 1), np.inf)
    for v, ladder in ladders.items():
        value[v, : ladder.levels + 1], peak[v, : ladder.levels + 1] = heads(ladder)
    return value, peak


def _sweep(tables: StageTables, spec: PlacementSpec, cells: Cells,
           caps: np.ndarray) -> tuple[int, int, tuple[int, ...]] | None:
    """Visit parameter caps from the top, pruned as in the module docstring; return (S, d, cuts)."""
    live = np.ones(cells.stages.size, dtype=bool)
    best_tpb, best = np.inf, None
    floor_cap, at = float(caps[0]), caps.size - 1
    while True:
        allowed = np.where(tables.params <= caps[at], tables.load, np.inf)
        ladders = _climb_all(tables, allowed, cells, live)
        value, peak = _head_tables(ladders, len(cells.limits), tables.n)
        idx = np.flatnonzero(live)
        load = value[cells.variant[idx], cells.stages[idx]]
        idx = idx[np.isfinite(load)]  # no split under this cap: none under smaller caps either
        if idx.size == 0:
            break
        load = value[cells.variant[idx], cells.stages[idx]]
        top = peak[cells.variant[idx], cells.stages[idx]]
        fill, data, ring = cells.fill[idx], cells.data_f[idx], cells.ring_bw[idx]
        tpb = iteration_s(load, fill, top, data, spec, ring)
        k = int(np.argmin(tpb))
        if tpb[k] < best_tpb:
            c = idx[k]
            stages = int(cells.stages[c])
            best_tpb = float(tpb[k])
            best = (stages, int(cells.data[c]), ladders[int(cells.variant[c])].cuts(stages))
        bound = iteration_s(load, fill, floor_cap, data, spec, ring)
        below = np.searchsorted(caps, top, side="left") - 1
        keep = (bound < best_tpb) & (below >= 0)
        live[:] = False
        live[idx[keep]] = True
        if not keep.any():
            break
        at = int(below[keep].max())
    return best


def best_placement(chain: LayerChain, spec: PlacementSpec, *, pipeline: int | None = None,
                   data: int | None = None) -> Placement | Infeasible:
    """The placement minimising TPB over S, d and contiguous cuts; optionally with S and/or d fixed.

    Exact (equal to brute force over every partition, S and d); returns `Infeasible` with a reason when
    no placement exists. The returned `Placement` is `evaluate_placement` of the optimal partition.
    """
    t = spec.tensor_width
    if t > spec.devices:
        return Infeasible(f"tensor width t={t} exceeds the N={spec.devices} devices")
    cells = admissible_cells(chain.n, spec, pipeline, data)
    if cells.stages.size == 0:
        return no_cells(chain, spec, pipeline, data)
    tables = build_tables(chain, spec)
    caps = np.unique(tables.params[tables.fit >= 1])
    found = _sweep(tables, spec, cells, caps) if caps.size else None
    if found is None:
        need, s, d = smallest_memory(tables, spec, cells)
        return Infeasible(f"no placement fits in hbm_bytes={spec.hbm_bytes:.6g}: the smallest per-device "
                          f"memory need is {need:.6g} bytes (S={s}, d={d}, t={t})")
    _, d, cuts = found
    return evaluate_placement(chain, spec, d, cuts)
