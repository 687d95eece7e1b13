"""The hardware search space of `hw=search` as numpy arrays (DESIGN §4).

The original enumerates powers of two for (n_tc, n_vc, W, D, glb) with W_vc = W and keeps designs with
`α·A_max <= area <= A_max`, α = 0 when n_tc == 1 or n_vc == 1 and 0.3 otherwise, A_max = the area of its
TPUv4-like design (docs/phaze-original.md §3.2). Every range, the tie and the window are config
fields here (`hw.space`). The physical area model adds the global buffer's banks as a searched axis; with
`hw.area_model=phaze2024` the defaults reproduce the original's 75,712 candidates and 29,360 kept designs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from phaze.hardware.area import area_mm2
from phaze.hardware.chip_area import ChipArea, chip_area_mm2

BYTES_PER_MIB = 2**20
BYTES_PER_GIB = 2**30


def glb_mib_to_bytes(glb_mib: float) -> int:
    return round(glb_mib * BYTES_PER_MIB)


def pow2_values(rng: Any) -> NDArray[np.int64]:
    """min, factor·min, ..., up to max of a Pow2Range."""
    lo, hi = int(rng.min).bit_length() - 1, int(rng.max).bit_length() - 1
    step = int(getattr(rng, "factor", 2)).bit_length() - 1
    return np.left_shift(np.int64(1), np.arange(lo, hi + 1, step, dtype=np.int64))


def searches_banks(hw: Any) -> bool:
    """Banks are a searched axis under the physical area model; the 2024 model has no banks (it ignores them)."""
    return hw.area_model != "phaze2024"


def _axes(space: Any, hw: Any) -> list[str]:
    axes = ["n_tc", "n_vc", "tc_width", "tc_depth"] + ([] if space.tie_vc_width else ["vc_width"]) + ["glb_mib"]
    return axes + (["glb_banks"] if searches_banks(hw) else [])


def space_size(space: Any, hw: Any) -> int:
    """Number of enumerated candidates before the area window."""
    return int(np.prod([len(pow2_values(getattr(space, a))) for a in _axes(space, hw)]))


def space_grid(space: Any, hw: Any) -> dict[str, NDArray[np.int64]]:
    """Every candidate, C order over (n_tc, n_vc, W, D, [W_vc,] glb, [banks]): a deterministic enumeration.
    Without a banks axis (`area_model=phaze2024`) every candidate has `hw.glb_banks` banks."""
    axes = {name: pow2_values(getattr(space, name)) for name in ("n_tc", "n_vc", "tc_width", "tc_depth")}
    if not space.tie_vc_width:
        axes["vc_width"] = pow2_values(space.vc_width)
    axes["glb_bytes"] = pow2_values(space.glb_mib) * BYTES_PER_MIB
    if searches_banks(hw):
        axes["glb_banks"] = pow2_values(space.glb_banks)
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    grid = {name: m.reshape(-1) for name, m in zip(axes, mesh, strict=True)}
    if space.tie_vc_width:
        grid["vc_width"] = grid["tc_width"].copy()
    if not searches_banks(hw):
        grid["glb_banks"] = np.full(len(grid["n_tc"]), int(hw.glb_banks), dtype=np.int64)
    return grid


def boundary_axes(design: dict[str, Any], space: Any, hw: Any) -> dict[str, str]:
    """The searched axes on which `design` (n_tc, ..., glb_mib, glb_banks values) sits at the range's min or max:
    axis -> "min" | "max". Axes with a single value are not searched and never reported."""
    out = {}
    for axis in _axes(space, hw):
        values = pow2_values(getattr(space, axis))
        if len(values) == 1:
            continue
        value = design[axis]
        if value == values[0]:
            out[axis] = "min"
        elif value == values[-1]:
            out[axis] = "max"
    return out


def grid_area_mm2(grid: dict[str, Any], hw: Any, prefix: str = "hw.") -> NDArray[np.float64]:
    """Area of each design of `grid` (arrays of n_tc, n_vc, tc_width, tc_depth, vc_width, glb_bytes, glb_banks)
    under `hw.area_model`, in mm²."""
    if hw.area_model == "phaze2024":
        return area_mm2(grid["n_tc"], grid["n_vc"], grid["tc_width"], grid["tc_depth"], grid["vc_width"],
                        grid["glb_bytes"], prefix=prefix)
    return _chip_area(grid, hw, prefix).total


def _chip_area(grid: dict[str, Any], hw: Any, prefix: str = "hw.") -> ChipArea:
    """The physical area model (`chip_area_mm2`) of `grid` with `hw`'s shared fields."""
    return chip_area_mm2(grid["n_tc"], grid["n_vc"], grid["tc_width"], grid["tc_depth"], grid["vc_width"],
                         grid["glb_bytes"], grid["glb_banks"], glb_bank_bytes=int(hw.glb_bank_bytes),
                         acc_rows_per_width=int(hw.tc_acc_rows_per_width), elem_bytes=int(hw.elem_bytes),
                         prefix=prefix)


def _design_grid(hw: Any) -> dict[str, NDArray[np.int64]]:
    grid = {name: np.array([getattr(hw, name)], dtype=np.int64)
            for name in ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_banks")}
    grid["glb_bytes"] = np.array([glb_mib_to_bytes(hw.glb_mib)], dtype=np.int64)
    return grid


def design_area_mm2(hw: Any) -> float:
    """Area of the top-level (fixed) design of a hw config."""
    return float(grid_area_mm2(_design_grid(hw), hw)[0])


def design_area_parts(hw: Any) -> dict[str, float]:
    """Where the top-level design's area goes under the physical model (`chip_area.ChipArea.parts`), mm²."""
    return _chip_area(_design_grid(hw), hw).parts()


def max_area_mm2(hw: Any) -> float:
    """The budget: `hw.space.max_area_mm2`, or when null the area of the config's own design
    (tpuv4_phaze for `hw=search`) under the same area model."""
    return float(hw.space.max_area_mm2) if hw.space.max_area_mm2 is not None else design_area_mm2(hw)


def area_window(area: NDArray[np.float64], n_tc: NDArray[np.int64], n_vc: NDArray[np.int64], space: Any,
                a_max: float) -> NDArray[np.bool_]:
    """Keep `lower <= area <= a_max` with lower = min_area_fraction·a_max, or 0 for single-core designs
    when `exempt_single_core` (the original's rule)."""
    lower = np.full(area.shape, space.min_area_fraction * a_max)
    if space.exempt_single_core:
        lower[(n_tc == 1) | (n_vc == 1)] = 0.0
    return (area >= lower) & (area <= a_max)
