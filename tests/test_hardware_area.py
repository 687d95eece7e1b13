"""Area model (DESIGN §4): the original's numbers, the 1 KiB local-buffer floor, log-log interpolation
exact at table points, and out-of-table sizes reported as a ConfigError naming the field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phaze.config.errors import ConfigError
from phaze.config.hw import HwConfig, SpaceConfig
from phaze.hardware import Accelerators, area_mm2, hardware_summary
from phaze.hardware.area import area_tables, local_buffer_bytes, table_area_um2

MIB = 2**20
A_PE, A_LANE = 760.041386, 759.823853  # µm² per tensor-core PE / vector lane (area_tables.csv)


def test_tpuv4_phaze_area_is_the_budget() -> None:
    # 8·(128·128·760.041386 + L2(256 KiB)=446565) + 2·(128·759.823853 + L2(2 KiB)=8248.43) + GLB(128 MiB)
    hand = 8 * (128 * 128 * A_PE + 446565.0) + 2 * (128 * A_LANE + 8248.43) + 175423000.0
    assert hand / 1e6 == pytest.approx(278.826676, rel=1e-6)
    assert area_mm2(8, 2, 128, 128, 128, 128 * MIB) == pytest.approx(278.826676, rel=1e-6)
    two = Accelerators.from_config(HwConfig(name="tpuv4_phaze", area_model="phaze2024"))
    assert two.area_mm2[0] == pytest.approx(278.82667631216, rel=1e-12)


def test_smallest_and_a_floor_bound_design() -> None:
    assert area_mm2(1, 1, 2, 2, 2, 2 * MIB) == pytest.approx(3.35504777, rel=1e-8)
    # 16·2 PEs -> 512 B local buffer, floored to 1 KiB (6133.98 µm²); 16 lanes -> 256 B, floored too
    assert area_mm2(4096, 4096, 16, 2, 16, 32 * MIB) == pytest.approx(246.41642474, rel=1e-8)


def test_local_buffer_floor() -> None:
    assert local_buffer_bytes(np.array([4, 64, 65, 128 * 128])).tolist() == [1024, 1024, 1040, 262144]


def test_exact_at_every_table_point() -> None:
    t = area_tables()
    for sizes, areas in ((t.l2_bytes, t.l2_um2), (t.glb_bytes, t.glb_um2)):
        got = table_area_um2(sizes, sizes, areas, "f")
        assert np.array_equal(got, areas)


def test_log_log_interpolation() -> None:
    t = area_tables()
    # 3 MiB lies between 2 MiB (3,338,220 µm²) and 4 MiB (6,078,640 µm²): a straight line in log-log
    hand = 3338220 * (6078640 / 3338220) ** (math.log(3 / 2) / math.log(2))
    assert table_area_um2(np.array([3 * MIB]), t.glb_bytes, t.glb_um2, "f")[0] == pytest.approx(hand, rel=1e-12)
    # W·D = 8·12 = 96 PEs -> 1536 B local buffer, between 1 KiB (6133.98) and 2 KiB (8248.43)
    l2 = 6133.98 * (8248.43 / 6133.98) ** (math.log(1.5) / math.log(2))
    hand_design = (8 * 12 * A_PE + l2) + (48 * A_LANE + 6133.98) + 6078640
    assert area_mm2(1, 1, 8, 12, 48, 4 * MIB) == pytest.approx(hand_design / 1e6, rel=1e-12)


@pytest.mark.parametrize(("override", "field", "value"), [
    ({"glb_mib": 256, "area_model": "phaze2024"}, "hw.glb_mib", "256.0"),
    ({"glb_mib": 1, "area_model": "phaze2024"}, "hw.glb_mib", "1.0"),
    ({"glb_mib": 256, "glb_banks": 1}, "hw.glb_mib/hw.glb_banks", "256.0"),
    ({"tc_width": 512, "tc_depth": 512}, r"hw.tc_width·hw.tc_depth", "262144"),
    ({"vc_width": 131072}, "hw.vc_width", "131072"),
])
def test_out_of_table_names_the_field(override: dict, field: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^invalid config: {field}={value}: "):
        Accelerators.from_config(HwConfig(name="x", **override))


def test_out_of_table_says_how_many_bytes_the_value_needs() -> None:
    """A field that is not itself a size (a PE count) is reported with the bytes it needs: 512·512 PEs x 16 B."""
    with pytest.raises(ConfigError, match=r"1024\.\.1048576 bytes \(this value needs 4194304 bytes\)$"):
        Accelerators.from_config(HwConfig(name="x", tc_width=512, tc_depth=512))


def test_out_of_table_search_range_names_the_space_field() -> None:
    space = SpaceConfig()
    space.glb_mib.max = 256
    with pytest.raises(ConfigError, match=r"hw\.space\.glb_mib(/hw\.space\.glb_banks)?=256\.0"):
        Accelerators.from_config(HwConfig(name="s", space=space))


def test_gpus_have_no_area() -> None:
    gpu = HwConfig(name="g", n_tc=432, tc_width=16, tc_depth=16, glb_mib=40, has_area=False)
    assert math.isnan(Accelerators.from_config(gpu).area_mm2[0])
    assert hardware_summary(gpu)["area_mm2"] is None
