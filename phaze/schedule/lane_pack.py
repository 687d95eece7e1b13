"""Shortest time k identical cores need for a set of single-core jobs (P||Cmax), for `phase_bound`.

Why exact: the phase bound asks whether a handful of single-core GEMMs can be dealt to the tensor cores so
evenly that running them side by side beats running each on the whole chip. That is a number-partitioning
question, and the classic lower bounds (total / k, the longest job, the k-th plus the (k+1)-th longest)
leave exactly the gap it has to close. A depth-first search over the jobs, longest first, settles it for
the few jobs one phase holds; above `MAX_EXACT_JOBS` jobs only the classic bounds are used (still a valid
lower bound, which is all the phase bound needs).
"""

from __future__ import annotations

from collections.abc import Sequence

# Largest job count searched exactly. A phase of a transformer block holds at most ~10 single-core GEMMs.
# Measured on random job times (1e8..4e8 ns, 2-4 cores): 12 jobs at most 1.2 ms, 14 jobs 11 ms; the search is
# exponential in the worst case, so beyond 12 the classic bounds are returned instead.
MAX_EXACT_JOBS = 12


def classic_lower_bound(jobs: Sequence[int], k: int) -> int:
    """max(ceil(total / k), longest, k-th + (k+1)-th longest): every schedule on k cores needs this long
    (with more than k jobs two of the k + 1 longest share a core)."""
    if not jobs:
        return 0
    p = sorted(jobs, reverse=True)
    out = max(p[0], -(-sum(p) // k))
    if len(p) > k:
        out = max(out, p[k - 1] + p[k])
    return out


def min_makespan(jobs: Sequence[int], k: int) -> int:
    """The optimal makespan of `jobs` (positive ints) on `k` identical cores; a lower bound of it (the
    classic one) when there are more than MAX_EXACT_JOBS jobs."""
    p = sorted(jobs, reverse=True)
    if len(p) <= k:
        return p[0] if p else 0
    low = classic_lower_bound(p, k)
    if len(p) > MAX_EXACT_JOBS:
        return low
    best = _lpt(p, k)
    loads = [0] * k

    def place(i: int) -> bool:
        """Search assignments of p[i:]; True once `best` reaches `low` (nothing shorter exists)."""
        nonlocal best
        if i == len(p):
            best = max(loads)
            return best == low
        tried: set[int] = set()
        for c in range(k):
            if loads[c] in tried or loads[c] + p[i] >= best:
                continue  # equal loads are symmetric; a core this full cannot beat the best
            tried.add(loads[c])
            loads[c] += p[i]
            done = place(i + 1)
            loads[c] -= p[i]
            if done:
                return True
        return False

    if best > low:
        place(0)
    return best


def _lpt(p: list[int], k: int) -> int:
    """Longest-processing-time-first makespan of p (sorted descending): the search's first incumbent."""
    loads = [0] * k
    for x in p:
        loads[loads.index(min(loads))] += x
    return max(loads)
