"""Schema of the `hw` group: one accelerator design, or the search space of designs (DESIGN §4).

A fixed design (`hw=tpuv4`, `a100`, ...) fills the top-level fields and leaves `space` null. `hw=search`
takes every top-level field from `tpuv4_phaze` (so candidates and the TPUv4 baselines differ only in the
searched fields) and adds a `space`: power-of-two ranges, the `W_vc = W` tie and the area window — all
data, nothing hard-wired (the original fixed them in code: docs/phaze-original.md §8 B17).

Field names carry their unit. The field rules are in `hw_rules.validate` (dataclass or composed DictConfig).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# How vector ops are priced (phaze.cost.tables, docs/vector_costs.md): from per-primitive cycles (the default) or
# with the original's per-op table
VECTOR_COST_MODELS = ("primitives", "phaze")


@dataclass
class Pow2Range:
    """Inclusive range of powers of two: min, factor·min, factor²·min, ... up to max (factor a power of two)."""

    min: int = 1
    max: int = 1
    factor: int = 2


@dataclass
class SpaceConfig:
    """The search space of `hw=search`; defaults reproduce the original (docs/phaze-original.md §3.2)."""

    n_tc: Pow2Range = field(default_factory=lambda: Pow2Range(1, 4096))
    n_vc: Pow2Range = field(default_factory=lambda: Pow2Range(1, 4096))
    tc_width: Pow2Range = field(default_factory=lambda: Pow2Range(2, 256))
    tc_depth: Pow2Range = field(default_factory=lambda: Pow2Range(2, 256))
    vc_width: Pow2Range = field(default_factory=lambda: Pow2Range(2, 256))  # ignored when tied
    glb_mib: Pow2Range = field(default_factory=lambda: Pow2Range(2, 128))
    # banks of the global buffer, each one access of hw.glb_bank_bytes per cycle (the buffer's bandwidth)
    glb_banks: Pow2Range = field(default_factory=lambda: Pow2Range(1, 256, 4))
    tie_vc_width: bool = True  # W_vc = W (the original's enumeration)
    max_area_mm2: float | None = None  # null: the area of this config's top-level design (tpuv4_phaze)
    min_area_fraction: float = 0.3  # keep area >= fraction·max_area ...
    exempt_single_core: bool = True  # ... except when n_tc == 1 or n_vc == 1 (lower bound 0)
    # Power budget per chip, W: a (design, setting) whose busiest layer pass draws more is `over_power` (listed,
    # never searched); null = none. TPUv4's published 170 W mean / 192 W max is the natural budget of its class.
    max_power_w: float | None = None


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
    # The global buffer is glb_banks banks of glb_bank_bytes port width, one access per bank per cycle:
    # bandwidth = glb_banks·glb_bank_bytes bytes/cycle (bank conflicts ignored). Never derived from demand.
    glb_banks: int = 96
    glb_bank_bytes: int = 64
    # fp32 accumulator rows per array row W of each tensor core, double-buffered (TPUv1: 4096 rows for a
    # 256-wide array, Jouppi et al. ISCA 2017): an output block holds tc_acc_rows_per_width·W/2 rows.
    tc_acc_rows_per_width: int = 16
    hbm_gib: float = 32.0
    hbm_bw_bytes_per_s: float = 1.2e12
    freq_hz: float = 1.05e9
    elem_bytes: int = 2
    # Issue and synchronisation cost of every GEMM / vector op: op_issue_cycles + op_barrier_cycles·log2(cores
    # the op spans) (an assumption, not a measurement: benchmarks/control_cost.py prints its sensitivity).
    op_issue_cycles: int = 0
    op_barrier_cycles: int = 0
    # Fraction of the tensor-core peak a large dense GEMM sustains on the real part (measured, never fitted
    # to a workload); 1.0 for PHAZE's ideal template arrays. It scales GEMM compute time only, never peak.
    tc_achievable_fraction: float = 1.0
    # Measured fractions of the datasheet HBM and link bandwidths that streaming kernels and ring
    # collectives sustain on the real part (1.0 for the template). Accelerators holds the effective rates.
    hbm_achievable_fraction: float = 1.0
    # Measured fraction of the datasheet HBM bandwidth the attention core's kernels sustain (the ops that
    # stream the b·a·s² score tensor: Op.attention_core). null: hbm_achievable_fraction, as for any kernel.
    attention_core_hbm_fraction: float | None = None
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
    vector_cost_model: str = "primitives"  # one of VECTOR_COST_MODELS
    has_area: bool = True  # false for GPUs: the area model describes PHAZE's template only
    # physical: arrays, accumulators, banked global buffer, crossbar and per-core control (DESIGN §4);
    # phaze2024: the original PHAZE closed form (278.826676 mm² for tpuv4_phaze; banks not searched)
    area_model: str = "physical"
    # Energy (phaze.cost.energy, docs/energy.md): the node energies are priced at (the area model's 22 nm by
    # default; scaled by Stillmaker & Baas 2017 as Accelergy does, 7-130 nm), and a chip's static power: null
    # = leakage density x modelled area; designs without area (GPUs) give a figure.
    tech_node_nm: float = 22.0
    static_power_w: float | None = None
    space: SpaceConfig | None = None
