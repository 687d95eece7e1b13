"""What `task=inspect hw=NAME` prints about the hardware (DESIGN §1, §4)."""

from __future__ import annotations

import math
from typing import Any

from phaze.hardware.accelerators import Accelerators
from phaze.hardware.space import design_area_parts, max_area_mm2, space_size

FIXED_FIELDS = ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_mib", "glb_banks", "glb_bank_bytes",
                "tc_acc_rows_per_width", "op_issue_cycles", "op_barrier_cycles", "area_model", "hbm_gib",
                "hbm_bw_bytes_per_s",
                "hbm_achievable_fraction", "attention_core_hbm_fraction", "freq_hz", "elem_bytes",
                "tc_achievable_fraction", "gemm_wave_tile",
                "gemm_wave_slots", "node_size", "tp_link_bw_bytes_per_s", "tp_link_achievable_fraction",
                "dp_link_bw_bytes_per_s", "dp_link_achievable_fraction", "link_latency_s")
# The rates the cost model uses: datasheet x measured fraction (Accelerators.from_config).
EFFECTIVE_FIELDS = ("hbm_bw_bytes_per_s", "tp_link_bw_bytes_per_s", "dp_link_bw_bytes_per_s")


def hardware_summary(hw: Any) -> dict[str, Any]:
    """search: name, candidate counts and the area budget; fixed design: name, area (None for GPUs) and where it
    goes, peak FLOP/s and the main fields (the global-buffer bandwidth is banks x bank bytes)."""
    acc = Accelerators.from_config(hw)
    if hw.space is not None:
        return {"name": hw.name, "candidates_total": space_size(hw.space, hw), "candidates_kept": len(acc),
                "max_area_mm2": max_area_mm2(hw)}
    one = acc.row(0)
    out: dict[str, Any] = {"name": hw.name, "area_mm2": None if math.isnan(one.area_mm2) else one.area_mm2,
                           "peak_flops": one.peak_flops}
    out.update({name: getattr(hw, name) for name in FIXED_FIELDS})
    if out["gemm_wave_tile"] is not None:
        out["gemm_wave_tile"] = list(out["gemm_wave_tile"])
    out["glb_bw_bytes_per_cycle"] = one.glb_bw_bytes_per_cycle
    if hw.has_area and hw.area_model == "physical":
        out["area_parts_mm2"] = design_area_parts(hw)
    out.update({f"effective_{name}": getattr(one, name) for name in EFFECTIVE_FIELDS})
    return out
