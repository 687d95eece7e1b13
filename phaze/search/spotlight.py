"""The Spotlight baseline: the accelerator searched alone by Bayesian optimisation (DESIGN §8).

Spotlight (Sakhuja et al., HPCA 2023) co-optimises an accelerator's hardware with Bayesian optimisation,
blind to the distributed placement. No Spotlight code or design is public, so this module RE-IMPLEMENTS ITS
METHODOLOGY, not its code: a Gaussian-process surrogate (Matérn-5/2 ARD kernel on features normalised to
[0, 1]; Rasmussen & Williams 2006, eq. 4.17) with expected improvement (Jones et al. 1998) over a DISCRETE
candidate set, minimising one expensive per-design objective that is evaluated only where the optimiser asks.

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
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_solve, lapack, solve_triangular
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr

from phaze.config.errors import ConfigError

try:  # installed with mlflow's scikit-learn; optional here
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None  # type: ignore[assignment]

Objective = Callable[[NDArray[np.int64]], NDArray[np.float64]] | NDArray[np.float64]

SQRT5 = np.sqrt(5.0)  # Matérn-5/2: k(r) = σ²(1 + √5r + 5r²/3)·exp(−√5r) (R&W 2006 eq. 4.17)
JITTER = 1e-8  # added to the kernel diagonal (standardised units) so the Cholesky never fails
# Log-space bounds of the hyper-parameters; features are in [0, 1] and targets standardised.
LENGTHSCALE_BOUNDS = (1e-2, 1e1)
SIGNAL_VAR_BOUNDS = (5e-2, 2e1)
NOISE_VAR_BOUNDS = (1e-6, 1e-1)
DEFAULT_LENGTHSCALE = 0.3  # a default start: about a third of each normalised axis
DEFAULT_SIGNAL_VAR = 1.0
DEFAULT_NOISE_VAR = 1e-3
LBFGS_MAXITER = 50
FAILED_NLL = 1e25  # the likelihood's value where K is not positive definite: L-BFGS-B backs off
REFIT_EVERY = 10  # evaluations between hyper-parameter fits (every step while n <= REFIT_ALWAYS_BELOW)
REFIT_ALWAYS_BELOW = 20
VAR_FLOOR = 1e-12  # relative floor of the predictive variance (rounding can make it negative)
EI_TAIL_Z = -1.0  # below this z, log h(z) uses the Mills ratio (erfcx) to avoid cancellation
EI_ASYMPTOTIC_Z = -100.0  # below this z, h(z)/φ(z) = 1/z² − 3/z⁴ + 15/z⁶ (relative error < 1e-10)


@dataclass(frozen=True)
class SpotlightResult:
    """Best design found, and the whole run: evaluated indices and values (+inf = infeasible) in order."""

    best_index: int
    best_value: float
    indices: NDArray[np.int64]
    values: NDArray[np.float64]
    best_so_far: NDArray[np.float64]


def spotlight_oracle(objective_values: NDArray[np.float64]) -> tuple[int, float]:
    """Exhaustive argmin of the same objective (`spotlight_oracle`, DESIGN §8); ties -> lowest index,
    non-finite values count as +inf (infeasible)."""
    v = np.asarray(objective_values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("spotlight_oracle needs at least one candidate")
    v = np.where(np.isfinite(v), v, np.inf)
    i = int(np.argmin(v))
    return i, float(v[i])


def _normalise(features: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"features must be a finite (C, k) array with C >= 1, got shape {x.shape}")
    lo, span = x.min(axis=0), np.ptp(x, axis=0)
    return (x - lo) / np.where(span > 0, span, 1.0)


def _sqdist(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0)


def _matern(d2: NDArray[np.float64]) -> NDArray[np.float64]:
    r = np.sqrt(d2)
    return (1.0 + SQRT5 * r + (5.0 / 3.0) * d2) * np.exp(-SQRT5 * r)


def _nll(theta: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, NDArray]:
    """Negative log marginal likelihood and its gradient in θ = (log ℓ_1..ℓ_k, log σ_f², log σ_n²)."""
    k = x.shape[1]
    ell, sf2, sn2 = np.exp(theta[:k]), np.exp(theta[k]), np.exp(theta[k + 1])
    xs = x / ell
    d2 = _sqdist(xs, xs)
    r = np.sqrt(d2)
    e = np.exp(-SQRT5 * r)
    kf = sf2 * (1.0 + SQRT5 * r + (5.0 / 3.0) * d2) * e
    n = len(y)
    kmat = kf + (sn2 + JITTER) * np.eye(n)
    try:
        chol = np.linalg.cholesky(kmat)
    except np.linalg.LinAlgError:
        return FAILED_NLL, np.zeros_like(theta)
    alpha = cho_solve((chol, True), y)
    nll = 0.5 * y @ alpha + np.log(np.diag(chol)).sum() + 0.5 * n * np.log(2.0 * np.pi)
    kinv_lower, info = lapack.dpotri(chol, lower=1)  # K⁻¹ from the factor: far cheaper than solving for I
    if info != 0:
        return FAILED_NLL, np.zeros_like(theta)
    kinv = np.tril(kinv_lower) + np.tril(kinv_lower, -1).T
    w = np.outer(alpha, alpha) - kinv
    a = w * (sf2 * (5.0 / 3.0) * (1.0 + SQRT5 * r) * e)  # dk/dlog ℓ_d = that · Δ_d²/ℓ_d²
    grad_ell = 2.0 * (a.sum(1) @ (xs * xs)) - 2.0 * np.sum(xs * (a @ xs), axis=0)
    grad = np.concatenate([grad_ell, [np.sum(w * kf), sn2 * np.trace(w)]])
    return float(nll), -0.5 * grad


def _fit(x: NDArray[np.float64], y: NDArray[np.float64], previous: NDArray | None) -> NDArray[np.float64]:
    k = x.shape[1]
    bounds = np.log([LENGTHSCALE_BOUNDS] * k + [SIGNAL_VAR_BOUNDS, NOISE_VAR_BOUNDS])
    default = np.log([DEFAULT_LENGTHSCALE] * k + [DEFAULT_SIGNAL_VAR, DEFAULT_NOISE_VAR])
    best: tuple[float, NDArray[np.float64]] = (np.inf, default)
    for start in [default] if previous is None else [previous, default]:
        res = minimize(_nll, start, args=(x, y), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": LBFGS_MAXITER})
        if res.fun < best[0]:
            best = (float(res.fun), np.asarray(res.x, dtype=np.float64))
    return best[1]


def _log_h(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """log(φ(z) + z·Φ(z)), so that log EI = log σ + log_h((f* − μ)/σ); stable for every z."""
    out = np.empty_like(z)
    hi, mid, lo = z > EI_TAIL_Z, (z <= EI_TAIL_Z) & (z > EI_ASYMPTOTIC_Z), z <= EI_ASYMPTOTIC_Z
    zh = z[hi]
    out[hi] = np.log(np.exp(-0.5 * zh * zh) / np.sqrt(2 * np.pi) + zh * np.exp(log_ndtr(zh)))
    log_phi = -0.5 * z * z - 0.5 * np.log(2.0 * np.pi)
    zm = -z[mid]  # 1 + z·Φ(z)/φ(z) with the Mills ratio Φ(−a)/φ(a) = √(π/2)·erfcx(a/√2)
    out[mid] = log_phi[mid] + np.log1p(-zm * np.sqrt(np.pi / 2.0) * erfcx(zm / np.sqrt(2.0)))
    zi2 = 1.0 / (z[lo] * z[lo])
    out[lo] = log_phi[lo] + np.log(zi2 * (1.0 - 3.0 * zi2 + 15.0 * zi2 * zi2))
    return out


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


def _one_blas_thread() -> AbstractContextManager[object]:
    """The GP's linear algebra is on ~200 x 200 matrices: a multi-threaded BLAS only adds synchronisation,
    and on 2 busy cores it made a 4 s run take 100 s. Results do not depend on the thread count."""
    return nullcontext() if threadpool_limits is None else threadpool_limits(limits=1, user_api="blas")


def spotlight_search(features: NDArray[np.float64], objective: Objective, evaluations: int = 200,
                     seed: int = 0, initial: int = 10) -> SpotlightResult:
    """Minimise `objective` over the C candidates with GP-EI; `features` (C, k): the design parameters
    (the caller passes log2 of n_tc, n_vc, W, D, W_vc, glb); `objective` maps candidate indices to
    values (+inf = infeasible) or is a (C,) array. Same inputs and seed -> the same result bit for bit.
    Memory: min(evaluations, C)·C·8 bytes of whitened covariances (47 MB for 200 x 29,360)."""
    with _one_blas_thread():
        return _search(features, objective, evaluations, seed, initial)


def _search(features: NDArray[np.float64], objective: Objective, evaluations: int, seed: int,
            initial: int) -> SpotlightResult:
    xc = _normalise(features)
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
                theta = _fit(xc[idx[:n]], y, theta)
                fitted_n = grown = n
                xs_all = xc / np.exp(theta[:k])
                sf2, sn2 = np.exp(theta[k]), np.exp(theta[k + 1])
                xs_n = xs_all[idx[:n]]
                kmat = sf2 * _matern(_sqdist(xs_n, xs_n)) + (sn2 + JITTER) * np.eye(n)
                chol[:n, :n] = np.linalg.cholesky(kmat)
                whit[:n] = solve_triangular(chol[:n, :n], sf2 * _matern(_sqdist(xs_n, xs_all)), lower=True)
                var_sum = np.einsum("ij,ij->j", whit[:n], whit[:n])
            mu = solve_triangular(chol[:n, :n], y, lower=True) @ whit[:n]
            sd = np.sqrt(np.maximum(sf2 - var_sum, VAR_FLOOR * sf2))
            acq = np.log(sd) + _log_h((y_best - mu) / sd)
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
            whit[grown] = (sf2 * _matern(_sqdist(xs_all[nxt:nxt + 1], xs_all))[0] - row @ whit[:grown]) / diag
            var_sum += whit[grown] * whit[grown]
            grown = n
    order = np.lexsort((idx, vals))
    best_so_far = np.minimum.accumulate(vals)
    return SpotlightResult(int(idx[order[0]]), float(vals[order[0]]), idx, vals, best_so_far)
