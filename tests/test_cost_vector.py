"""Vector ops and fused epilogues (DESIGN §5) with hand numbers on tpuv4_phaze (2 x 128 lanes, 1.05 GHz,
1.2e12 B/s HBM, 8 x 128x128 tensor cores), and the per-element cycles of both vector-cost models
(docs/vector_costs.md): the original's table (`phaze`, whose figures the roofline tests below were written
with) and the primitive compositions (`primitives`, the default), hand-computed from
phaze/data/vector_primitives.csv: FP32 add/mul/fma/compare/select and 32-bit integer ops 1 cycle per element
per lane, exp2/log2/rsqrt/reciprocal/sin 4 (CUDA C++ Programming Guide throughput table, CC 8.0: 64 vs 16
results per clock per SM)."""

from __future__ import annotations

import pytest

from phaze.config.hw import HwConfig
from phaze.cost import UnknownVectorOpError, cycles_per_element, price_ops
from phaze.cost.tables import primitive_cost_table, vector_cycle_table
from phaze.cost.vector import vector_seconds
from phaze.hardware import Accelerators
from phaze.model.ops import Op, OpKind, Pass

F, HBM = 1.05e9, 1.2e12


@pytest.fixture(scope="module")
def phaze_tpu() -> Accelerators:
    """tpuv4_phaze priced with the original's vector table (the figures of the roofline tests below)."""
    return Accelerators.from_config(HwConfig(name="tpuv4_phaze", vector_cost_model="phaze"))


@pytest.fixture(scope="module")
def tpu() -> Accelerators:
    """tpuv4_phaze with the default (primitives) vector costs."""
    return Accelerators.from_config(HwConfig(name="tpuv4_phaze"))


