"""GEMM cost model (DESIGN §5): hand-worked cycle counts, the TPUv4 sanity checks and properties."""

from __future__ import annotations

import pytest
from conftest import compose_cfg
from hypothesis import given, settings
from hypothesis import strategies as st

from phaze.config.hw import HwConfig
from phaze.cost import price_ops
from phaze.cost.gemm import gemm_compute_cycles, gemm_glb_bytes, gemm_hbm_bytes, gemm_seconds, gemm_wave_cycles
from phaze.hardware import Accelerators
from phaze.model.ops import Op, OpKind

E = 2  # bytes per element
HUGE = 1e30  # a bandwidth that never binds


def gemm_op(b: int, n: int, m: int, c: int, weight: bool = True) -> Op:
    """A GEMM whose compulsory traffic is each operand and the output once (as the model builder sets)."""
    w_bytes = c * m * E if weight else b * c * m * E
    return Op("g", OpKind.GEMM, gemm=(b, n, m, c), bytes_read=b * n * c * E + w_bytes, bytes_written=b * n * m * E)


def design(**kw: object) -> Accelerators:
    return Accelerators.from_config(HwConfig(name="t", **kw))  # type: ignore[arg-type]


def seconds(op: Op, acc: Accelerators) -> tuple[float, float]:
    single, intra = price_ops([op], acc)
    return float(single[0, 0]), float(intra[0, 0])


def test_one_tile_on_one_core() -> None:
    # W = D = 4, one core, f = 1 Hz so seconds == cycles. GEMM (B,N,M,C) = (1, 8, 4, 4):
    # tiles = ceil(C/W)·ceil(M/D) = 1·1 = 1; passes = ceil(B·tiles/n) = 1;
    # cycles = passes·max(N, W) + W + D = 1·8 + 4 + 4 = 16.
    acc = design(n_tc=1, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=HUGE,
                 glb_bw_bytes_per_cycle=HUGE)
    assert seconds(gemm_op(1, 8, 4, 4), acc) == (16.0, 16.0)


def test_several_tiles_over_several_cores() -> None:
    # W = D = 4, n_tc = 3, f = 1 Hz. GEMM (B,N,M,C) = (2, 3, 8, 10):
    # tiles = ceil(10/4)·ceil(8/4) = 3·2 = 6; B·tiles = 12 tile passes.
    # all cores: ceil(12/3) = 4 passes of max(N=3, W=4) = 4 cycles -> 16, + W + D = 24.
    # one core:  12 passes·4 = 48, + 8 = 56.
    # Global buffer (default bw n_tc·(W + 2·D)·E = 3·12·2 = 72 B/cycle): 12 passes·(16 + 3·4 + 2·3·4)·2 B
    #   = 1248 B -> 17.33 cycles (all), 1248/24 = 52 cycles (one core, 1/3 share): compute still binds.
    acc = design(n_tc=3, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=HUGE)
    assert seconds(gemm_op(2, 3, 8, 10), acc) == (56.0, 24.0)
    assert gemm_glb_bytes(2, 3, 8, 10, 4, 4, E) == 1248.0


def test_hbm_and_global_buffer_terms_by_hand() -> None:
    # GEMM (1, 8, 4, 4) on one 4x4 core with a 2 MiB global buffer, f = 1 Hz:
    # compulsory = (8·4 + 4·4 + 8·4)·2 = 160 B; I/O bound 2·MACs·E/sqrt(2 MiB / 2 B) = 2·128·2/1024 = 0.5 B.
    assert gemm_hbm_bytes(128, 160, 2 * 2**20, E) == 160.0
    # at 1 B/s of HBM: 160 s
    acc = design(n_tc=1, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=1.0,
                 glb_bw_bytes_per_cycle=HUGE)
    assert seconds(gemm_op(1, 8, 4, 4), acc) == (160.0, 160.0)
    # global buffer: one pass of (W·D + N·W + 2·N·D)·E = (16 + 32 + 64)·2 = 224 B at 1 B/cycle = 224 s
    acc = design(n_tc=1, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=HUGE,
                 glb_bw_bytes_per_cycle=1.0)
    assert seconds(gemm_op(1, 8, 4, 4), acc) == (224.0, 224.0)
    # the I/O bound wins when the buffer is small relative to the work: (64, 4096, 4096, 4096) with 2 MiB:
    # 2·MACs·2/1024 = MACs/256 B > compulsory
    macs = 64 * 4096**3
    assert gemm_hbm_bytes(macs, 1e6, 2 * 2**20, E) == macs / 256


