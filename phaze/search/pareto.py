"""The throughput-area Pareto front of the searched candidates (DESIGN §1, §8).

A candidate is on the front when no other candidate has at least its throughput at no more area with one
of the two strictly better. Exact ties (same throughput and same area) keep only the lowest index, so the
front is a set of distinct points and a deterministic function of the inputs. Candidates without a finite,
positive throughput (infeasible) or without a finite area are never on it.

Algorithm: the classic two-objective sweep (Kung, Luccio & Preparata, JACM 1975): sort by (area asc,
throughput desc, index asc) and keep each candidate whose throughput beats every one before it —
O(C log C) instead of the O(C²) pairwise test.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def pareto_front(throughput: ArrayLike, area: ArrayLike) -> NDArray[np.int64]:
    """Indices of the non-dominated candidates (higher throughput and lower area are better), ordered by
    increasing area (and so increasing throughput): ready to draw as a staircase."""
    thr = np.asarray(throughput, dtype=np.float64).reshape(-1)
    ar = np.asarray(area, dtype=np.float64).reshape(-1)
    if thr.shape != ar.shape:
        raise ValueError(f"throughput has {thr.size} entries but area has {ar.size}")
    valid = np.flatnonzero(np.isfinite(thr) & (thr > 0) & np.isfinite(ar))
    if valid.size == 0:
        return np.empty(0, dtype=np.int64)
    # lexsort: the last key is the primary one -> (area asc, throughput desc, index asc)
    order = valid[np.lexsort((valid, -thr[valid], ar[valid]))]
    t = thr[order]
    best_before = np.maximum.accumulate(np.concatenate(([-np.inf], t[:-1])))
    return order[t > best_before].astype(np.int64)
