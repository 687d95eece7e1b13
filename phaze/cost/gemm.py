"""GEMM latency on weight-stationary systolic arrays with accumulators, vectorised over designs (DESIGN §5).

All arguments broadcast (numpy), so one call prices many ops on many tensor-core configs. Dims follow
phaze.model.ops.Op: B independent `N x C @ C x M` products, MACs = B·N·M·C. Three resources bound a GEMM:

- compute: the arrays. Each tensor core keeps the fp32 partial sums of one output block (`block_rows` rows
  x D columns) in its accumulator until the block's whole C reduction is done, so the unit of work a core
  takes is one output block: ceil(C/W) weight-tile passes of max(rows, W) cycles each.
- the global buffer (GLB): weights are re-streamed once per row block, inputs once per column tile, and
  each output crosses the buffer once, after its reduction (`gemm_glb_bytes`), at the banks' bandwidth.
- HBM: the traffic of the best of a small family of double-buffered global-buffer tilings
  (`gemm_hbm_bytes`); the Hong & Kung I/O lower bound (`gemm_io_bound_bytes`) stays as the test oracle.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phaze.hardware.design import ACC_ELEM_BYTES

# Hong & Kung (1981) I/O lower bound of a matmul with an S-word fast memory is Ω(MACs/sqrt(S)); the
# constant 2 (words moved per MAC·sqrt(S)) is the tight form of Smith et al. 2019, "A Tight I/O Lower
# Bound for Matrix Multiplication". Used as an oracle: no achievable tiling moves less.
IO_BOUND_WORDS_PER_MAC_SQRT_S = 2.0
# The smallest useful HBM transfer: one access of a JEDEC HBM2 pseudo channel (64 bits x burst length 4 =
# 32 B, JESD235B). A streamed tile is at least this wide, so DMA descriptors never move less.
HBM_ACCESS_BYTES = 32
# A double-buffered tiling keeps two copies of each tile (one in use, one loading): working set x 2 <= buffer.
TILE_BUFFERS = 2
# Reduction splits tried by the tiling: C is cut into K = 1, 2, 4, ... chunks (partial sums spill in fp32).
MAX_CHUNK_EXPONENT = 20


def ceil_div(a: ArrayLike, b: ArrayLike) -> NDArray[np.int64]:
    return -(-np.asarray(a, dtype=np.int64) // np.asarray(b, dtype=np.int64))


def row_blocks(n: ArrayLike, block_rows: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(number of row blocks, rows per block): N rows cut into ceil(N/R) balanced blocks of at most R rows."""
    blocks = ceil_div(n, block_rows)
    return blocks, ceil_div(n, blocks)


def gemm_compute_cycles(b: ArrayLike, n: ArrayLike, m: ArrayLike, c: ArrayLike, n_cores: ArrayLike,
                        width: ArrayLike, depth: ArrayLike, block_rows: ArrayLike) -> NDArray[np.int64]:
    """`ceil(B·ceil(N/R)·ceil(M/D) / n)·ceil(C/W)·max(r, W) + W + D` cycles (DESIGN §5).

    The work is B·ceil(N/R)·ceil(M/D) output blocks of r = ceil(N / ceil(N/R)) rows x D columns; a core
    takes whole blocks, because a block's partial sums live in that core's accumulator. A block is ceil(C/W)
    tile passes; a pass streams r rows through the W x D array and lasts at least W cycles, the time the next
    tile's weights take to load behind it (double-buffered). One pipeline fill and drain (W + D) per op.
    """
    w, d = np.asarray(width, dtype=np.int64), np.asarray(depth, dtype=np.int64)
    blocks, rows = row_blocks(n, block_rows)
    units = np.asarray(b, dtype=np.int64) * blocks * ceil_div(m, d)
    return ceil_div(units, n_cores) * ceil_div(c, w) * np.maximum(rows, w) + w + d


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