def test_op_overhead_is_added() -> None:
    acc = design(n_tc=1, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=HUGE,
                 glb_bw_bytes_per_cycle=HUGE, op_overhead_cycles=100)
    assert seconds(gemm_op(1, 8, 4, 4), acc) == (116.0, 116.0)


def test_achievable_fraction_stretches_compute_only() -> None:
    # the one-tile GEMM above (16 compute cycles) at 80% of peak: 16 / 0.8 = 20 s; a memory-bound one
    # (160 B at 1 B/s, 16 / 0.8 = 20 s of compute) keeps its 160 s.
    kw = {"n_tc": 1, "tc_width": 4, "tc_depth": 4, "vc_width": 4, "glb_mib": 2, "freq_hz": 1.0,
          "glb_bw_bytes_per_cycle": HUGE, "tc_achievable_fraction": 0.8}
    assert seconds(gemm_op(1, 8, 4, 4), design(hbm_bw_bytes_per_s=HUGE, **kw)) == (20.0, 20.0)
    assert seconds(gemm_op(1, 8, 4, 4), design(hbm_bw_bytes_per_s=1.0, **kw)) == (160.0, 160.0)


def test_a100_large_gemm_at_measured_matmul_rate() -> None:
    # hw=a100 carries the measured 267.9 TFLOP/s (of 311.87 peak): an 8192^3 GEMM must land within 1% of it
    a100 = Accelerators.from_config(compose_cfg(["hw=a100"]).hw)
    _, t = seconds(gemm_op(1, 8192, 8192, 8192), a100)
    assert 2 * 8192**3 / t == pytest.approx(267.9e12, rel=0.01)


def test_wave_quantization_by_hand() -> None:
    # NVIDIA "Matrix Multiplication Background" §3.2 on hw=a100 (108 SMs, 256x128 tiles): a 1792 x 1792 output
    # is 7·14 = 98 tiles, one wave; 2048 x 2048 is 8·16 = 128 tiles, two waves. Each tile does 256·128·C
    # MACs at 432·256/108 = 1024 MAC/cycle: 32·C cycles. With C = 4096 and the measured 0.859:
    # one wave = 131072 cycles / 1.41 GHz / 0.859 = 108.22 us; two waves twice that, although the MACs
    # grow only by (2048/1792)^2 = 1.306.
    a100 = Accelerators.from_config(compose_cfg(["hw=a100"]).hw)
    one_wave = 32 * 4096 / 1.41e9 / 0.859
    _, t1792 = seconds(gemm_op(1, 1792, 1792, 4096), a100)
    _, t2048 = seconds(gemm_op(1, 2048, 2048, 4096), a100)
    assert t1792 == pytest.approx(one_wave, rel=1e-12) and t2048 == pytest.approx(2 * one_wave, rel=1e-12)
    # the better orientation: 256 x 1920 is 1·15 = 15 tiles as (256, 128), 2·8 = 16 as (128, 256)
    assert gemm_wave_cycles(1, 256, 1920, 64, tile=(256, 128), slots=10, macs_per_cycle=10) == 2 * 256 * 128 * 64
    # single-core mode (one Tensor Core) is the template's systolic model: no waves
    single, _ = seconds(gemm_op(1, 2048, 2048, 4096), a100)
    no_wave = Accelerators.from_config(compose_cfg(["hw=a100", "hw.gemm_wave_tile=null", "hw.gemm_wave_slots=null"]).hw)
    assert single == seconds(gemm_op(1, 2048, 2048, 4096), no_wave)[0]
    assert seconds(gemm_op(1, 2048, 2048, 4096), no_wave)[1] < 0.6 * t2048


