"""Schema of the `hw` group: one accelerator design, or the search space of designs (DESIGN §4).

A fixed design (`hw=tpuv4`, `a100`, ...) fills the top-level fields and leaves `space` null. `hw=search`
takes every top-level field from `tpuv4_phaze` (so candidates and the TPUv4 baselines differ only in the
searched fields) and adds a `space`: power-of-two ranges, the `W_vc = W` tie and the area window — all
data, nothing hard-wired (the original fixed them in code: reference/phaze-original.md §8 B17).

Field names carry their unit. `validate` works on the dataclass or on the composed DictConfig.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from phaze.config.errors import ConfigError


@dataclass
class Pow2Range:
    """Inclusive range of powers of two: min, 2·min, ..., max."""

    min: int = 1
    max: int = 1


@dataclass
class SpaceConfig:
    """The search space of `hw=search`; defaults reproduce the original (reference/phaze-original.md §3.2)."""

    n_tc: Pow2Range = field(default_factory=lambda: Pow2Range(1, 4096))
    n_vc: Pow2Range = field(default_factory=lambda: Pow2Range(1, 4096))
    tc_width: Pow2Range = field(default_factory=lambda: Pow2Range(2, 256))
    tc_depth: Pow2Range = field(default_factory=lambda: Pow2Range(2, 256))
    vc_width: Pow2Range = field(default_factory=lambda: Pow2Range(2, 256))  # ignored when tied
    glb_mib: Pow2Range = field(default_factory=lambda: Pow2Range(2, 128))
    tie_vc_width: bool = True  # W_vc = W (the original's enumeration)
    max_area_mm2: float | None = None  # null: the area of this config's top-level design (tpuv4_phaze)
    min_area_fraction: float = 0.3  # keep area >= fraction·max_area ...
    exempt_single_core: bool = True  # ... except when n_tc == 1 or n_vc == 1 (lower bound 0)


@dataclass
class HwConfig:
    """One design (defaults: the tpuv4_phaze numbers) or, with `space` set, the search space."""

    name: str = "???"
    n_tc: int = 8
    n_vc: int = 2
    tc_width: int = 128  # W: rows of each systolic array (reduction dimension C is tiled by W)
    tc_depth: int = 128  # D: columns of each systolic array (output dimension M is tiled by D)
    vc_width: int = 128  # W_vc: lanes per vector core
    glb_mib: float = 128.0
    glb_bw_bytes_per_cycle: float | None = None  # null: n_tc·(W + 2·D)·elem_bytes
    hbm_gib: float = 32.0
    hbm_bw_bytes_per_s: float = 1.2e12
    freq_hz: float = 1.05e9
    elem_bytes: int = 2
    op_overhead_cycles: int = 0
    # Fraction of the tensor-core peak a large dense GEMM sustains on the real part (measured, never fitted
    # to a workload); 1.0 for PHAZE's ideal template arrays. It scales GEMM compute time only, never peak.
    tc_achievable_fraction: float = 1.0
    # Measured fractions of the datasheet HBM and link bandwidths that streaming kernels and ring
    # collectives sustain on the real part (1.0 for the template). Accelerators holds the effective rates.
    hbm_achievable_fraction: float = 1.0
    # GPU thread-block tiling (NVIDIA, "Matrix Multiplication Background User's Guide" §3.2, wave
    # quantization): the output of an all-cores GEMM is cut into [rows, cols] tiles that run
    # `gemm_wave_slots` at a time (one per SM). null: the template's systolic model alone.
    gemm_wave_tile: list[int] | None = None
    gemm_wave_slots: int | None = None
    node_size: int = 4
    tp_link_bw_bytes_per_s: float = 45e9
    tp_link_achievable_fraction: float = 1.0
    dp_link_bw_bytes_per_s: float = 45e9
    dp_link_achievable_fraction: float = 1.0
    link_latency_s: float = 1e-6
    has_area: bool = True  # false for GPUs: the area model describes PHAZE's template only
    space: SpaceConfig | None = None


POSITIVE_INTS = ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "elem_bytes", "node_size")
POSITIVE_FLOATS = ("glb_mib", "hbm_gib", "hbm_bw_bytes_per_s", "freq_hz", "tp_link_bw_bytes_per_s",
                   "dp_link_bw_bytes_per_s")
ACHIEVABLE_FRACTIONS = ("tc_achievable_fraction", "hbm_achievable_fraction", "tp_link_achievable_fraction",
                        "dp_link_achievable_fraction")
SPACE_RANGES = ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_mib")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_pow2(value: int) -> bool:
    return _is_int(value) and value >= 1 and value & (value - 1) == 0


def _validate_wave(tile: Any, slots: Any, space: Any) -> None:
    if tile is None and slots is not None:
        raise ConfigError("hw.gemm_wave_slots", slots, "null unless hw.gemm_wave_tile is set too")
    if tile is not None and slots is None:
        raise ConfigError("hw.gemm_wave_tile", tile, "null unless hw.gemm_wave_slots is set too")
    if tile is None:
        return
    if space is not None:
        raise ConfigError("hw.gemm_wave_tile", tile, "null with a search space (GPU thread blocks, not the template)")
    items = [tile] if isinstance(tile, str) or not hasattr(tile, "__iter__") else list(tile)
    if len(items) != 2 or not all(_is_int(x) and x > 0 for x in items):
        raise ConfigError("hw.gemm_wave_tile", items, "null or [rows, cols], two positive integers")
    if not _is_int(slots) or slots <= 0:
        raise ConfigError("hw.gemm_wave_slots", slots, "null or a positive integer (tiles in flight)")


def _validate_space(space: Any) -> None:
    for name in SPACE_RANGES:
        rng = getattr(space, name)
        for end in ("min", "max"):
            value = getattr(rng, end)
            if not is_pow2(value):
                raise ConfigError(f"hw.space.{name}.{end}", value, "a power of two >= 1")
        if rng.min > rng.max:
            raise ConfigError(f"hw.space.{name}.min", rng.min, f"at most hw.space.{name}.max={rng.max}")
    if space.max_area_mm2 is not None and (not _is_number(space.max_area_mm2) or space.max_area_mm2 <= 0):
        raise ConfigError("hw.space.max_area_mm2", space.max_area_mm2, "null or a positive number (mm²)")
    frac = space.min_area_fraction
    if not _is_number(frac) or not 0.0 <= frac <= 1.0:
        raise ConfigError("hw.space.min_area_fraction", frac, "a number in [0, 1]")


def validate(cfg: Any) -> None:
    """Field and cross-field rules of the `hw` group; the first violation raises a one-line ConfigError.

    Area-table ranges (a local or global buffer outside the table) are checked by the area model itself,
    which names the offending field (phaze.hardware.area).
    """
    for name in POSITIVE_INTS:
        value = getattr(cfg, name)
        if not _is_int(value) or value <= 0:
            raise ConfigError(f"hw.{name}", value, "a positive integer")
    for name in POSITIVE_FLOATS:
        value = getattr(cfg, name)
        if not _is_number(value) or value <= 0:
            raise ConfigError(f"hw.{name}", value, "a positive number")
    bw = cfg.glb_bw_bytes_per_cycle
    if bw is not None and (not _is_number(bw) or bw <= 0):
        raise ConfigError("hw.glb_bw_bytes_per_cycle", bw, "null (n_tc·(W + 2·D)·elem_bytes) or > 0")
    if not _is_int(cfg.op_overhead_cycles) or cfg.op_overhead_cycles < 0:
        raise ConfigError("hw.op_overhead_cycles", cfg.op_overhead_cycles, "a non-negative integer")
    for name in ACHIEVABLE_FRACTIONS:
        frac = getattr(cfg, name)
        if not _is_number(frac) or not 0.0 < frac <= 1.0:
            raise ConfigError(f"hw.{name}", frac, "a number in (0, 1]")
    _validate_wave(cfg.gemm_wave_tile, cfg.gemm_wave_slots, cfg.space)
    if not _is_number(cfg.link_latency_s) or cfg.link_latency_s < 0:
        raise ConfigError("hw.link_latency_s", cfg.link_latency_s, "a non-negative number of seconds")
    if cfg.space is not None:
        if not cfg.has_area:
            raise ConfigError("hw.space", "set", "a search space needs hw.has_area=true (the area window)")
        _validate_space(cfg.space)
