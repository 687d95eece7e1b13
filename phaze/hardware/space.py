"""The hardware search space of `hw=search` as numpy arrays (DESIGN §4).

The original enumerates powers of two for (n_tc, n_vc, W, D, glb) with W_vc = W and keeps designs with
`α·A_max <= area <= A_max`, α = 0 when n_tc == 1 or n_vc == 1 and 0.3 otherwise, A_max = the area of its
TPUv4-like design (docs/phaze-original.md §3.2). Every range, the tie and the window are config
fields here (`hw.space`), and the defaults reproduce its 75,712 candidates and 29,360 kept designs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from phaze.hardware.area import area_mm2

BYTES_PER_MIB = 2**20
BYTES_PER_GIB = 2**30


def default_glb_bw(n_tc: Any, tc_width: Any, tc_depth: Any, elem_bytes: int) -> Any:
    """Global buffer -> cores bandwidth that streams every array every cycle: n_tc·(W + 2·D)·elem_bytes
    bytes/cycle (W inputs in, D partial sums in and D out per array and cycle; DESIGN §5)."""
    return n_tc * (tc_width + 2 * tc_depth) * elem_bytes


def glb_mib_to_bytes(glb_mib: float) -> int:
    return round(glb_mib * BYTES_PER_MIB)


def pow2_values(rng: Any) -> NDArray[np.int64]:
    """min, 2·min, ..., max of a Pow2Range."""
    lo, hi = int(rng.min).bit_length() - 1, int(rng.max).bit_length() - 1
    return np.left_shift(np.int64(1), np.arange(lo, hi + 1, dtype=np.int64))


def space_size(space: Any) -> int:
    """Number of enumerated candidates before the area window."""
    axes = ["n_tc", "n_vc", "tc_width", "tc_depth", "glb_mib"] + ([] if space.tie_vc_width else ["vc_width"])
    return int(np.prod([len(pow2_values(getattr(space, a))) for a in axes]))


def space_grid(space: Any) -> dict[str, NDArray[np.int64]]:
    """Every candidate, C order over (n_tc, n_vc, W, D, [W_vc,] glb): a deterministic enumeration."""
    axes = {name: pow2_values(getattr(space, name)) for name in ("n_tc", "n_vc", "tc_width", "tc_depth")}
    if not space.tie_vc_width:
        axes["vc_width"] = pow2_values(space.vc_width)
    axes["glb_bytes"] = pow2_values(space.glb_mib) * BYTES_PER_MIB
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    grid = {name: m.reshape(-1) for name, m in zip(axes, mesh, strict=True)}
    if space.tie_vc_width:
        grid["vc_width"] = grid["tc_width"].copy()
    return grid


def design_area_mm2(hw: Any) -> float:
    """Area of the top-level (fixed) design of a hw config."""
    return float(area_mm2(hw.n_tc, hw.n_vc, hw.tc_width, hw.tc_depth, hw.vc_width,
                          glb_mib_to_bytes(hw.glb_mib)))


def max_area_mm2(hw: Any) -> float:
    """The budget: `hw.space.max_area_mm2`, or when null the area of the config's own design
    (tpuv4_phaze for `hw=search`: 278.826676 mm²)."""
    return float(hw.space.max_area_mm2) if hw.space.max_area_mm2 is not None else design_area_mm2(hw)


def area_window(area: NDArray[np.float64], n_tc: NDArray[np.int64], n_vc: NDArray[np.int64], space: Any,
                a_max: float) -> NDArray[np.bool_]:
    """Keep `lower <= area <= a_max` with lower = min_area_fraction·a_max, or 0 for single-core designs
    when `exempt_single_core` (the original's rule)."""
    lower = np.full(area.shape, space.min_area_fraction * a_max)
    if space.exempt_single_core:
        lower[(n_tc == 1) | (n_vc == 1)] = 0.0
    return (area >= lower) & (area <= a_max)
