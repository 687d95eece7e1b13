"""The smallest per-device memory any placement needs, and the reason text when nothing fits (DESIGN §7).

Memory does not depend on the loads, so this answers "can this setting fit at all?" before any pricing.
"""

from __future__ import annotations

import numpy as np

from phaze.placement.cells import Cells, admissible_cells
from phaze.placement.partition import Ladder
from phaze.placement.problem import LayerChain, PlacementSpec
from phaze.placement.result import Infeasible
from phaze.placement.stages import StageTables, build_tables


def smallest_memory(tables: StageTables, spec: PlacementSpec, cells: Cells) -> tuple[float, int, int]:
    """Smallest achievable largest-stage memory over all cells, each at its largest d (fewest in flight).

    Same ladder as the load DP with stage memory as the cost; returns (bytes, S, d).
    """
    n, valid = tables.n, np.isfinite(tables.load)

    def memory(inflight: int, rows: int) -> np.ndarray:
        window = (slice(0, rows), slice(0, rows + 1))
        mem = (tables.weights[window] + tables.act[window] * float(inflight)) + tables.extra[window]
        return np.where(valid[window], mem, np.inf)

    stage_counts = [int(s) for s in np.unique(cells.stages)]
    widest = {s: int(cells.data[cells.stages == s].max()) for s in stage_counts}
    limit = {s: spec.microbatches_per_replica(widest[s]) for s in stage_counts}
    base = Ladder.start(n)
    base.climb(memory, tables.params, max(stage_counts))
    branches: dict[int, Ladder] = {}
    for q in sorted({limit[s] for s in stage_counts if limit[s] < s}):
        branches[q] = base.branch(q)
        top = max(s for s in stage_counts if limit[s] == q)
        branches[q].climb(lambda j, rows, q=q: memory(q, rows), tables.params, top)
    return min((branches[limit[s]].best(s) if limit[s] < s else base.best(s), s, widest[s])
               for s in stage_counts)


def no_cells(chain: LayerChain, spec: PlacementSpec, pipeline: int | None, data: int | None) -> Infeasible:
    return Infeasible(f"no (S={pipeline or 'any'}, d={data or 'any'}) with 1 <= S <= {chain.n} layers, "
                      f"d <= m={spec.microbatches} and d·S·t <= N={spec.devices} (t={spec.tensor_width})")


def least_memory(chain: LayerChain, spec: PlacementSpec, *, pipeline: int | None = None,
                 data: int | None = None) -> tuple[float, int, int] | Infeasible:
    """(bytes, S, d): the smallest per-device memory any placement needs, whatever its speed.

    It depends on the memory inputs only, not on loads, so a search can call it once per setting (micro-
    batch, tensor width, recompute, HBM size) to skip settings where nothing fits.
    """
    cells = admissible_cells(chain.n, spec, pipeline, data)
    if cells.stages.size == 0:
        return no_cells(chain, spec, pipeline, data)
    return smallest_memory(build_tables(chain, spec), spec, cells)
