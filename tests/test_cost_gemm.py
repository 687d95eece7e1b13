"""GEMM cost model (DESIGN §5): hand-worked cycle counts and traffic (accumulators, banked global buffer,
HBM tiling), the TPUv4 and A100 sanity checks and properties."""

from __future__ import annotations

import pytest
from conftest import compose_cfg
from hypothesis import given, settings
from hypothesis import strategies as st

from phaze.config.hw import HwConfig
from phaze.cost import price_ops
from phaze.cost.gemm import (
    compulsory_bytes,
    gemm_compute_cycles,
    gemm_glb_bytes,
    gemm_hbm_bytes,
    gemm_io_bound_bytes,
    gemm_terms,
    gemm_wave_cycles,
)
from phaze.hardware import Accelerators
from phaze.model.ops import Op, OpKind

E = 2  # bytes per element
HUGE = 1e30  # an HBM bandwidth that never binds
WIDE = {"glb_banks": 1, "glb_bank_bytes": 10**15, "has_area": False}  # a buffer whose bandwidth never binds


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
    # W = D = 4, one core, f = 1 Hz so seconds == cycles. GEMM (B,N,M,C) = (1, 8, 4, 4): the accumulator holds
    # 16·4/2 = 32 rows >= N, so one output block of 8 rows; ceil(C/W) = 1 pass of max(N, W) = 8 cycles;
    # + W + D = 16.
    acc = design(n_tc=1, n_vc=1, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=HUGE,
                 **WIDE)
    assert seconds(gemm_op(1, 8, 4, 4), acc) == (16.0, 16.0)


def test_several_tiles_over_several_cores() -> None:
    # W = D = 4, n_tc = 3, f = 1 Hz. GEMM (B,N,M,C) = (2, 3, 8, 10): output blocks B·ceil(N/32)·ceil(M/D) = 2·1·2 = 4,
    # each ceil(10/4) = 3 passes of max(N=3, W=4) = 4 cycles. A core takes whole blocks (its accumulator holds the
    # partial sums), so all cores: ceil(4/3) = 2 blocks·12 = 24, + W + D = 32; one core: 4·12 + 8 = 56.
    acc = design(n_tc=3, n_vc=1, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=HUGE,
                 **WIDE)
    assert seconds(gemm_op(2, 3, 8, 10), acc) == (56.0, 32.0)
    # buffer traffic B·(blocks·C·M + ceil(M/D)·N·C + N·M)·E = 2·(80 + 60 + 24)·2 = 656 B
    assert gemm_glb_bytes(2, 3, 8, 10, 32, 4, E) == 656.0


def test_accumulator_keeps_partial_sums_out_of_the_buffer() -> None:
    # C = 3·W on one 4 x 4 array: three passes accumulate in the accumulator and each of the N·M = 32 outputs
    # crosses the buffer once (64 B), not once per pass (the 2024 rule moved 3·2·N·D·E = 384 B of partial sums).
    # (1, 8, 4, 12): weights 12·4 + inputs 1·8·12 + outputs 8·4 = 176 words = 352 B.
    assert gemm_glb_bytes(1, 8, 4, 12, 32, 4, E) == 352.0
    outputs = gemm_glb_bytes(1, 8, 4, 12, 32, 4, E) - (12 * 4 + 8 * 12) * E
    assert outputs == 8 * 4 * E
    # more rows than the accumulator: N = 100 with 32-row buffers -> 4 blocks of 25 rows; the weights stream
    # once per block: (4·48 + 1·100·12 + 100·4)·2 = 3584 B; compute 4 blocks·3 passes·max(25, 4) + 8 = 308 cycles
    assert gemm_glb_bytes(1, 100, 4, 12, 32, 4, E) == (4 * 48 + 100 * 12 + 100 * 4) * E
    assert gemm_compute_cycles(1, 100, 4, 12, 1, 4, 4, 32) == 4 * 3 * 25 + 8


def test_gemm_bound_by_buffer_bandwidth_to_the_cycle() -> None:
    # one 4 x 4 core (+ 1 vector core) behind one 2-byte bank, f = 1 Hz: (1, 8, 4, 12) moves 352 B through the
    # buffer (above): 176 cycles on the whole chip against 3·8 + 8 = 32 cycles of compute; a one-core op gets
    # 1 / (n_tc + n_vc) = 1/2 of the bandwidth: 352 cycles.
    acc = design(n_tc=1, n_vc=1, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=HUGE,
                 glb_banks=1, glb_bank_bytes=2, has_area=False)
    assert seconds(gemm_op(1, 8, 4, 12), acc) == (352.0, 176.0)


