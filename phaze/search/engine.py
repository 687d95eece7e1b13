"""The co-search: every candidate x every setting, exhaustively, with exact pruning (DESIGN §8).

1. Stage A (space_times): price and schedule every layer pass on all candidates (greedy + bound).
2. Plan: an optimistic TPB per (candidate, setting) pair from the bounds (bounds.py); pairs in
   descending optimistic throughput (ties: area ascending, index ascending), cut into chunks.
3. Chunks in order. The incumbent (best achieved throughput) is updated only between chunks, so
   nothing depends on worker timing. A pair whose optimistic throughput is strictly below the incumbent
   is pruned; otherwise the placement DP runs on greedy loads (achievable) and, unless greedy is proven
   optimal, on bound loads (optimistic, exact placement); if that can still beat the incumbent, the
   solver refines the candidate's schedules and the DP runs once more.
Pairs carry their global chunk number, so a shard (a subset of candidates) prunes only what the whole
job would prune, and merging shards replays the single job exactly (merge.py).

Here: step 3, the loop over chunks and its incumbent. Step 2 is plan.py; evaluating and deciding one
pair is pair.py (what a worker runs, and what merge.py replays).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from phaze.search.pair import PairResult
from phaze.search.plan import Plan


def incumbent_of(results: list[PairResult]) -> float:
    """The best score (`search.objective`) among decided pairs."""
    return max((r.score for r in results), default=0.0)


ChunkRunner = Callable[[NDArray[np.int64], float], list[PairResult]]


def run_chunks(plan: Plan, member: NDArray[np.bool_], run_chunk: ChunkRunner,
               done: dict[int, list[PairResult]], on_chunk: Callable[[int, list[PairResult], float], None]
               ) -> dict[int, list[PairResult]]:
    """Evaluate every chunk not in `done` (restored from the cache), incumbent updated between chunks."""
    incumbent = 0.0
    for k, positions in plan.chunks():
        mine = positions[member[plan.candidate[positions]]]
        if k not in done:
            done[k] = run_chunk(mine, incumbent) if mine.size else []
            on_chunk(k, done[k], incumbent)
        incumbent = max(incumbent, incumbent_of(done[k]))
    return done
