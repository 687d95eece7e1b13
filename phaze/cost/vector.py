"""Vector-core latency: a roofline of lanes and HBM bandwidth (DESIGN §5).

The original priced element-wise ops as compute only, and fused epilogues as a constant number of cycles
(docs/phaze-original.md §8 B11); here both scale with the element count and vector ops also pay for
their bytes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def vector_seconds(numel: ArrayLike, cycles_per_element: ArrayLike, bytes_: ArrayLike, *, lanes: ArrayLike,
                   hbm_bw_bytes_per_s: ArrayLike, freq_hz: float) -> NDArray[np.float64]:
    """`max(ceil(numel·c_op / lanes) / f, bytes / hbm_bw)` (DESIGN §5), without the per-op overhead. `c_op` may be
    fractional (per-row work amortised over the row, phaze.cost.tables): the work is float64, exact for integer
    cycles below 2^53 lane-cycles."""
    work = np.asarray(numel, dtype=np.float64) * np.asarray(cycles_per_element, dtype=np.float64)
    t_compute = np.ceil(work / np.asarray(lanes, dtype=np.float64)) / freq_hz
    t_memory = np.asarray(bytes_, dtype=np.float64) / hbm_bw_bytes_per_s
    return np.maximum(t_compute, t_memory)


def vector_terms(numel: ArrayLike, cycles_per_element: ArrayLike, bytes_: ArrayLike, *, lanes: ArrayLike,
                 hbm_bw_bytes_per_s: ArrayLike, glb_bw_bytes_per_s: ArrayLike, freq_hz: float,
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(t_compute, t_hbm, t_glb): `ceil(numel·c_op / lanes) / f`, and the op's bytes through HBM and through the
    global buffer on their way to and from the lanes (DESIGN §5); the op lasts the largest."""
    work = np.asarray(numel, dtype=np.float64) * np.asarray(cycles_per_element, dtype=np.float64)
    t_compute = np.ceil(work / np.asarray(lanes, dtype=np.float64)) / freq_hz
    nbytes = np.asarray(bytes_, dtype=np.float64)
    return t_compute, nbytes / hbm_bw_bytes_per_s, nbytes / glb_bw_bytes_per_s


def epilogue_seconds(numel: ArrayLike, cycles_per_element: ArrayLike, *, lanes: ArrayLike,
                     freq_hz: float) -> NDArray[np.float64]:
    """Element-wise epilogue of a fused GEMM: `numel·Σc_epilogue / lanes / f` (DESIGN §3, §5). Its bytes
    stay on chip (that is why it was fused), so there is no memory term."""
    work = np.asarray(numel, dtype=np.float64) * np.asarray(cycles_per_element, dtype=np.float64)
    return work / np.asarray(lanes, dtype=np.float64) / freq_hz