def test_small_arrays_behind_one_bank_are_slowed_by_the_hand_factor() -> None:
    # 64 tensor cores of 2 x 32 (+1 vector core), one 64 B bank, 2 MiB buffer, HBM unbounded; (1, 2048, 2048, 2048).
    # compute: blocks of 16·2/2 = 16 rows -> 128 row blocks x 64 column tiles = 8192 blocks / 64 cores = 128 each,
    #   1024 passes of max(16, 2) = 16 cycles: 2,097,152 + 34 = 2,097,186 cycles;
    # buffer: (128 + 64 + 1)·2048²·2 B = 1,619,001,344 B / 64 B/cycle = 25,296,896 cycles: 12.06x slower.
    acc = design(n_tc=64, n_vc=1, tc_width=2, tc_depth=32, vc_width=2, glb_mib=2, freq_hz=1.0,
                 hbm_bw_bytes_per_s=HUGE, glb_banks=1, glb_bank_bytes=64)
    compute = int(gemm_compute_cycles(1, 2048, 2048, 2048, 64, 2, 32, 16))
    assert compute == 2_097_186
    _, t = seconds(gemm_op(1, 2048, 2048, 2048), acc)
    assert t == 25_296_896.0
    assert t / compute == pytest.approx(12.062, abs=1e-3)


def test_hbm_tiling_by_hand() -> None:
    # everything fits (2 MiB): the compulsory traffic, (8·4 + 4·4 + 8·4)·2 = 160 B
    assert gemm_hbm_bytes(1, 8, 4, 4, 2 * 2**20, E) == 160.0
    # (1, 64, 64, 64) in a 4 KiB buffer (2048 words, 16-element streams):
    # K=1 (Ck=64): 2048/2/64 - 16 = 0 rows fit -> no tiling; K=2 (Ck=32): panels of 1024/32 - 16 = 16 rows:
    #   4096 + 4096·4 = 20,480 words = 40,960 B + outputs 4096·(2 + 1·2·4) = 40,960 B -> 81,920 B;
    # K=4: 32-row panels, 12,288 words = 24,576 B + 4096·(2 + 3·8) = 106,496 -> 131,072 B: K=2 is the best.
    assert gemm_hbm_bytes(1, 64, 64, 64, 4096, E) == 81_920.0
    assert gemm_io_bound_bytes(64**3, 4096, E) == pytest.approx(2 * 64**3 * 2 / 2048**0.5)
    # at 1 B/s of HBM the whole-chip GEMM lasts its 160 B
    acc = design(n_tc=1, n_vc=1, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=1.0,
                 **WIDE)
    assert seconds(gemm_op(1, 8, 4, 4), acc)[1] == 160.0


def test_issue_and_barrier_cost_is_added() -> None:
    # 100 cycles of issue + 10 per barrier level: one core spans 1 (log2 = 0), the whole chip n_tc + n_vc = 4 (2)
    acc = design(n_tc=2, n_vc=2, tc_width=4, tc_depth=4, vc_width=4, glb_mib=2, freq_hz=1.0, hbm_bw_bytes_per_s=HUGE,
                 op_issue_cycles=100, op_barrier_cycles=10, **WIDE)
    assert seconds(gemm_op(1, 8, 4, 4), acc) == (116.0, 136.0)


def test_achievable_fraction_stretches_compute_only() -> None:
    # the one-tile GEMM above (16 compute cycles) at 80% of peak: 16 / 0.8 = 20 s; a memory-bound one
    # (160 B at 1 B/s, 16 / 0.8 = 20 s of compute) keeps its 160 s.
    kw = {"n_tc": 1, "n_vc": 1, "tc_width": 4, "tc_depth": 4, "vc_width": 4, "glb_mib": 2, "freq_hz": 1.0,
          "tc_achievable_fraction": 0.8, **WIDE}
    assert seconds(gemm_op(1, 8, 4, 4), design(hbm_bw_bytes_per_s=HUGE, **kw))[1] == 20.0
    assert seconds(gemm_op(1, 8, 4, 4), design(hbm_bw_bytes_per_s=1.0, **kw))[1] == 160.0


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
    # grow only by (2048/1792)^2 = 1.306. The systolic term is within a fill of it at 1792: 14 row blocks of 128
    # x 112 column tiles = 1568 blocks over 432 cores = 4 rounds of 256 passes of 128 cycles, + 32 = 131,104.
    a100 = Accelerators.from_config(compose_cfg(["hw=a100"]).hw)
    one_wave = 32 * 4096 / 1.41e9 / 0.859
    _, t1792 = seconds(gemm_op(1, 1792, 1792, 4096), a100)
    _, t2048 = seconds(gemm_op(1, 2048, 2048, 4096), a100)
    assert t1792 == pytest.approx(131_104 / 1.41e9 / 0.859, rel=1e-12)
    assert t2048 == pytest.approx(2 * one_wave, rel=1e-12)
    # the better orientation: 256 x 1920 is 1·15 = 15 tiles as (256, 128), 2·8 = 16 as (128, 256)
    assert gemm_wave_cycles(1, 256, 1920, 64, tile=(256, 128), slots=10, macs_per_cycle=10) == 2 * 256 * 128 * 64
    # single-core mode (one Tensor Core) is the template's systolic model: no waves
    single, _ = seconds(gemm_op(1, 2048, 2048, 4096), a100)
    no_wave = Accelerators.from_config(compose_cfg(["hw=a100", "hw.gemm_wave_tile=null", "hw.gemm_wave_slots=null"]).hw)
    assert single == seconds(gemm_op(1, 2048, 2048, 4096), no_wave)[0]
    # without the thread-block tile the L2 feeds 16-column blocks: inputs re-read 128 times, L2-bound
    l2_s = float(gemm_glb_bytes(1, 2048, 2048, 4096, 128, 16, E)) / (5120 * 1.41e9)
    assert seconds(gemm_op(1, 2048, 2048, 4096), no_wave)[1] == pytest.approx(l2_s, rel=1e-12) and l2_s > t2048


