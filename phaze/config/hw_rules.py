"""Field and cross-field rules of the `hw` group (`validate`): the first violation raises a one-line ConfigError
that names the field and the allowed values.

Separate from the schema (`hw.py`) so the dataclasses read as the list of fields they are, and the rules (with
their allowed ranges) as one piece; both work on the dataclass or on the composed DictConfig.
"""

from __future__ import annotations

from typing import Any

from phaze.config.errors import ConfigError
from phaze.config.hw import VECTOR_COST_MODELS

POSITIVE_INTS = ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "elem_bytes", "node_size", "glb_banks",
                 "glb_bank_bytes")
NON_NEGATIVE_INTS = ("op_issue_cycles", "op_barrier_cycles")
AREA_MODELS = ("physical", "phaze2024")
POSITIVE_FLOATS = ("glb_mib", "hbm_gib", "hbm_bw_bytes_per_s", "freq_hz", "tp_link_bw_bytes_per_s",
                   "dp_link_bw_bytes_per_s")
ACHIEVABLE_FRACTIONS = ("tc_achievable_fraction", "hbm_achievable_fraction", "tp_link_achievable_fraction",
                        "dp_link_achievable_fraction")
SPACE_RANGES = ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_mib", "glb_banks")


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
        if not is_pow2(rng.factor) or rng.factor < 2:
            raise ConfigError(f"hw.space.{name}.factor", rng.factor, "a power of two >= 2 (the step between values)")
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
    for name in NON_NEGATIVE_INTS:
        value = getattr(cfg, name)
        if not _is_int(value) or value < 0:
            raise ConfigError(f"hw.{name}", value, "a non-negative integer (cycles)")
    rows = cfg.tc_acc_rows_per_width
    if not _is_int(rows) or rows < 2 or rows % 2:
        raise ConfigError("hw.tc_acc_rows_per_width", rows, "an even integer >= 2 (two buffers of rows per array row)")
    if cfg.area_model not in AREA_MODELS:
        raise ConfigError("hw.area_model", cfg.area_model, " | ".join(AREA_MODELS))
    for name in ACHIEVABLE_FRACTIONS:
        frac = getattr(cfg, name)
        if not _is_number(frac) or not 0.0 < frac <= 1.0:
            raise ConfigError(f"hw.{name}", frac, "a number in (0, 1]")
    core = cfg.attention_core_hbm_fraction
    if core is not None and (not _is_number(core) or not 0.0 < core <= 1.0):
        raise ConfigError("hw.attention_core_hbm_fraction", core, "null or a number in (0, 1]")
    if cfg.vector_cost_model not in VECTOR_COST_MODELS:
        raise ConfigError("hw.vector_cost_model", cfg.vector_cost_model, f"one of {', '.join(VECTOR_COST_MODELS)}")
    _validate_wave(cfg.gemm_wave_tile, cfg.gemm_wave_slots, cfg.space)
    if not _is_number(cfg.link_latency_s) or cfg.link_latency_s < 0:
        raise ConfigError("hw.link_latency_s", cfg.link_latency_s, "a non-negative number of seconds")
    node = cfg.tech_node_nm
    if not _is_number(node) or not 7 <= node <= 130:
        raise ConfigError("hw.tech_node_nm", node, "a node in nm from 7 to 130 (the energy scaling table's range)")
    static = cfg.static_power_w
    if static is not None and (not _is_number(static) or static < 0):
        raise ConfigError("hw.static_power_w", static, "null (leakage density x area) or a non-negative number of W")
    if cfg.space is not None:
        budget = cfg.space.max_power_w
        if budget is not None and (not _is_number(budget) or budget <= 0):
            raise ConfigError("hw.space.max_power_w", budget, "null (no power budget) or a positive number of W")
        if not cfg.has_area:
            raise ConfigError("hw.space", "set", "a search space needs hw.has_area=true (the area window)")
        _validate_space(cfg.space)