def vec(keys: tuple[str, ...], numel: int, nbytes: int, pass_: Pass = Pass.FWD) -> Op:
    return Op("v", OpKind.VECTOR, pass_, vector_ops=keys, numel=numel, bytes_read=nbytes // 2,
              bytes_written=nbytes - nbytes // 2)


def test_phaze_cycle_table() -> None:
    """`phaze` reproduces the original's table (phaze/data/vector_cycles.csv), row lengths ignored."""
    assert cycles_per_element(("softmax",), Pass.FWD, model="phaze") == 10
    assert cycles_per_element(("softmax",), Pass.BWD, model="phaze", row_elems=2048) == 2
    assert cycles_per_element(("add_sub_mul_neg", "div", "pow_sqrt_exp"), Pass.FWD, model="phaze") == 1 + 10 + 15
    assert cycles_per_element(("gelu",), Pass.FWD, model="phaze") == cycles_per_element(("relu",), Pass.FWD,
                                                                                       model="phaze") == 1
    assert cycles_per_element(("tanh",), Pass.FWD, model="phaze") == 27
    assert cycles_per_element((), Pass.FWD, model="phaze") == 0
    assert {k: (cycles_per_element((k,), Pass.FWD, model="phaze"), cycles_per_element((k,), Pass.BWD, model="phaze"))
            for k in vector_cycle_table()} == vector_cycle_table()


def test_both_models_price_the_same_keys() -> None:
    assert sorted(primitive_cost_table()) == sorted(vector_cycle_table())


def test_primitive_gelu() -> None:
    # tanh(x) = 1 - 2/(exp2(2x·log2 e) + 1): mul 1 + exp2 4 + add 1 + reciprocal 4 + fma 1 = 11
    assert cycles_per_element(("tanh",), Pass.FWD) == 11
    # gelu fwd: a = x·x, b = 1 + c·a (fma), inner = x·b, arg = k·inner, t = tanh(arg) (11), h = 0.5x, y = h + h·t
    # (fma): 4 mul + 2 fma + 11 = 17 (PHAZE: 1, as relu)
    assert cycles_per_element(("gelu",), Pass.FWD) == 4 + 2 + 11
    # gelu bwd: recompute t (3 mul + 1 fma + 11), then 3 fma + 3 mul + 1 add + 1 mul (·dy) = 23
    assert cycles_per_element(("gelu",), Pass.BWD) == 3 + 1 + 11 + 3 + 3 + 1 + 1
    assert cycles_per_element(("relu",), Pass.FWD) == 1


def test_primitive_layernorm_amortises_per_row_work() -> None:
    # fwd per element: sum (add), x - mean (add), sum of squares (fma), ·rstd (mul), gamma·xhat + beta (fma) = 5;
    # per row: mean and var scaled by 1/n (2 mul), + eps (add), rsqrt (4) = 7, over the row of hidden elements
    assert cycles_per_element(("layernorm",), Pass.FWD, row_elems=1024) == 5 + 7 / 1024
    # no row known: the per-row work is charged per element (an upper bound)
    assert cycles_per_element(("layernorm",), Pass.FWD) == 5 + 7
    # bwd: 10 per element (recompute xhat 2, dy·gamma 1, two row sums 2, dx 3, dgamma and dbeta 2), 2 mul per row
    assert cycles_per_element(("layernorm",), Pass.BWD, row_elems=4096) == 10 + 2 / 4096
    # rmsnorm fwd: sum of squares (fma) + x·rstd·gamma (2 mul) = 3; per row 1/n mul + eps add + rsqrt 4 = 6
    assert cycles_per_element(("rmsnorm",), Pass.FWD, row_elems=4096) == 3 + 6 / 4096


def test_primitive_softmax() -> None:
    # fwd per element: max (compare), x - max (add), exp = mul + exp2 (5), sum (add), ·(1/sum) (mul) = 9;
    # per row one reciprocal (4), over the row of s keys
    assert cycles_per_element(("softmax",), Pass.FWD, row_elems=2048) == 9 + 4 / 2048
    # bwd: y·(dy - sum(dy·y)): fma + add + mul = 3
    assert cycles_per_element(("softmax",), Pass.BWD, row_elems=2048) == 3
    # the LM head's log-softmax: max, sub, exp (5), sum, sub = 9 per element; log = log2 (4) + mul per row
    assert cycles_per_element(("log_softmax",), Pass.FWD, row_elems=50_000) == 9 + 5 / 50_000


def test_primitive_dropout() -> None:
    # Philox4x32-10: 10 rounds x (4 integer multiplies + 4 xors + 2 key adds) = 100 integer ops per call of four
    # 32-bit words; one word per element -> 25; then compare against the threshold, scale (mul), select = 28
    assert cycles_per_element(("dropout",), Pass.FWD) == 100 / 4 + 3
    # bwd: mask ? dy : 0 (select), ·1/(1-p) (mul)
    assert cycles_per_element(("dropout",), Pass.BWD) == 2


def test_primitive_chain_is_the_sum_of_its_keys() -> None:
    # bias (1) + gelu (17): the fused bias-GeLU epilogue
    assert cycles_per_element(("add_sub_mul_neg", "gelu"), Pass.FWD) == 18
    assert cycles_per_element(("add_sub_mul_neg", "softmax"), Pass.FWD, row_elems=512) == 1 + 9 + 4 / 512


def test_compute_bound_primitive_softmax(tpu: Accelerators) -> None:
    # 1e6 elements in rows of 1000 keys: 9 + 4/1000 cycles -> ceil(9,004,000 / 256) = 35,172 cycles all cores,
    # ceil(9,004,000 / 128) = 70,344 one core (4 MB of HBM traffic: 3.3 µs / 6.7 µs, far below)
    op = Op("v", OpKind.VECTOR, Pass.FWD, vector_ops=("softmax",), numel=10**6, row_elems=1000,
            bytes_read=2 * 10**6, bytes_written=2 * 10**6)
    single, intra = price_ops([op], tpu)
    assert intra[0, 0] == 35_172 / F
    assert single[0, 0] == 70_344 / F


def test_unknown_key_is_a_clear_error() -> None:
    with pytest.raises(UnknownVectorOpError, match=r"op 'x': unknown vector op 'gelu_tanh'; known .*softmax"):
        cycles_per_element(("add_sub_mul_neg", "gelu_tanh"), Pass.FWD, "x")
    with pytest.raises(UnknownVectorOpError):
        price_ops([vec(("nope",), 10, 40)], Accelerators.from_config(HwConfig(name="x")))


def test_compute_bound_softmax(phaze_tpu: Accelerators) -> None:
    # 1e6 elements x 10 cycles over 2·128 lanes: ceil(1e7/256) = 39,063 cycles; 4 MB / 1.2e12 = 3.3 µs
    # one core: 128 lanes -> 78,125 cycles; half the HBM bandwidth -> 6.7 µs: still compute-bound
    single, intra = price_ops([vec(("softmax",), 10**6, 4 * 10**6)], phaze_tpu)
    assert intra[0, 0] == 39_063 / F
    assert single[0, 0] == 78_125 / F
    # backward: 2 cycles: ceil(2e6/256) = 7,813 cycles = 7.44 µs > 3.3 µs
    _, intra_bwd = price_ops([vec(("softmax",), 10**6, 4 * 10**6, Pass.BWD)], phaze_tpu)
    assert intra_bwd[0, 0] == 7_813 / F


def test_memory_bound_add(phaze_tpu: Accelerators) -> None:
    # residual add of 1e6 elements: 2 reads + 1 write x 2 B = 6 MB -> 5 µs at 1.2e12 B/s,
    # compute ceil(1e6/256) = 3,907 cycles = 3.72 µs; one core: 50 µs (1/(8 + 2) of the bandwidth) vs 7.44 µs
    single, intra = price_ops([vec(("add_sub_mul_neg",), 10**6, 6 * 10**6)], phaze_tpu)
    assert intra[0, 0] == 6e6 / HBM
    assert single[0, 0] == 6e6 / (HBM / 10)


def test_vector_seconds_rounds_up_to_whole_cycles() -> None:
    assert vector_seconds(257, 1, 0, lanes=256, hbm_bw_bytes_per_s=1.0, freq_hz=1.0) == 2.0


def test_fused_epilogue(phaze_tpu: Accelerators) -> None:
    # GEMM (1, 256, 128, 128) + tanh epilogue on numel = 256·128 = 32,768 elements.
    # GEMM alone: 1 tile -> 1 pass of max(256, 128) + 128 + 128 = 512 cycles (both modes; one tile);
    #   HBM 163,840 B (all 1.2e12: 143 cycles; one core: a fused op holds a tensor and a vector core, 2/(8 + 2) of
    #   HBM = 2.4e11: 716.8 cycles; without the epilogue 1/10: 1,433.6 cycles);
    #   global buffer (128² + 256·128 + 256·128)·2 = 163,840 B (all 6,144 B/cycle: 26.7; one core 1,228.8: 133.3)
    # epilogue fwd (tanh 27 in the `phaze` table): all 32,768·27/256 = 3,456 cycles; one core /128 lanes = 6,912 cycles.
    # epilogue bwd (tanh 2): 256 (all) and 512 cycles (one core) -> one core: max(716.8 HBM, 512) binds.
    b, n, m, c = 1, 256, 128, 128
    nbytes = dict(bytes_read=(n * c + c * m) * 2, bytes_written=n * m * 2)
    fwd = Op("g", OpKind.GEMM, Pass.FWD, gemm=(b, n, m, c), vector_ops=("tanh",), numel=n * m, **nbytes)
    bwd = Op("g", OpKind.GEMM, Pass.BWD, gemm=(b, n, m, c), vector_ops=("tanh",), numel=n * m, **nbytes)
    plain = Op("g", OpKind.GEMM, Pass.FWD, gemm=(b, n, m, c), **nbytes)
    single, intra = price_ops([fwd, bwd, plain], phaze_tpu)
    assert intra[0].tolist() == [3456 / F, 512 / F, 512 / F]
    assert single[0, 0] == 6912 / F
    assert single[0, 1] == pytest.approx(163_840 / 2.4e11, rel=1e-15)
    assert single[0, 2] == pytest.approx(163_840 / 1.2e11, rel=1e-15)
