"""Plain scalar re-statement of the cost model, one op on one design, for checking the vectorised code.

Written straight from DESIGN §5 with Python ints and `math`, sharing nothing with phaze.cost.gemm /
vector / price except the vector-cycle table, the collective formulas (already scalar) and the named constants.
"""

from __future__ import annotations

import math

from phaze.cost.gemm import HBM_ACCESS_BYTES, MAX_CHUNK_EXPONENT, TILE_BUFFERS
from phaze.cost.price import collective_op_s
from phaze.cost.tables import cycles_per_element
from phaze.hardware.accelerators import Accelerators
from phaze.hardware.design import ACC_ELEM_BYTES, Accelerator
from phaze.model.ops import Op, OpKind


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _largest_tile(dim: int, bound: float) -> int:
    """Largest power of two <= bound below dim, or dim itself when it fits; 0 when not even 1 fits."""
    if bound < 1:
        return 0
    if dim <= bound:
        return dim
    return min(1 << math.floor(math.log2(bound)), dim)


def tiling_hbm_bytes(n: int, m: int, c: int, capacity: float, e: int) -> float:
    """One product's HBM bytes under the best input- or weight-stationary tiling with K = 2^k chunks of C."""
    words = capacity / e
    stream = HBM_ACCESS_BYTES // e
    best = math.inf
    for k in range(MAX_CHUNK_EXPONENT + 1):
        ck = _cdiv(c, 1 << k)
        chunks = _cdiv(c, ck)
        tn = _largest_tile(n, words / TILE_BUFFERS / ck - min(m, stream))
        tm = _largest_tile(m, words / TILE_BUFFERS / ck - min(n, stream))
        options = []
        if tn:
            options.append(n * c + c * m * _cdiv(n, tn))
        if tm:
            options.append(c * m + n * c * _cdiv(m, tm))
        if options:
            best = min(best, min(options) * e + n * m * (e + (chunks - 1) * 2 * ACC_ELEM_BYTES))
    return min(best, float((2 * n * c * m + n * m) * e))


def _issue_s(a: Accelerator, spans: int) -> float:
    return (a.op_issue_cycles + a.op_barrier_cycles * math.log2(spans)) / a.freq_hz


def gemm_ref_s(op: Op, a: Accelerator, single: bool) -> float:
    b, n, m, c = op.gemm  # type: ignore[misc]
    w, d, e, f = a.tc_width, a.tc_depth, a.elem_bytes, a.freq_hz
    epi = cycles_per_element(op.vector_ops, op.pass_, op.name, model=a.vector_cost_model, row_elems=op.row_elems)
    cores_all = a.n_tc + a.n_vc
    held = (2 if epi else 1) if single else cores_all
    share = held / cores_all if single else 1.0
    r_max = a.tc_block_rows
    blocks = _cdiv(n, r_max)
    rows = _cdiv(n, blocks)
    units = b * blocks * _cdiv(m, d)
    cycles: float = _cdiv(units, 1 if single else a.n_tc) * _cdiv(c, w) * max(rows, w) + w + d
    glb_words = b * (blocks * c * m + _cdiv(m, d) * n * c + n * m)
    if a.gemm_wave_tile is not None and a.gemm_wave_slots is not None and not single:
        tr, tc = a.gemm_wave_tile
        tiles = b * min(_cdiv(n, tr) * _cdiv(m, tc), _cdiv(n, tc) * _cdiv(m, tr))
        waves = float(_cdiv(tiles, a.gemm_wave_slots))
        cycles = max(cycles, waves * tr * tc * c * a.gemm_wave_slots / (a.n_tc * w * d))
        glb_words = min(b * (_cdiv(n, r) * c * m + _cdiv(m, k) * n * c + n * m) for r, k in ((tr, tc), (tc, tr)))
    t_compute = cycles / f / a.tc_achievable_fraction
    extra = max(op.bytes_read + op.bytes_written - b * (n * c + c * m + n * m) * e, 0)
    traffic = b * tiling_hbm_bytes(n, m, c, a.glb_bytes * share, e) + extra
    t_hbm = traffic / ((a.core_hbm_bw_bytes_per_s if op.attention_core else a.hbm_bw_bytes_per_s) * share)
    t_glb = glb_words * e / (a.glb_bw_bytes_per_cycle * f * share)
    t = max(t_compute, t_glb, t_hbm)
    if epi:
        lanes = a.vc_width if single else a.n_vc * a.vc_width
        t = max(t, op.numel * epi / lanes / f)
    return t + _issue_s(a, held)


def vector_ref_s(op: Op, a: Accelerator, single: bool) -> float:
    cores_all = a.n_tc + a.n_vc
    lanes = a.vc_width if single else a.n_vc * a.vc_width
    share = 1 / cores_all if single else 1.0
    bw = (a.core_hbm_bw_bytes_per_s if op.attention_core else a.hbm_bw_bytes_per_s) * share
    c = cycles_per_element(op.vector_ops, op.pass_, op.name, model=a.vector_cost_model, row_elems=op.row_elems)
    nbytes = op.bytes_read + op.bytes_written
    glb_bw = a.glb_bw_bytes_per_cycle * a.freq_hz * share
    t = max(math.ceil(op.numel * c / lanes) / a.freq_hz, nbytes / bw, nbytes / glb_bw)
    return t + _issue_s(a, 1 if single else cores_all)


def op_ref_s(op: Op, acc: Accelerators, i: int, single: bool) -> float:
    """Seconds of `op` on candidate i of `acc`, in single-core (`single`) or all-core mode."""
    a = acc.row(i)
    if op.kind is OpKind.GEMM:
        return gemm_ref_s(op, a, single)
    if op.kind is OpKind.VECTOR:
        return vector_ref_s(op, a, single)
    if op.kind is OpKind.COLLECTIVE:
        return collective_op_s(op, acc)
    return 0.0