def test_8192_cubed_on_tpuv4_is_compute_bound() -> None:
    tpu = design(vc_width=1024)  # defaults are TPUv4's numbers
    _, t = seconds(gemm_op(1, 8192, 8192, 8192), tpu)
    achieved = 2 * 8192**3 / t
    assert achieved / tpu.peak_flops[0] >= 0.99
    # hand: 1024-row blocks -> 8 x 64 = 512 blocks / 8 cores = 64 each, 64 passes of 1024 cycles: 4,194,304 + 256;
    # the buffer moves (8 + 64 + 1)·8192²·2 B / 6,144 B/cycle = 1,594,709.33 cycles: compute binds
    assert t == 4_194_560 / 1.05e9
    assert gemm_glb_bytes(1, 8192, 8192, 8192, 1024, 128, E) / 6144 == pytest.approx(1_594_709.33, abs=0.01)


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
    common = {"width": w, "depth": d, "block_rows": 8 * w, "freq_hz": f, "elem_bytes": E}

    def t(n_cores: int = cores, hbm_bw: float = hbm, gbw: float = glb_bw, capacity: int = glb_mib * 2**20) -> float:
        terms = gemm_terms(b, n, m, c, 0, n_cores=n_cores, glb_bw_bytes_per_cycle=gbw, hbm_bw_bytes_per_s=hbm_bw,
                           capacity_bytes=capacity, **common)
        return float(max(terms[:3]))

    base = t()
    assert t(n_cores=cores * more) <= base
    assert t(n_cores=cores + 1) <= base
    assert t(hbm_bw=hbm * more) <= base
    assert t(gbw=glb_bw * more) <= base
    assert t(capacity=glb_mib * 2**20 * more) <= base
    assert base >= b * n * m * c / (cores * w * d * f)
    assert gemm_compute_cycles(b, n, m, c, cores, w, d, 8 * w) * cores * w * d >= b * n * m * c


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 20000), m=st.integers(1, 20000), c=st.integers(1, 20000),
       capacity=st.integers(6, 27).map(lambda k: 2**k), e=st.sampled_from([1, 2, 4]))
def test_tiling_traffic_is_never_below_the_io_bound_nor_the_compulsory(n: int, m: int, c: int, capacity: int,
                                                                      e: int) -> None:
    tiled = float(gemm_hbm_bytes(1, n, m, c, capacity, e))
    assert tiled >= float(gemm_io_bound_bytes(n * m * c, capacity, e)) * (1 - 1e-12)
    assert tiled >= float(compulsory_bytes(1, n, m, c, e))
    # a larger buffer never moves more
    assert float(gemm_hbm_bytes(1, n, m, c, 2 * capacity, e)) <= tiled


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 4096), m=st.integers(1, 4096), c=st.integers(1, 4096))
def test_tiling_traffic_is_compulsory_when_everything_fits(n: int, m: int, c: int) -> None:
    # two copies of the input panel and of a 16-column weight strip fit: each operand and the output once
    capacity = 2 * (n * c + c * min(m, 16)) * E
    assert gemm_hbm_bytes(1, n, m, c, capacity, E) == compulsory_bytes(1, n, m, c, E)


@settings(max_examples=100, deadline=None)
@given(n_tc=st.integers(0, 6).map(lambda k: 2**k), w=pow2, d=pow2, n=dims, m=dims, c=dims)
def test_all_core_mode_improves_with_cores(n_tc: int, w: int, d: int, n: int, m: int, c: int) -> None:
    # through the whole pipeline (Accelerators + price_ops), fixed buffer and banks: more cores never slower on
    # the whole chip. Single-core mode is exempt by design: one core's share of the buffer and HBM shrinks.
    rows = [design(n_tc=k, tc_width=w, tc_depth=d, vc_width=w, glb_mib=32).row(0) for k in (n_tc, 2 * n_tc)]
    _, intra = price_ops([gemm_op(2, n, m, c)], Accelerators.from_rows(rows))
    assert intra[1, 0] <= intra[0, 0]
    assert intra[0, 0] >= 2 * n * m * c / (n_tc * w * d * 1.05e9)