def gemm_glb_bytes(b: ArrayLike, n: ArrayLike, m: ArrayLike, c: ArrayLike, block_rows: ArrayLike,
                   block_cols: ArrayLike, elem_bytes: int) -> NDArray[np.float64]:
    """Global buffer <-> cores traffic `B·(ceil(N/R)·C·M + ceil(M/Dc)·N·C + N·M)·elem_bytes` (DESIGN §5).

    An output block of R rows x Dc columns stays in a core's accumulator for its whole reduction, so the
    weights (C x M) are streamed once per row block, the inputs (N x C) once per column block, and each
    output is written once. For a systolic core the block is (accumulator rows, D); for a GPU it is the
    thread-block tile held in registers (`hw.gemm_wave_tile`).
    """
    b64, n64, m64, c64 = (np.asarray(x, dtype=np.int64) for x in (b, n, m, c))
    blocks = ceil_div(n64, block_rows)
    words = blocks * c64 * m64 + ceil_div(m64, block_cols) * n64 * c64 + n64 * m64
    return (b64 * words * elem_bytes).astype(np.float64)


def _largest_tile(dim: NDArray[np.int64], bound: NDArray[np.float64]) -> NDArray[np.int64]:
    """Largest tile <= bound among the powers of two below `dim` and `dim` itself; 0 when even 1 does not fit."""
    safe = np.maximum(bound, 1.0)
    pow2 = np.left_shift(np.int64(1), np.floor(np.log2(safe)).astype(np.int64))
    tile = np.where(dim <= bound, dim, np.minimum(pow2, dim))
    return np.where(bound >= 1.0, tile, 0)


def gemm_hbm_bytes(b: ArrayLike, n: ArrayLike, m: ArrayLike, c: ArrayLike, capacity_bytes: ArrayLike,
                   elem_bytes: int) -> NDArray[np.float64]:
    """HBM traffic of the best double-buffered global-buffer tiling of B products N x C @ C x M (DESIGN §5).

    The family, for a buffer of S = capacity / elem_bytes words, C cut into K chunks of Ck = ceil(C/K):
    - input-stationary: an input panel Tn x Ck stays while the weights stream past in columns of
      t = HBM_ACCESS_BYTES / elem_bytes: inputs read once, weights ceil(N/Tn) times;
      2·(Tn·Ck + Ck·t) <= S.
    - weight-stationary: a weight panel Ck x Tm stays while the input rows stream past: weights read once,
      inputs ceil(M/Tm) times; 2·(Ck·Tm + t·Ck) <= S.
    Tiles are powers of two or the whole dimension (the largest that fits is the best: traffic falls as a
    tile grows). Outputs are written once; with K > 1 chunks each output also spills K - 1 fp32 partial sums
    to HBM and reads them back. The last member has no reuse: every MAC fetches both operands. The result is never
    below `gemm_io_bound_bytes` (a lower bound for any schedule) and equals the compulsory traffic
    (each operand and the output once) when two copies of an input panel and a weight column fit.
    """
    b64, n64, m64, c64 = (np.asarray(x, dtype=np.int64)[..., None] for x in (b, n, m, c))
    words = np.asarray(capacity_bytes, dtype=np.float64)[..., None] / elem_bytes
    stream = HBM_ACCESS_BYTES // elem_bytes
    k = np.left_shift(np.int64(1), np.arange(MAX_CHUNK_EXPONENT + 1, dtype=np.int64))
    ck = ceil_div(c64, k)
    chunks = ceil_div(c64, ck)  # distinct K only matter through Ck; repeated ones give the same traffic
    tn = _largest_tile(n64, words / TILE_BUFFERS / ck - np.minimum(m64, stream))
    tm = _largest_tile(m64, words / TILE_BUFFERS / ck - np.minimum(n64, stream))
    nc, cm, nm = (n64 * c64).astype(np.float64), (c64 * m64).astype(np.float64), (n64 * m64).astype(np.float64)
    inf = np.inf
    input_stationary = np.where(tn > 0, nc + cm * ceil_div(n64, np.maximum(tn, 1)), inf)
    weight_stationary = np.where(tm > 0, cm + nc * ceil_div(m64, np.maximum(tm, 1)), inf)
    operands = np.minimum(input_stationary, weight_stationary) * elem_bytes
    outputs = nm * (elem_bytes + (chunks - 1) * 2 * ACC_ELEM_BYTES)
    best = np.min(operands + outputs, axis=-1)
    no_reuse = (2 * nc[..., 0] * m64[..., 0] + nm[..., 0]) * elem_bytes
    best = np.minimum(best, no_reuse)
    return b64[..., 0].astype(np.float64) * best


