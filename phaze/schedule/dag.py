"""DAG helpers of the schedule bounds and heuristics: bottleneck segments, successor lists, best
durations and head/tail path lengths over (candidates, ops) arrays.

Separate from the bound arithmetic (`bound_basic`, `bound`) because they describe the graph, not a
bound: the vectorised greedy ranks ops by `tails`, the plain-Python reference bound reuses
`bottleneck_segments` and `succ_lists`, and none of them needs the bound itself. The segments are those
of the segmented bound in `bound`'s module docstring.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from phaze.schedule.problem import Problem
from phaze.schedule.reach import descendants

Edges = Sequence[tuple[int, int]]


def bottleneck_segments(n: int, edges: Edges) -> tuple[list[int], list[list[int]]]:
    """(bottleneck ops in order, segments S_0..S_k as sorted op lists) of a DAG with edges i < j."""
    desc = descendants(n, edges)  # bitsets
    anc = [0] * n
    for i in range(n):
        for j in range(n):
            if desc[j] >> i & 1:
                anc[i] |= 1 << j
    full = (1 << n) - 1
    necks = [i for i in range(n) if (desc[i] | anc[i] | (1 << i)) == full]
    segments: list[list[int]] = [[] for _ in range(len(necks) + 1)]
    neck_set = set(necks)
    for i in range(n):
        if i not in neck_set:
            segments[sum(1 for b in necks if anc[i] >> b & 1)].append(i)
    return necks, segments


def best_durations(single: np.ndarray, intra: np.ndarray) -> np.ndarray:
    """(C, n) min duration over the available modes; 0 where an op has none (infeasible rows)."""
    big = np.iinfo(np.int64).max
    best = np.minimum(np.where(single >= 0, single, big), np.where(intra >= 0, intra, big))
    return np.where(best == big, 0, best)


def succ_lists(n: int, edges: Edges, keep: set[int] | None = None) -> list[list[int]]:
    succ: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges:
        if keep is None or (i in keep and j in keep):
            succ[int(i)].append(int(j))
    return succ


def tails(problem: Problem, dur: np.ndarray) -> np.ndarray:
    """(C, n) longest path from each op to a sink, the op's own duration included (ops are topological)."""
    succ = succ_lists(problem.n_ops, [(int(i), int(j)) for i, j in problem.edges])
    out = dur.copy()
    for i in range(problem.n_ops - 1, -1, -1):
        if succ[i]:
            out[:, i] += out[:, succ[i]].max(axis=1)
    return out


def heads(problem: Problem, dur: np.ndarray) -> np.ndarray:
    """(C, n) longest path from a source to each op, the op's own duration excluded."""
    preds: list[list[int]] = [[] for _ in range(problem.n_ops)]
    for i, j in problem.edges:
        preds[int(j)].append(int(i))
    out = np.zeros_like(dur)
    for j in range(problem.n_ops):
        if preds[j]:
            out[:, j] = (out[:, preds[j]] + dur[:, preds[j]]).max(axis=1)
    return out
