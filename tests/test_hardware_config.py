"""The hw config group: every YAML composes through Hydra with the schema, and validate() rejects bad
fields with a one-line ConfigError naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from phaze.config.errors import ConfigError
from phaze.config.hw import HwConfig, SpaceConfig
from phaze.config.hw_rules import validate
from phaze.hardware import Accelerators, hardware_summary

CONF = Path(__file__).resolve().parents[1] / "phaze" / "conf"
DESIGNS = ("tpuv4", "tpuv4_phaze", "a100", "h100")
SEARCHED = {"name", "space"}  # fields hw=search may differ in from tpuv4_phaze


@pytest.fixture(scope="module")
def composed() -> dict[str, object]:
    ConfigStore.instance().store(group="schema/hw", name="base", node=HwConfig)
    out = {}
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for name in (*DESIGNS, "search"):
            out[name] = compose(overrides=[f"+hw={name}"]).hw
        out["override"] = compose(overrides=["+hw=search", "hw.hbm_gib=64", "hw.space.n_tc.max=8"]).hw
        out["search2024"] = compose(overrides=["+hw=search", "hw.area_model=phaze2024"]).hw
        out["tpuv4_2024"] = compose(overrides=["+hw=tpuv4", "hw.area_model=phaze2024"]).hw
    return out


@pytest.mark.parametrize("name", (*DESIGNS, "search"))
def test_every_design_composes_and_validates(composed: dict, name: str) -> None:
    cfg = composed[name]
    assert cfg.name == name
    validate(cfg)
    validate(OmegaConf.to_object(cfg))  # the dataclass form too
    assert (cfg.space is None) == (name != "search")


def test_search_takes_every_non_searched_field_from_tpuv4_phaze(composed: dict) -> None:
    search, base = composed["search"], composed["tpuv4_phaze"]
    for key in base:
        if key not in SEARCHED:
            assert search[key] == base[key], key
    assert base.hbm_bw_bytes_per_s == 1.2e12  # the real TPUv4 HBM, not the original's ~269 GB/s (B8)


def test_search_space_defaults_are_the_originals(composed: dict) -> None:
    space = OmegaConf.to_object(composed["search"]).space
    assert space == SpaceConfig()
    assert (space.n_tc.min, space.n_tc.max, space.tc_width.min, space.glb_mib.max) == (1, 4096, 2, 128)


def test_overrides_reach_the_space(composed: dict) -> None:
    cfg = composed["override"]
    assert cfg.hbm_gib == 64 and cfg.space.n_tc.max == 8
    acc = Accelerators.from_config(cfg)
    assert acc.n_tc.max() <= 8 and acc.hbm_bytes == 64 * 2**30


def test_gpu_numbers(composed: dict) -> None:
    a100, h100 = (Accelerators.from_config(composed[n]).row(0) for n in ("a100", "h100"))
    # 432 arrays x 16x16 x 2 FLOP x 1.41 GHz = 311.87 TFLOP/s; 528 x 16x32 x 2 x 1.83 GHz = 989.4 TFLOP/s
    assert a100.peak_flops == pytest.approx(311.87e12, rel=1e-4)
    assert h100.peak_flops == pytest.approx(989.43e12, rel=1e-4)
    # effective rates = datasheet x measured fraction (hardware.csv hbm_achievable 1.80 of 2.039 TB/s,
    # nvlink_allreduce_busbw 235 of 300 GB/s); the H100's HBM and NVLink have no measured figure: datasheet
    assert a100.hbm_bw_bytes_per_s == 2.039e12 * 0.883 and h100.hbm_bw_bytes_per_s == 3.35e12
    # ... and NCCL over one InfiniBand NIC (infiniband_nccl_busbw: 24 of 25 GB/s HDR, 47 of 50 GB/s NDR)
    assert (a100.tp_link_bw_bytes_per_s, a100.dp_link_bw_bytes_per_s, a100.node_size) == (300e9 * 0.783, 25e9 * 0.96, 8)
    assert (h100.tp_link_bw_bytes_per_s, h100.dp_link_bw_bytes_per_s) == (450e9, 50e9 * 0.94)
    assert (a100.gemm_wave_tile, a100.gemm_wave_slots, h100.gemm_wave_tile) == ((256, 128), 108, None)
    # measured matmul rate / peak (hardware.csv matmul_achievable): 267.9 / 311.87, 792.1 / 989.4
    assert (a100.tc_achievable_fraction, h100.tc_achievable_fraction) == (0.859, 0.801)


@pytest.mark.parametrize(("override", "field"), [
    ({"n_tc": 0}, "hw.n_tc"),
    ({"tc_width": 2.5}, "hw.tc_width"),
    ({"freq_hz": -1.0}, "hw.freq_hz"),
    ({"glb_banks": 0}, "hw.glb_banks"),
    ({"glb_bank_bytes": 1.5}, "hw.glb_bank_bytes"),
    ({"tc_acc_rows_per_width": 3}, "hw.tc_acc_rows_per_width"),
    ({"op_issue_cycles": -3}, "hw.op_issue_cycles"),
    ({"op_barrier_cycles": 0.5}, "hw.op_barrier_cycles"),
    ({"area_model": "cacti"}, "hw.area_model"),
    ({"link_latency_s": -1e-6}, "hw.link_latency_s"),
    ({"tc_achievable_fraction": 0.0}, "hw.tc_achievable_fraction"),
    ({"tc_achievable_fraction": 1.2}, "hw.tc_achievable_fraction"),
    ({"hbm_achievable_fraction": 0.0}, "hw.hbm_achievable_fraction"),
    ({"attention_core_hbm_fraction": 1.5}, "hw.attention_core_hbm_fraction"),
    ({"attention_core_hbm_fraction": "fast"}, "hw.attention_core_hbm_fraction"),
    ({"tp_link_achievable_fraction": 1.5}, "hw.tp_link_achievable_fraction"),
    ({"dp_link_achievable_fraction": "x"}, "hw.dp_link_achievable_fraction"),
    ({"gemm_wave_tile": [256, 128]}, "hw.gemm_wave_tile"),
    ({"gemm_wave_tile": [256], "gemm_wave_slots": 108}, "hw.gemm_wave_tile"),
    ({"gemm_wave_tile": [256, 0], "gemm_wave_slots": 108}, "hw.gemm_wave_tile"),
    ({"gemm_wave_tile": [256, 128], "gemm_wave_slots": 0}, "hw.gemm_wave_slots"),
    ({"gemm_wave_slots": 108}, "hw.gemm_wave_slots"),
    ({"gemm_wave_tile": [256, 128], "gemm_wave_slots": 108, "space": SpaceConfig()}, "hw.gemm_wave_tile"),
    ({"has_area": False, "space": SpaceConfig()}, "hw.space"),
    ({"vector_cost_model": "wham"}, "hw.vector_cost_model"),
])
def test_validate_names_the_field(override: dict, field: str) -> None:
    cfg = HwConfig(name="x", **override)
    with pytest.raises(ConfigError, match=f"^invalid config: {field}="):
        validate(cfg)


def test_vector_cost_model_error_lists_the_models() -> None:
    with pytest.raises(ConfigError, match=r"^invalid config: hw\.vector_cost_model='wham': one of primitives, phaze$"):
        validate(HwConfig(name="x", vector_cost_model="wham"))


def test_validate_space_ranges() -> None:
    space = SpaceConfig()
    space.n_vc.max = 48
    with pytest.raises(ConfigError, match=r"hw\.space\.n_vc\.max=48: a power of two"):
        validate(HwConfig(name="s", space=space))
    space = SpaceConfig()
    space.tc_depth.min, space.tc_depth.max = 64, 32
    with pytest.raises(ConfigError, match=r"hw\.space\.tc_depth\.min=64"):
        validate(HwConfig(name="s", space=space))
    with pytest.raises(ConfigError, match=r"hw\.space\.min_area_fraction=1\.5"):
        validate(HwConfig(name="s", space=SpaceConfig(min_area_fraction=1.5)))
    with pytest.raises(ConfigError, match=r"hw\.space\.max_area_mm2=-1"):
        validate(HwConfig(name="s", space=SpaceConfig(max_area_mm2=-1.0)))


def test_inspect_summaries_from_composed_configs(composed: dict) -> None:
    # hw.area_model=phaze2024: the original's budget and enumeration
    assert hardware_summary(composed["search2024"]) == {
        "name": "search", "candidates_total": 75_712, "candidates_kept": 29_360,
        "max_area_mm2": pytest.approx(278.826676, rel=1e-6)}
    # the physical model: 5 bank counts (1, 4, ..., 256) per 2024 candidate; the budget is tpuv4_phaze's area
    phys = hardware_summary(composed["search"])
    assert phys["candidates_total"] == 75_712 * 5
    assert phys["max_area_mm2"] == pytest.approx(hardware_summary(composed["tpuv4_phaze"])["area_mm2"], rel=1e-12)
    tpu = hardware_summary(composed["tpuv4_2024"])  # vector cores: 1024 lanes -> 16 KiB local buffer (38,583 µm²)
    assert tpu["peak_flops"] == 275_251_200_000_000.0 and tpu["vc_width"] == 1024
    assert tpu["area_mm2"] == pytest.approx(8 * (128**2 * 760.041386 + 446565.0) / 1e6
                                            + 2 * (1024 * 759.823853 + 38583.0) / 1e6 + 175.423, rel=1e-12)
    assert hardware_summary(composed["a100"])["area_mm2"] is None
