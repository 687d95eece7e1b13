"""Critical-path list scheduling for ALL candidates of a space at once, with numpy (DESIGN §6).

Every candidate shares the op DAG; only durations and core counts differ, so the event loop of
`greedy_ref.greedy_instance` (whose docstring states the rule) runs on (candidates, ops) arrays: each
iteration, in every candidate, either starts its best startable op or advances time to its next
completion — about 2·n_ops iterations of a few array passes each. Candidates are processed in blocks
of `BLOCK_ROWS` so the working set stays in cache. `greedy_ref` is the plain-Python reference and the
tests require both to agree exactly.

The per-block event loop itself is in `greedy_block` (the kernel); this module is the driver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phaze.schedule.dag import best_durations, tails
from phaze.schedule.greedy_block import greedy_block_rows, greedy_graph
from phaze.schedule.problem import Problem, effective_modes
from phaze.schedule.units import INFEASIBLE_NS, UNAVAILABLE

# Candidates per block: 4k rows x ~20-40 ops keeps each (rows, ops) int64 array near 1 MB (cache-resident);
# measured ~3x faster than one block of 29,360 rows, and 4% faster than 2k rows on the 45k distinct rows
# of llama2_7b's backward pass (benchmarks/schedule.py), on the reference machine.
BLOCK_ROWS = 4096


@dataclass(frozen=True)
class GreedyResult:
    """Greedy schedules of all candidates; infeasible candidates: makespan INFEASIBLE_NS, starts -1."""

    makespan_ns: np.ndarray  # (C,) int64
    starts_ns: np.ndarray  # (C, n) int64
    modes: np.ndarray  # (C, n) int8: MODE_SINGLE / MODE_INTRA


def _priority_rank(tail: np.ndarray) -> np.ndarray:
    """(C, n) int32 rank: higher = scheduled first; longest tail first, ties to the lower index."""
    c, n = tail.shape
    neg_idx = np.broadcast_to(-np.arange(n), (c, n))
    order = np.lexsort((neg_idx, tail), axis=1)
    rank = np.empty((c, n), dtype=np.int32)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n, dtype=np.int32), (c, n)), axis=1)
    return rank


def _run(problem: Problem, single: np.ndarray, intra: np.ndarray, rank: np.ndarray, block_rows: int,
         spread: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n, n_cand = problem.n_ops, single.shape[0]
    g = greedy_graph(problem)
    starts = np.empty((n_cand, n), dtype=np.int64)
    modes = np.empty((n_cand, n), dtype=np.int8)
    makespan = np.empty(n_cand, dtype=np.int64)
    forks = np.empty(n_cand, dtype=bool)
    for a in range(0, n_cand, block_rows):
        b = min(a + block_rows, n_cand)
        s, m, f = greedy_block_rows(g, single[a:b], intra[a:b], rank[a:b], problem.n_tc[a:b], problem.n_vc[a:b],
                                    spread)
        ends = s + np.where(m == 1, intra[a:b], single[a:b])
        starts[a:b], modes[a:b], makespan[a:b], forks[a:b] = s, m, ends.max(axis=1, initial=0), f
    return starts, modes, makespan, forks


def greedy_policy(problem: Problem, spread: bool,
                  block_rows: int = BLOCK_ROWS) -> tuple[GreedyResult, np.ndarray]:
    """One policy's greedy schedules of every candidate, and (plain policy) the rows where the spread
    policy would fork from them (`greedy_block_rows`'s `forks`; all False for the spread policy)."""
    feasible = problem.feasible
    single, intra = effective_modes(problem.single_ns, problem.intra_ns)
    single[~feasible] = 0  # infeasible rows: run trivially, then blank out
    intra[~feasible] = UNAVAILABLE
    rank = _priority_rank(tails(problem, best_durations(single, intra)))
    starts, modes, makespan, forks = _run(problem, single, intra, rank, block_rows, spread)
    makespan[~feasible] = INFEASIBLE_NS
    starts[~feasible] = -1
    return GreedyResult(makespan_ns=makespan, starts_ns=starts, modes=modes), forks & feasible


def merge_better(into: GreedyResult, rows: np.ndarray, other: GreedyResult) -> np.ndarray:
    """Replace `into`'s schedules at `rows` by `other`'s (one row per listed row) where strictly shorter;
    returns the replaced rows. Ties keep `into`'s: the first policy wins them."""
    better = other.makespan_ns < into.makespan_ns[rows]
    r = rows[better]
    into.starts_ns[r], into.modes[r], into.makespan_ns[r] = (other.starts_ns[better], other.modes[better],
                                                             other.makespan_ns[better])
    return r


def greedy_space(problem: Problem, block_rows: int = BLOCK_ROWS,
                 policies: tuple[bool, ...] = (False, True)) -> GreedyResult:
    """Greedy schedules of every candidate, row by row identical to `greedy_ref.greedy_best` (or, with
    one policy, to `greedy_ref.greedy_instance(spread=policy)`); the first policy wins ties.

    After a plain-policy run, the spread policy runs only on the rows where it would fork from it:
    elsewhere it builds the same schedule, which could not win a tie.
    """
    out, forks = greedy_policy(problem, policies[0], block_rows)
    for spread in policies[1:]:
        rows = np.flatnonzero(forks) if spread and not policies[0] else np.arange(problem.n_candidates)
        merge_better(out, rows, greedy_policy(problem.take(rows), spread, block_rows)[0])
    return out
