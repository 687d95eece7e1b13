"""The Gaussian-process surrogate of the Spotlight baseline: Matérn-5/2 ARD kernel, marginal-likelihood fit and
a stable log expected improvement (DESIGN §8; the search loop is in `spotlight_loop.py`).

Kernel: Rasmussen & Williams 2006, eq. 4.17, on features normalised to [0, 1]. Fit: the log marginal
likelihood (R&W eq. 5.8) and its analytic gradient (eq. 5.9) by L-BFGS-B. Acquisition: log-EI computed
stably in the tails (Ament et al., NeurIPS 2023), so EI never underflows to a flat zero.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_solve, lapack
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr

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
EI_TAIL_Z = -1.0  # below this z, log h(z) uses the Mills ratio (erfcx) to avoid cancellation
EI_ASYMPTOTIC_Z = -100.0  # below this z, h(z)/φ(z) = 1/z² − 3/z⁴ + 15/z⁶ (relative error < 1e-10)


def normalise(features: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"features must be a finite (C, k) array with C >= 1, got shape {x.shape}")
    lo, span = x.min(axis=0), np.ptp(x, axis=0)
    return (x - lo) / np.where(span > 0, span, 1.0)


def sqdist(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0)


def matern(d2: NDArray[np.float64]) -> NDArray[np.float64]:
    r = np.sqrt(d2)
    return (1.0 + SQRT5 * r + (5.0 / 3.0) * d2) * np.exp(-SQRT5 * r)


def nll(theta: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, NDArray]:
    """Negative log marginal likelihood and its gradient in θ = (log ℓ_1..ℓ_k, log σ_f², log σ_n²)."""
    k = x.shape[1]
    ell, sf2, sn2 = np.exp(theta[:k]), np.exp(theta[k]), np.exp(theta[k + 1])
    xs = x / ell
    d2 = sqdist(xs, xs)
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


def fit(x: NDArray[np.float64], y: NDArray[np.float64], previous: NDArray | None) -> NDArray[np.float64]:
    k = x.shape[1]
    bounds = np.log([LENGTHSCALE_BOUNDS] * k + [SIGNAL_VAR_BOUNDS, NOISE_VAR_BOUNDS])
    default = np.log([DEFAULT_LENGTHSCALE] * k + [DEFAULT_SIGNAL_VAR, DEFAULT_NOISE_VAR])
    best: tuple[float, NDArray[np.float64]] = (np.inf, default)
    for start in [default] if previous is None else [previous, default]:
        res = minimize(nll, start, args=(x, y), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": LBFGS_MAXITER})
        if res.fun < best[0]:
            best = (float(res.fun), np.asarray(res.x, dtype=np.float64))
    return best[1]


def log_h(z: NDArray[np.float64]) -> NDArray[np.float64]:
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
