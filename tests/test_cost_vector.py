"""Vector ops and fused epilogues (DESIGN §5) with hand numbers on tpuv4_phaze (2 x 128 lanes, 1.05 GHz,
1.2e12 B/s HBM, 8 x 128x128 tensor cores)."""

from __future__ import annotations

import pytest

from phaze.config.hw import HwConfig
from phaze.cost import UnknownVectorOpError, cycles_per_element, price_ops
from phaze.cost.vector import vector_seconds
from phaze.hardware import Accelerators
from phaze.model.ops import Op, OpKind, Pass

F, HBM = 1.05e9, 1.2e12


@pytest.fixture(scope="module")
def phaze_tpu() -> Accelerators:
    return Accelerators.from_config(HwConfig(name="tpuv4_phaze"))


def vec(keys: tuple[str, ...], numel: int, nbytes: int, pass_: Pass = Pass.FWD) -> Op:
    return Op("v", OpKind.VECTOR, pass_, vector_ops=keys, numel=numel, bytes_read=nbytes // 2,
              bytes_written=nbytes - nbytes // 2)


def test_cycle_table() -> None:
    assert cycles_per_element(("softmax",), Pass.FWD) == 10
    assert cycles_per_element(("softmax",), Pass.BWD) == 2
    assert cycles_per_element(("add_sub_mul_neg", "div", "pow_sqrt_exp"), Pass.FWD) == 1 + 10 + 15
    assert cycles_per_element((), Pass.FWD) == 0


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
    # epilogue fwd (tanh 27): all 32,768·27/256 = 3,456 cycles; one core /128 lanes = 6,912 cycles.
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