def test_8192_cubed_on_tpuv4_is_compute_bound() -> None:
    tpu = design(vc_width=1024)  # defaults are TPUv4's numbers
    _, t = seconds(gemm_op(1, 8192, 8192, 8192), tpu)
    achieved = 2 * 8192**3 / t
    assert achieved / tpu.peak_flops[0] >= 0.99
    # hand: 64·64 tiles over 8 cores = 512 passes·8192 + 256 = 4,194,560 cycles; the global buffer needs
    # 4096·(128² + 8192·128 + 2·8192·128)·2 B / 6144 B/cycle = 4,216,149.33 cycles and binds (99.49 %)
    assert t == pytest.approx(4096 * (128**2 + 3 * 8192 * 128) * 2 / 6144 / 1.05e9, rel=1e-12)


def test_matrix_vector_on_tpuv4_is_memory_bound() -> None:
    tpu = design(vc_width=1024)
    op = gemm_op(1, 1, 8192, 8192)
    _, t = seconds(op, tpu)
    assert t == pytest.approx((op.bytes_read + op.bytes_written) / 1.2e12, rel=0.01)


dims = st.integers(1, 3000)
pow2 = st.integers(1, 8).map(lambda k: 2**k)


@settings(max_examples=300, deadline=None)
@given(b=st.integers(1, 8), n=dims, m=dims, c=dims, w=pow2, d=pow2, cores=st.integers(1, 64),
       glb_mib=st.sampled_from([2, 8, 128]), hbm=st.floats(1e10, 1e13), glb_bw=st.floats(8, 1e5),
       more=st.integers(2, 4))
def test_more_cores_or_bandwidth_never_slower_and_never_beats_peak(b: int, n: int, m: int, c: int, w: int, d: int,
                                                                  cores: int, glb_mib: int, hbm: float,
                                                                  glb_bw: float, more: int) -> None:
    f = 1.05e9
    common = {"width": w, "depth": d, "glb_bytes": glb_mib * 2**20, "freq_hz": f, "elem_bytes": E}
    op = gemm_op(b, n, m, c)
    args = (b, n, m, c, op.bytes_read + op.bytes_written)

    def t(n_cores: int = cores, hbm_bw: float = hbm, gbw: float = glb_bw, **over: int) -> float:
        kw = {**common, **over}
        return float(gemm_seconds(*args, n_cores=n_cores, glb_bw_bytes_per_cycle=gbw, hbm_bw_bytes_per_s=hbm_bw,
                                  **kw))

    base = t()
    assert t(n_cores=cores * more) <= base
    assert t(n_cores=cores + 1) <= base
    assert t(hbm_bw=hbm * more) <= base
    assert t(gbw=glb_bw * more) <= base
    assert t(glb_bytes=glb_mib * 2**20 * more) <= base
    assert base >= b * n * m * c / (cores * w * d * f)
    assert gemm_compute_cycles(b, n, m, c, cores, w, d) * cores * w * d >= b * n * m * c


@settings(max_examples=100, deadline=None)
@given(n_tc=st.integers(0, 6).map(lambda k: 2**k), w=pow2, d=pow2, n=dims, m=dims, c=dims)
def test_all_core_mode_with_default_bandwidth_improves_with_cores(n_tc: int, w: int, d: int, n: int, m: int,
                                                                   c: int) -> None:
    # through the whole pipeline: Accelerators (glb bandwidth scales with n_tc by default) + price_ops.
    # Single-core mode is exempt by design: one core's share of HBM shrinks as n_tc grows.
    rows = [design(n_tc=k, tc_width=w, tc_depth=d, vc_width=w, glb_mib=32).row(0) for k in (n_tc, 2 * n_tc)]
    _, intra = price_ops([gemm_op(2, n, m, c)], Accelerators.from_rows(rows))
    assert intra[1, 0] <= intra[0, 0]
    assert intra[0, 0] >= 2 * n * m * c / (n_tc * w * d * 1.05e9)
