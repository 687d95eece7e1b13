"""One accelerator design as a frozen record: the row fields plus the shared scalars (DESIGN §4).

Separate from `accelerators.py` because a single design is what reports, tests and the plain-Python
reference cost model handle, and it needs neither numpy nor the search-space enumeration; the arrays in
`Accelerators` stay the only form the hot loops see.
"""

from __future__ import annotations

from dataclasses import dataclass

FLOP_PER_MAC = 2
# A tensor core's accumulator is two buffers (one filling, one draining to the global buffer), as TPUv1's
# 4096 rows were 2 x 2048 so the compiler could double-buffer (Jouppi et al., ISCA 2017, §2).
ACC_BUFFERS = 2
# Partial sums are fp32: TPUv1's accumulators are 32-bit (Jouppi et al., ISCA 2017, §2), as are the MXU
# result buffers of later TPUs (jax-ml scaling book, "TPUs": bf16 x bf16 -> f32).
ACC_ELEM_BYTES = 4


@dataclass(frozen=True)
class Accelerator:
    """One design: the row fields plus the shared scalars, SI units.

    The HBM and link bandwidths are the effective ones: datasheet rate x the config's measured
    achievable fraction (1.0 for the template), so every consumer prices memory and collectives alike.
    """

    n_tc: int
    n_vc: int
    tc_width: int
    tc_depth: int
    vc_width: int
    glb_bytes: int
    glb_banks: int
    glb_bw_bytes_per_cycle: float  # glb_banks·glb_bank_bytes
    area_mm2: float  # NaN when the design has no area (GPUs)
    freq_hz: float
    hbm_bytes: int
    hbm_bw_bytes_per_s: float
    elem_bytes: int
    glb_bank_bytes: int
    tc_acc_rows_per_width: int
    op_issue_cycles: int
    op_barrier_cycles: int
    tc_achievable_fraction: float
    node_size: int
    tp_link_bw_bytes_per_s: float
    dp_link_bw_bytes_per_s: float
    link_latency_s: float
    gemm_wave_tile: tuple[int, int] | None = None
    gemm_wave_slots: int | None = None
    # HBM rate of the attention core's kernels (Op.attention_core); None: hbm_bw_bytes_per_s
    attention_hbm_bw_bytes_per_s: float | None = None
    vector_cost_model: str = "primitives"  # how vector ops are priced (hw.vector_cost_model, phaze.cost.tables)
    tech_node_nm: float = 22.0  # the node energies are priced at (phaze.cost.energy)
    static_power_w: float | None = None  # measured leakage per chip; None: density x modelled area

    @property
    def core_hbm_bw_bytes_per_s(self) -> float:
        """The HBM rate an attention-core op streams at (the chip's own where none is measured; a measured
        rate is always > 0, `hw_rules.validate`)."""
        return self.attention_hbm_bw_bytes_per_s or self.hbm_bw_bytes_per_s

    @property
    def tc_block_rows(self) -> int:
        """Rows of the output block one accumulator buffer holds: tc_acc_rows_per_width·W / ACC_BUFFERS."""
        return self.tc_acc_rows_per_width * self.tc_width // ACC_BUFFERS

    @property
    def peak_flops(self) -> float:
        """n_tc·W·D MACs per cycle, 2 FLOP each."""
        return float(self.n_tc * self.tc_width * self.tc_depth * FLOP_PER_MAC * self.freq_hz)
