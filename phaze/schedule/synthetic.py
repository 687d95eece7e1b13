"""Random scheduling problems for the tests and benchmarks: small DAGs with random resource classes,
durations and core counts (n_tc, n_vc in 1..4 by default) so that the resource constraints bind."""

from __future__ import annotations

import numpy as np

from phaze.schedule.problem import Problem, make_problem
from phaze.schedule.units import NS_PER_S

# Class mix: NOP, TC, VC, TC+VC, link (modes.NOP..LINK); mostly compute ops, some link and NOPs.
CLASS_PROBS = (0.1, 0.3, 0.3, 0.2, 0.1)


def random_problem(rng: np.random.Generator, n_ops: int, n_candidates: int = 1, *, edge_prob: float = 0.25,
                   max_ns: int = 100, max_cores: int = 4, p_unavailable: float = 0.1,
                   p_zero: float = 0.05) -> Problem:
    """A random DAG (edge i -> j, i < j, with probability edge_prob) priced on random candidates.

    Durations are integers in [1, max_ns] ns (given in seconds, so `to_ns` is exercised); each mode is
    unavailable with probability p_unavailable and a single-core duration is 0 with probability p_zero.
    """
    cls = rng.choice(len(CLASS_PROBS), size=n_ops, p=CLASS_PROBS)
    edges = [(i, j) for j in range(n_ops) for i in range(j) if rng.random() < edge_prob]
    shape = (n_candidates, n_ops)
    single = rng.integers(1, max_ns + 1, size=shape).astype(np.float64) / NS_PER_S
    intra = rng.integers(1, max_ns + 1, size=shape).astype(np.float64) / NS_PER_S
    single[rng.random(shape) < p_unavailable] = np.inf
    intra[rng.random(shape) < p_unavailable] = np.inf
    single[rng.random(shape) < p_zero] = 0.0
    n_tc = rng.integers(1, max_cores + 1, size=n_candidates)
    n_vc = rng.integers(1, max_cores + 1, size=n_candidates)
    return make_problem(cls, edges, single, intra, n_tc, n_vc)
