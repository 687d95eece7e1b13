"""The Spotlight baseline: the accelerator searched alone by Bayesian optimisation (DESIGN §8).

Spotlight (Sakhuja et al., HPCA 2023) co-optimises an accelerator's hardware with Bayesian optimisation,
blind to the distributed placement. No Spotlight code or design is public, so this module RE-IMPLEMENTS ITS
METHODOLOGY, not its code: a Gaussian-process surrogate (Matérn-5/2 ARD kernel on features normalised to
[0, 1]; Rasmussen & Williams 2006, eq. 4.17) with expected improvement (Jones et al. 1998) over a DISCRETE
candidate set, minimising one expensive per-design objective that is evaluated only where the optimiser asks.

Here: the entry points (`spotlight_search`, `spotlight_oracle`). The GP-EI loop and its choices are in
spotlight_loop.py, the surrogate in gp.py; callers need only this module.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import numpy as np
from numpy.typing import NDArray

from phaze.search.spotlight_loop import Objective, SpotlightResult, gp_ei_loop

try:  # installed with mlflow's scikit-learn; optional here
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None  # type: ignore[assignment]


def spotlight_oracle(objective_values: NDArray[np.float64]) -> tuple[int, float]:
    """Exhaustive argmin of the same objective (`spotlight_oracle`, DESIGN §8); ties -> lowest index,
    non-finite values count as +inf (infeasible)."""
    v = np.asarray(objective_values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("spotlight_oracle needs at least one candidate")
    v = np.where(np.isfinite(v), v, np.inf)
    i = int(np.argmin(v))
    return i, float(v[i])


def _one_blas_thread() -> AbstractContextManager[object]:
    """The GP's linear algebra is on ~200 x 200 matrices: a multi-threaded BLAS only adds synchronisation,
    and on 2 busy cores it made a 4 s run take 100 s. Results do not depend on the thread count."""
    return nullcontext() if threadpool_limits is None else threadpool_limits(limits=1, user_api="blas")


def spotlight_search(features: NDArray[np.float64], objective: Objective, evaluations: int = 200,
                     seed: int = 0, initial: int = 10) -> SpotlightResult:
    """Minimise `objective` over the C candidates with GP-EI; `features` (C, k): the design parameters
    (the caller passes log2 of n_tc, n_vc, W, D, W_vc, glb); `objective` maps candidate indices to
    values (+inf = infeasible) or is a (C,) array. Same inputs and seed -> the same result bit for bit.
    Memory: min(evaluations, C)·C·8 bytes of whitened covariances (185 MB for 200 x 115,894)."""
    with _one_blas_thread():
        return gp_ei_loop(features, objective, evaluations, seed, initial)
