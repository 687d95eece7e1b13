"""The Spotlight baseline's search loop: GP-EI minimisation over a discrete candidate set (DESIGN §8).

Separate from the entry points (spotlight.py), which wrap it in a one-thread BLAS limit, and from the
surrogate itself (gp.py): this is the loop's bookkeeping (targets, refit schedule, rank-one growth).

Choices, all deterministic for a given seed:
- targets are log-transformed when every feasible value is positive, then standardised; an infeasible
  design (+inf, NaN) is imputed with the worst feasible value seen, so the surrogate learns to avoid it;
- hyper-parameters (length-scales, signal and noise variance) maximise the log marginal likelihood
  (R&W eq. 5.8, analytic gradient eq. 5.9) by L-BFGS-B from two fixed starts (the previous fit and a
  default), refitted at every step up to `REFIT_ALWAYS_BELOW` evaluations and then every `REFIT_EVERY`;
  in between, the Cholesky factor and the whitened cross-covariances of all candidates grow by one
  row per step, so a step costs O(C·n);
- while nothing feasible has been seen, the next design is drawn at random from the same Generator;
- the acquisition is log-EI computed stably in the tails (Ament et al., NeurIPS 2023), so EI never
  underflows to a flat zero over thousands of candidates; argmax ties go to the lowest index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

from phaze.config.errors import ConfigError
from phaze.search.gp import JITTER, fit, log_h, matern, normalise, sqdist

Objective = Callable[[NDArray[np.int64]], NDArray[np.float64]] | NDArray[np.float64]

REFIT_EVERY = 10  # evaluations between hyper-parameter fits (every step while n <= REFIT_ALWAYS_BELOW)
REFIT_ALWAYS_BELOW = 20
VAR_FLOOR = 1e-12  # relative floor of the predictive variance (rounding can make it negative)


@dataclass(frozen=True)
class SpotlightResult:
    """Best design found, and the whole run: evaluated indices and values (+inf = infeasible) in order."""

    best_index: int
    best_value: float
    indices: NDArray[np.int64]
    values: NDArray[np.float64]
    best_so_far: NDArray[np.float64]


def _targets(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], float] | None:
    """Standardised (log-)targets with infeasible points imputed by the worst feasible one, and the
    best standardised target; None while nothing feasible has been seen."""
    ok = np.isfinite(values)
    if not ok.any():
        return None
    t = np.log(values[ok]) if values[ok].min() > 0 else values[ok]
    y = np.full(values.shape, t.max())
    y[ok] = t
    sd = y.std()
    y = (y - y.mean()) / (sd if sd > 0 else 1.0)
    return y, float(y[ok].min())


def _refit_due(m: int, fitted_n: int) -> bool:
    """Whether the step with m evaluations refits the hyper-parameters (fitted at fitted_n evaluations)."""
    return m <= REFIT_ALWAYS_BELOW or m - fitted_n >= REFIT_EVERY


def _call(objective: Objective, idx: NDArray[np.int64]) -> NDArray[np.float64]:
    v = objective[idx] if isinstance(objective, np.ndarray) else objective(idx)
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if v.shape != idx.shape:
        raise ValueError(f"objective returned {v.shape[0]} values for {idx.shape[0]} indices")
    return np.where(np.isfinite(v), v, np.inf)


def gp_ei_loop(features: NDArray[np.float64], objective: Objective, evaluations: int, seed: int,
            initial: int) -> SpotlightResult:
    xc = normalise(features)
    c = xc.shape[0]
    if isinstance(objective, np.ndarray) and objective.shape != (c,):
        raise ValueError(f"objective array has shape {objective.shape}, expected ({c},)")
    if int(evaluations) < 1:
        raise ConfigError("search.spotlight.evaluations", evaluations, "an integer >= 1")
    if int(initial) < 1:
        raise ConfigError("search.spotlight.initial", initial, "an integer >= 1")
    budget = min(int(evaluations), c)
    rng = np.random.default_rng(seed)
    idx = np.empty(budget, dtype=np.int64)
    vals = np.empty(budget, dtype=np.float64)
    n = min(int(initial), budget)
    idx[:n] = rng.choice(c, size=n, replace=False)
    vals[:n] = _call(objective, idx[:n])
    seen = np.zeros(c, dtype=bool)
    seen[idx[:n]] = True
    theta: NDArray[np.float64] | None = None
    chol = np.zeros((budget, budget))
    whit = np.zeros((budget, c))  # L⁻¹·K(X_evaluated, X_candidates), one row per evaluated point
    var_sum = np.zeros(c)
    fitted_n = grown = 0  # evaluations at the last fit; rows of chol/whit valid for the current fit

    while n < budget:
        tgt = _targets(vals[:n])
        if tgt is None:  # nothing feasible yet: the surrogate has nothing to learn, explore at random
            nxt = int(np.flatnonzero(~seen)[rng.integers(c - n)])
        else:
            y, y_best = tgt
            k = xc.shape[1]
            if theta is None or grown != n or _refit_due(n, fitted_n):
                theta = fit(xc[idx[:n]], y, theta)
                fitted_n = grown = n
                xs_all = xc / np.exp(theta[:k])
                sf2, sn2 = np.exp(theta[k]), np.exp(theta[k + 1])
                xs_n = xs_all[idx[:n]]
                kmat = sf2 * matern(sqdist(xs_n, xs_n)) + (sn2 + JITTER) * np.eye(n)
                chol[:n, :n] = np.linalg.cholesky(kmat)
                whit[:n] = solve_triangular(chol[:n, :n], sf2 * matern(sqdist(xs_n, xs_all)), lower=True)
                var_sum = np.einsum("ij,ij->j", whit[:n], whit[:n])
            mu = solve_triangular(chol[:n, :n], y, lower=True) @ whit[:n]
            sd = np.sqrt(np.maximum(sf2 - var_sum, VAR_FLOOR * sf2))
            acq = np.log(sd) + log_h((y_best - mu) / sd)
            acq[seen] = -np.inf
            nxt = int(np.argmax(acq))
        idx[n] = nxt
        vals[n] = _call(objective, idx[n:n + 1])[0]
        seen[nxt] = True
        n += 1
        if grown == n - 1 and n < budget and not _refit_due(n, fitted_n):
            # the next step keeps the hyper-parameters: grow the Cholesky factor and the whitened
            # cross-covariances by the new point's row instead of refactorising (O(C·n) per step)
            row = whit[:grown, nxt].copy()
            diag = np.sqrt(max(sf2 + sn2 + JITTER - row @ row, JITTER))
            chol[grown, :grown], chol[grown, grown] = row, diag
            whit[grown] = (sf2 * matern(sqdist(xs_all[nxt:nxt + 1], xs_all))[0] - row @ whit[:grown]) / diag
            var_sum += whit[grown] * whit[grown]
            grown = n
    order = np.lexsort((idx, vals))
    best_so_far = np.minimum.accumulate(vals)
    return SpotlightResult(int(idx[order[0]]), float(vals[order[0]]), idx, vals, best_so_far)
