"""Search-space enumeration (DESIGN §4; docs/phaze-original.md §3.2 counts, reproduced by
`hw.area_model=phaze2024`) and Accelerators."""

from __future__ import annotations

import numpy as np
import pytest

from phaze.config.hw import HwConfig, SpaceConfig
from phaze.hardware import Accelerators, area_mm2, hardware_summary

A_MAX = float(area_mm2(8, 2, 128, 128, 128, 128 * 2**20))  # tpuv4_phaze: 278.82667631216 mm²
OLD = "phaze2024"  # the original's area model and enumeration (no banks axis)


@pytest.fixture(scope="module")
def acc() -> Accelerators:
    return Accelerators.from_config(HwConfig(name="search", space=SpaceConfig(), area_model=OLD))


def test_original_counts(acc: Accelerators) -> None:
    assert len(acc) == 29_360
    assert hardware_summary(HwConfig(name="search", space=SpaceConfig(), area_model=OLD))["candidates_total"] == 75_712
    tc = np.unique(np.stack([acc.n_tc, acc.tc_width, acc.tc_depth, acc.glb_bytes], axis=1), axis=0)
    vc = np.unique(np.stack([acc.n_vc, acc.vc_width, acc.glb_bytes], axis=1), axis=0)
    assert (len(tc), len(vc)) == (4_186, 697)
    # the all-core GEMM pricing key adds the banks, one value without a banks axis
    assert len(acc.groups("n_tc", "tc_width", "tc_depth", "glb_bytes", "glb_banks")[0]) == 4_186


def test_window_and_tie(acc: Accelerators) -> None:
    single = (acc.n_tc == 1) | (acc.n_vc == 1)
    assert np.all(acc.area_mm2 <= A_MAX)
    assert np.all(acc.area_mm2[~single] >= 0.3 * A_MAX)
    assert acc.area_mm2[single].min() < 0.3 * A_MAX  # the exemption matters
    assert np.array_equal(acc.vc_width, acc.tc_width)
    # the budget design itself is kept (area == A_max)
    hit = (acc.n_tc == 8) & (acc.n_vc == 2) & (acc.tc_width == 128) & (acc.tc_depth == 128) \
        & (acc.glb_bytes == 128 * 2**20)
    assert hit.sum() == 1


def test_deterministic_enumeration_order(acc: Accelerators) -> None:
    key = np.stack([acc.glb_bytes, acc.tc_depth, acc.tc_width, acc.n_vc, acc.n_tc])
    order = np.lexsort(key)  # last key is primary: n_tc, n_vc, W, D, glb
    assert np.array_equal(order, np.arange(len(acc)))
    again = Accelerators.from_config(HwConfig(name="search", space=SpaceConfig(), area_model=OLD))
    assert np.array_equal(again.area_mm2, acc.area_mm2) and np.array_equal(again.n_tc, acc.n_tc)
    first = acc.row(0)
    assert (first.n_tc, first.n_vc, first.tc_width, first.tc_depth, first.glb_bytes) == (1, 1, 2, 2, 2 * 2**20)


def test_window_is_config(acc: Accelerators) -> None:
    explicit = Accelerators.from_config(HwConfig(name="s", space=SpaceConfig(max_area_mm2=A_MAX), area_model=OLD))
    assert len(explicit) == 29_360
    strict = Accelerators.from_config(HwConfig(name="s", space=SpaceConfig(exempt_single_core=False), area_model=OLD))
    exempted = ((acc.n_tc == 1) | (acc.n_vc == 1)) & (acc.area_mm2 < 0.3 * A_MAX)
    assert len(strict) == len(acc) - int(exempted.sum())
    assert strict.area_mm2.min() >= 0.3 * A_MAX
    half = Accelerators.from_config(HwConfig(name="s", space=SpaceConfig(max_area_mm2=A_MAX / 2), area_model=OLD))
    assert half.area_mm2.max() <= A_MAX / 2 and len(half) < len(acc)


def test_untied_vector_width_contains_the_tied_space(acc: Accelerators) -> None:
    space = SpaceConfig(tie_vc_width=False)
    assert hardware_summary(HwConfig(name="s", space=space, area_model=OLD))["candidates_total"] == 75_712 * 8
    free = Accelerators.from_config(HwConfig(name="s", space=space, area_model=OLD))
    tied = free.take(np.flatnonzero(free.vc_width == free.tc_width))
    assert len(tied) == len(acc) and np.array_equal(tied.area_mm2, acc.area_mm2)


def test_tpuv4_peak_and_fixed_design() -> None:
    tpu = Accelerators.from_config(HwConfig(name="tpuv4", vc_width=1024))
    assert len(tpu) == 1
    assert tpu.peak_flops[0] == 8 * 128 * 128 * 2 * 1.05e9 == 275_251_200_000_000.0
    one = tpu.row(0)
    assert one.peak_flops == tpu.peak_flops[0]
    # 96 banks x 64 B = 6,144 B/cycle: TPUv4's MXU feed, 8 MXUs x (256 B in + 512 B out) (jax-ml scaling book)
    assert one.glb_bw_bytes_per_cycle == 96 * 64 == 8 * (256 + 512)
    assert one.hbm_bytes == 32 * 2**30 and one.glb_bytes == 128 * 2**20
    banked = Accelerators.from_config(HwConfig(name="x", glb_banks=10, glb_bank_bytes=100))
    assert banked.glb_bw_bytes_per_cycle.tolist() == [1000.0]


def test_summary_of_a_fixed_design() -> None:
    s = hardware_summary(HwConfig(name="tpuv4_phaze", area_model=OLD))
    assert s["name"] == "tpuv4_phaze" and s["area_mm2"] == pytest.approx(278.826676, rel=1e-6)
    phys = hardware_summary(HwConfig(name="tpuv4_phaze"))
    assert phys["area_mm2"] == pytest.approx(sum(phys["area_parts_mm2"].values()), rel=1e-12)
    assert s["peak_flops"] == 275_251_200_000_000.0 and s["n_tc"] == 8 and s["hbm_bw_bytes_per_s"] == 1.2e12


def test_rows_round_trip(acc: Accelerators) -> None:
    idx = np.array([5, 17, 29_000])
    sub = Accelerators.from_rows([acc.row(int(i)) for i in idx])
    assert np.array_equal(sub.n_tc, acc.n_tc[idx]) and np.array_equal(sub.area_mm2, acc.area_mm2[idx])
    other = Accelerators.from_config(HwConfig(name="x", hbm_bw_bytes_per_s=1e12)).row(0)
    with pytest.raises(ValueError, match="hbm_bw_bytes_per_s"):
        Accelerators.from_rows([acc.row(0), other])
