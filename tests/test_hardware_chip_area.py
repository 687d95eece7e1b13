"""The physical area model (docs/accelerator.md): a small design by hand from its parts, and every resource costs
area: more banks never cost less area and never make an op slower."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cost_price import random_ops

from phaze.config.hw import HwConfig, SpaceConfig
from phaze.cost import price_ops
from phaze.hardware import Accelerators
from phaze.hardware.chip_area import CONTROL_MM2_PER_CORE, chip_area_mm2

A_PE, A_LANE = 760.041386, 759.823853  # µm² per tensor-core PE / vector lane (area_tables.csv)
L2_1KIB = 6133.98  # µm², the 1 KiB local buffer (area_tables.csv)


def test_a_small_design_by_hand() -> None:
    # one 4 x 4 tensor core, one 4-lane vector core, a 2 MiB buffer in one 64 B bank
    parts = chip_area_mm2(1, 1, 4, 4, 4, 2 * 2**20, 1, glb_bank_bytes=64, acc_rows_per_width=16, elem_bytes=2).parts()
    assert parts["tensor_cores"] == pytest.approx((16 * A_PE + L2_1KIB) / 1e6, rel=1e-12)
    # accumulator 16·4 rows x 4 columns x 4 B = 1 KiB with a 128-bit read and write port: CACTI 0.00339197 mm²
    assert parts["accumulators"] == pytest.approx(0.00339197, rel=1e-12)
    assert parts["vector_cores"] == pytest.approx((4 * A_LANE + L2_1KIB) / 1e6, rel=1e-12)
    # 996,000 transistors / 96.3 MTr/mm² x 22/7 per core
    assert parts["control"] == pytest.approx(2 * 996_000 / 96.3e6 * 22 / 7, rel=1e-12) == 2 * CONTROL_MM2_PER_CORE
    # CACTI, 512-bit 1 r/w port: one 2 MiB macro 2.29539 mm², but 32 of 64 KiB 32 x 0.0551846 = 1.7659072: the
    # cheapest organisation with at least one bank
    assert parts["global_buffer"] == pytest.approx(1.7659072, rel=1e-9)
    # crossbar: 512 bank wires x 0.088 µm high; each core port max(25.168 µm of cross-point buffers, its wires):
    # tensor core (4 + 2·4)·16 = 192 bits = 16.9 µm -> 25.168; vector core 2·4·16 = 128 bits -> 25.168
    assert parts["crossbar"] == pytest.approx(512 * 0.088 * 2 * 25.168 / 1e6, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(n_tc=st.integers(0, 12).map(lambda k: 2**k), n_vc=st.integers(0, 12).map(lambda k: 2**k),
       w=st.integers(1, 8).map(lambda k: 2**k), d=st.integers(1, 8).map(lambda k: 2**k),
       glb=st.integers(1, 7).map(lambda k: 2**k), banks=st.integers(0, 9).map(lambda k: 2**k))
def test_more_banks_never_cost_less_area(n_tc: int, n_vc: int, w: int, d: int, glb: int, banks: int) -> None:
    kw = {"glb_bank_bytes": 64, "acc_rows_per_width": 16, "elem_bytes": 2}
    one = chip_area_mm2(n_tc, n_vc, w, d, w, glb * 2**20, banks, **kw).total
    two = chip_area_mm2(n_tc, n_vc, w, d, w, glb * 2**20, 2 * banks, **kw).total
    assert two >= one


@pytest.mark.parametrize("seed", range(3))
def test_more_banks_never_slower(seed: int) -> None:
    rng = np.random.default_rng(seed)
    space = Accelerators.from_config(HwConfig(name="search", space=SpaceConfig()))
    rows = [space.row(int(i)) for i in rng.choice(len(space), size=40, replace=False)]
    wider = [type(r)(**{**r.__dict__, "glb_banks": 2 * r.glb_banks,
                        "glb_bw_bytes_per_cycle": 2 * r.glb_bw_bytes_per_cycle}) for r in rows]
    ops = random_ops(rng, 20)
    base, more = price_ops(ops, Accelerators.from_rows(rows)), price_ops(ops, Accelerators.from_rows(wider))
    assert np.all(more[0] <= base[0]) and np.all(more[1] <= base[1])
    assert np.any(more[1] < base[1])  # the buffer binds somewhere: the test can fail


def test_the_corner_design_of_2024_no_longer_fits_the_budget() -> None:
    # the 2024 searches' corner: 4096 tensor cores of 2 x 32, 2048 vector cores of 2 lanes, 2 MiB in 1 bank. Its
    # 6,144 cores' control (199.7 mm²) and 4096 accumulators of 4 KiB with 1,024-bit ports (376 mm²) exceed the
    # physical budget (tpuv4_phaze, 275.84 mm²) on their own.
    corner = chip_area_mm2(4096, 2048, 2, 32, 2, 2 * 2**20, 1, glb_bank_bytes=64, acc_rows_per_width=16,
                           elem_bytes=2)
    budget = Accelerators.from_config(HwConfig(name="tpuv4_phaze")).area_mm2[0]
    assert budget == pytest.approx(275.8402, abs=1e-4)
    assert corner.parts()["control"] == pytest.approx(6144 * CONTROL_MM2_PER_CORE, rel=1e-12)
    assert float(corner.total[()] if np.ndim(corner.total) else corner.total) > budget
