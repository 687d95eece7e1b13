"""Plain scalar re-statement of the cost model, one op on one design, for checking the vectorised code.

Written straight from DESIGN §5 with Python ints and `math`, sharing nothing with phaze.cost.gemm /
vector / price except the vector-cycle table and the collective formulas (already scalar).
"""

from __future__ import annotations

import math

from phaze.cost.price import collective_op_s
from phaze.cost.tables import cycles_per_element
from phaze.hardware.accelerators import Accelerators
from phaze.hardware.design import Accelerator
from phaze.model.ops import Op, OpKind


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def gemm_ref_s(op: Op, a: Accelerator, single: bool) -> float:
    b, n, m, c = op.gemm  # type: ignore[misc]
    w, d, e, f = a.tc_width, a.tc_depth, a.elem_bytes, a.freq_hz
    cores = 1 if single else a.n_tc
    share = a.n_tc if single else 1
    tiles = _cdiv(c, w) * _cdiv(m, d)
    cycles: float = _cdiv(b * tiles, cores) * max(n, w) + w + d
    if a.gemm_wave_tile is not None and a.gemm_wave_slots is not None and not single:
        rows, cols = a.gemm_wave_tile
        blocks = b * min(_cdiv(n, rows) * _cdiv(m, cols), _cdiv(n, cols) * _cdiv(m, rows))
        waves = float(_cdiv(blocks, a.gemm_wave_slots))
        cycles = max(cycles, waves * rows * cols * c * a.gemm_wave_slots / (a.n_tc * w * d))
    t_compute = cycles / f / a.tc_achievable_fraction
    macs = b * n * m * c
    traffic = max(float(op.bytes_read + op.bytes_written), 2.0 * macs * e / math.sqrt(a.glb_bytes / e))
    t_hbm = traffic / ((a.core_hbm_bw_bytes_per_s if op.attention_core else a.hbm_bw_bytes_per_s) / share)
    per_pass = (w * d + n * w + 2 * n * d) * e
    t_glb = b * tiles * per_pass / ((a.glb_bw_bytes_per_cycle / share) * f)
    t = max(t_compute, t_hbm, t_glb)
    epi = cycles_per_element(op.vector_ops, op.pass_, op.name)
    if epi:
        lanes = a.vc_width if single else a.n_vc * a.vc_width
        t = max(t, op.numel * epi / lanes / f)
    return t + a.op_overhead_cycles / f


def vector_ref_s(op: Op, a: Accelerator, single: bool) -> float:
    lanes = a.vc_width if single else a.n_vc * a.vc_width
    bw = (a.core_hbm_bw_bytes_per_s if op.attention_core else a.hbm_bw_bytes_per_s) / (a.n_vc if single else 1)
    c = cycles_per_element(op.vector_ops, op.pass_, op.name)
    t = max(_cdiv(op.numel * c, lanes) / a.freq_hz, (op.bytes_read + op.bytes_written) / bw)
    return t + a.op_overhead_cycles / a.freq_hz


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