def gemm_io_bound_bytes(macs: ArrayLike, capacity_bytes: ArrayLike, elem_bytes: int) -> NDArray[np.float64]:
    """`2·MACs·elem_bytes / sqrt(capacity / elem_bytes)`: the Hong & Kung / Smith et al. lower bound on the
    HBM traffic of any matmul schedule with that much fast memory (an oracle for `gemm_hbm_bytes`)."""
    words = np.asarray(capacity_bytes, dtype=np.float64) / elem_bytes
    return IO_BOUND_WORDS_PER_MAC_SQRT_S * np.asarray(macs, dtype=np.float64) * elem_bytes / np.sqrt(words)


def compulsory_bytes(b: ArrayLike, n: ArrayLike, m: ArrayLike, c: ArrayLike, elem_bytes: int) -> NDArray[np.int64]:
    """Each operand and the output of the B products once: B·(N·C + C·M + N·M)·elem_bytes."""
    b64, n64, m64, c64 = (np.asarray(x, dtype=np.int64) for x in (b, n, m, c))
    return b64 * (n64 * c64 + c64 * m64 + n64 * m64) * elem_bytes


def gemm_terms(b: ArrayLike, n: ArrayLike, m: ArrayLike, c: ArrayLike, extra_bytes: ArrayLike, *,
               n_cores: ArrayLike, width: ArrayLike, depth: ArrayLike, block_rows: ArrayLike,
               capacity_bytes: ArrayLike, glb_bw_bytes_per_cycle: ArrayLike, hbm_bw_bytes_per_s: ArrayLike,
               freq_hz: float, elem_bytes: int, tc_achievable_fraction: float = 1.0,
               wave: tuple[tuple[int, int], int] | None = None,
               ) -> tuple[NDArray[np.float64], ...]:
    """(t_compute, t_glb, t_hbm, glb_bytes, hbm_bytes): seconds and traffic of a GEMM on `n_cores` cores with
    the given buffer share (DESIGN §5).

    A GEMM lasts the largest of the three (price.py adds the epilogue and the issue cost). Single-core mode
    is the same call with n_cores = 1 and that core's share of capacity and both bandwidths. The achievable
    fraction (1.0 for the template; a measured figure for real GPUs) stretches only the compute term.
    `wave` ((rows, cols), slots), for GPUs in all-cores mode, makes the compute term at least the thread-block
    wave time and makes the thread-block tile the output block that crosses the buffer (L2) once.
    `extra_bytes` is HBM traffic beyond the product's own operands (a fused epilogue's residual, say).
    """
    b64, n64, m64, c64 = (np.asarray(x, dtype=np.int64) for x in (b, n, m, c))
    cycles = gemm_compute_cycles(b64, n64, m64, c64, n_cores, width, depth, block_rows).astype(np.float64)
    if wave is None:
        glb = gemm_glb_bytes(b64, n64, m64, c64, block_rows, depth, elem_bytes)
    else:
        rate = np.asarray(n_cores, dtype=np.int64) * np.asarray(width, dtype=np.int64) * np.asarray(depth)
        cycles = np.maximum(cycles, gemm_wave_cycles(b64, n64, m64, c64, tile=wave[0], slots=wave[1],
                                                     macs_per_cycle=rate))
        rows, cols = wave[0]
        glb = np.minimum(gemm_glb_bytes(b64, n64, m64, c64, rows, cols, elem_bytes),
                         gemm_glb_bytes(b64, n64, m64, c64, cols, rows, elem_bytes))
    t_compute = cycles / freq_hz / tc_achievable_fraction
    hbm = gemm_hbm_bytes(b64, n64, m64, c64, capacity_bytes, elem_bytes) + np.asarray(extra_bytes, dtype=np.float64)
    t_hbm = hbm / hbm_bw_bytes_per_s
    t_glb = glb / (np.asarray(glb_bw_bytes_per_cycle, dtype=np.float64) * freq_hz)
    return t_compute, t_glb, t_hbm, glb, hbm
