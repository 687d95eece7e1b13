"""GEMM latency on weight-stationary systolic arrays, vectorised over designs (DESIGN §5).

All arguments broadcast (numpy), so one call prices many ops on many tensor-core configs. Dims follow
phaze.model.ops.Op: B independent `N x C @ C x M` products, MACs = B·N·M·C.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Hong & Kung (1981) I/O lower bound of a matmul with an S-word fast memory is Ω(MACs/sqrt(S)); the
# constant 2 (words moved per MAC·sqrt(S)) is the tight form of Smith et al. 2019, "A Tight I/O Lower
# Bound for Matrix Multiplication". Optimistic: it assumes the best tiling of the global buffer.
IO_BOUND_WORDS_PER_MAC_SQRT_S = 2.0


def ceil_div(a: ArrayLike, b: ArrayLike) -> NDArray[np.int64]:
    return -(-np.asarray(a, dtype=np.int64) // np.asarray(b, dtype=np.int64))


def gemm_tiles(m: ArrayLike, c: ArrayLike, width: ArrayLike, depth: ArrayLike) -> NDArray[np.int64]:
    """Weight tiles of one product: ceil(C/W)·ceil(M/D) (C rides the W rows, M the D columns)."""
    return ceil_div(c, width) * ceil_div(m, depth)


def gemm_compute_cycles(b: ArrayLike, n: ArrayLike, m: ArrayLike, c: ArrayLike, n_cores: ArrayLike,
                        width: ArrayLike, depth: ArrayLike) -> NDArray[np.int64]:
    """`ceil(B·tiles / n)·max(N, W) + W + D` cycles (DESIGN §5).

    Each core takes whole tile passes; a pass streams N rows through a W x D array and lasts at least W
    cycles, because the next tile's weights load behind it (double-buffered) in W cycles. One pipeline
    fill and drain (W + D) per op.
    """
    w, d = np.asarray(width, dtype=np.int64), np.asarray(depth, dtype=np.int64)
    passes = ceil_div(np.asarray(b, dtype=np.int64) * gemm_tiles(m, c, w, d), n_cores)
    return passes * np.maximum(np.asarray(n, dtype=np.int64), w) + w + d


def gemm_wave_cycles(b: ArrayLike, n: ArrayLike, m: ArrayLike, c: ArrayLike, *, tile: tuple[int, int], slots: int,
                     macs_per_cycle: ArrayLike) -> NDArray[np.float64]:
    """Cycles of a GEMM run as GPU thread blocks: `ceil(tiles / slots)` waves of one output tile each.

    NVIDIA, "Matrix Multiplication Background User's Guide" (DU-09799-001) §3.1–3.2: the N x M output of
    each of the B products is cut into `tile` blocks (tile quantization), and the blocks run `slots` at a
    time, one per SM (wave quantization), so a last, partly filled wave costs as much as a full one. A
    block computes rows·cols·C MACs at the chip's rate divided by `slots`. The library picks the tile's
    orientation; the better of the two is taken.
    """
    b64, n64, m64 = (np.asarray(x, dtype=np.int64) for x in (b, n, m))
    rows, cols = tile
    blocks = b64 * np.minimum(ceil_div(n64, rows) * ceil_div(m64, cols), ceil_div(n64, cols) * ceil_div(m64, rows))
    waves = ceil_div(blocks, slots).astype(np.float64)
    # waves·rows·cols·C MACs per slot at macs_per_cycle/slots each, in one float order (reference.py's too)
    return waves * rows * cols * np.asarray(c, dtype=np.float64) * slots / np.asarray(macs_per_cycle, dtype=np.float64)


def gemm_hbm_bytes(macs: ArrayLike, compulsory_bytes: ArrayLike, glb_bytes: ArrayLike,
                   elem_bytes: int) -> NDArray[np.float64]:
    """Off-chip traffic `max(compulsory, 2·MACs·elem_bytes / sqrt(glb_bytes / elem_bytes))`: each operand
    and the output once, or the Hong & Kung (1981) / Smith et al. (2019) matmul I/O bound for a global
    buffer of `glb_bytes / elem_bytes` words, whichever is larger (DESIGN §5)."""
    words = np.asarray(glb_bytes, dtype=np.float64) / elem_bytes
    bound = IO_BOUND_WORDS_PER_MAC_SQRT_S * np.asarray(macs, dtype=np.float64) * elem_bytes / np.sqrt(words)
    return np.maximum(np.asarray(compulsory_bytes, dtype=np.float64), bound)


def gemm_glb_bytes(b: ArrayLike, n: ArrayLike, m: ArrayLike, c: ArrayLike, width: ArrayLike,
                   depth: ArrayLike, elem_bytes: int) -> NDArray[np.float64]:
    """Global buffer -> cores traffic: per tile pass `(W·D + N·W + 2·N·D)·elem_bytes` (the weight tile,
    N x W inputs, N x D partial sums in and out), times B·tiles passes (DESIGN §5)."""
    w, d = np.asarray(width, dtype=np.int64), np.asarray(depth, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    per_pass = ((w * d + n * w + 2 * n * d) * elem_bytes).astype(np.float64)
    return np.asarray(b, dtype=np.int64) * gemm_tiles(m, c, w, d) * per_pass


def gemm_seconds(b: ArrayLike, n: ArrayLike, m: ArrayLike, c: ArrayLike, compulsory_bytes: ArrayLike, *,
                 n_cores: ArrayLike, width: ArrayLike, depth: ArrayLike, glb_bytes: ArrayLike,
                 glb_bw_bytes_per_cycle: ArrayLike, hbm_bw_bytes_per_s: ArrayLike, freq_hz: float,
                 elem_bytes: int, tc_achievable_fraction: float = 1.0,
                 wave: tuple[tuple[int, int], int] | None = None) -> NDArray[np.float64]:
    """`max(t_compute / tc_achievable_fraction, t_hbm, t_glb)` in seconds, without the per-op overhead
    (DESIGN §5).

    Single-core mode is the same call with n_cores = 1 and that core's share of both bandwidths. The
    achievable fraction (1.0 for the template; a measured figure for real GPUs, hw config) stretches only
    the compute term: it is what a tuned library sustains on the arrays, not a memory effect. `wave`
    ((rows, cols), slots), for GPUs in all-cores mode, makes the compute term at least the thread-block
    wave time (`gemm_wave_cycles`); the measured fraction is a best-shape figure, so it applies on top.
    """
    b64, n64, m64, c64 = (np.asarray(x, dtype=np.int64) for x in (b, n, m, c))
    macs = b64 * n64 * m64 * c64
    cycles = gemm_compute_cycles(b64, n64, m64, c64, n_cores, width, depth).astype(np.float64)
    if wave is not None:
        rate = np.asarray(n_cores, dtype=np.int64) * np.asarray(width, dtype=np.int64) * np.asarray(depth)
        cycles = np.maximum(cycles, gemm_wave_cycles(b64, n64, m64, c64, tile=wave[0], slots=wave[1],
                                                     macs_per_cycle=rate))
    t_compute = cycles / freq_hz / tc_achievable_fraction
    t_hbm = gemm_hbm_bytes(macs, compulsory_bytes, glb_bytes, elem_bytes) / hbm_bw_bytes_per_s
    glb_bw = np.asarray(glb_bw_bytes_per_cycle, dtype=np.float64) * freq_hz
    t_glb = gemm_glb_bytes(b64, n64, m64, c64, width, depth, elem_bytes) / glb_bw
    return np.maximum(np.maximum(t_compute, t_hbm), t_glb)
