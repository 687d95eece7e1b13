"""Accelerator designs as a struct of numpy arrays, one row per candidate (DESIGN §4).

The cost model prices an operator on every row at once, so a design is never a Python object inside a
hot loop: `Accelerators` holds one array per searched field and the shared scalars (everything
`hw=search` does not search). `Accelerator` (in `design.py`) is the frozen record of one row, for
reports and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phaze.config.hw_rules import validate
from phaze.hardware.design import ACC_BUFFERS, FLOP_PER_MAC, Accelerator
from phaze.hardware.space import (
    BYTES_PER_GIB,
    area_window,
    design_area_mm2,
    glb_mib_to_bytes,
    grid_area_mm2,
    max_area_mm2,
    space_grid,
)

ROW_FIELDS = ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_bytes", "glb_banks",
              "glb_bw_bytes_per_cycle", "area_mm2")


@dataclass(frozen=True, eq=False)
class Accelerators:
    """Candidates as arrays (one row each) plus scalars shared by all of them."""

    n_tc: NDArray[np.int64]
    n_vc: NDArray[np.int64]
    tc_width: NDArray[np.int64]
    tc_depth: NDArray[np.int64]
    vc_width: NDArray[np.int64]
    glb_bytes: NDArray[np.int64]
    glb_banks: NDArray[np.int64]
    glb_bw_bytes_per_cycle: NDArray[np.float64]
    area_mm2: NDArray[np.float64]
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
    attention_hbm_bw_bytes_per_s: float | None = None  # Op.attention_core's rate (design.Accelerator)
    vector_cost_model: str = "primitives"  # hw.vector_cost_model (phaze.cost.tables)
    tech_node_nm: float = 22.0  # hw.tech_node_nm: the node energies are priced at (phaze.cost.energy)
    static_power_w: float | None = None  # hw.static_power_w: a measured leakage per chip; None: density x area

    def __post_init__(self) -> None:
        n = len(self.n_tc)
        for name in ROW_FIELDS:
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.shape != (n,):
                raise ValueError(f"Accelerators.{name} must be a 1-D array of {n} rows")
            arr.setflags(write=False)
        if (self.gemm_wave_tile is None) != (self.gemm_wave_slots is None):
            raise ValueError("Accelerators.gemm_wave_tile and gemm_wave_slots are set together or not at all")

    def __len__(self) -> int:
        return len(self.n_tc)

    def row(self, i: int) -> Accelerator:
        values: dict[str, Any] = {}
        for f in fields(Accelerator):
            v = getattr(self, f.name)
            values[f.name] = v[i].item() if isinstance(v, np.ndarray) else v
        return Accelerator(**values)

    def take(self, index: NDArray[np.int64]) -> Accelerators:
        """The subset of rows `index`, same scalars."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({name: np.asarray(values[name])[index].copy() for name in ROW_FIELDS})
        return Accelerators(**values)

    @property
    def core_hbm_bw_bytes_per_s(self) -> float:
        """As `Accelerator.core_hbm_bw_bytes_per_s`."""
        return self.attention_hbm_bw_bytes_per_s or self.hbm_bw_bytes_per_s

    @property
    def peak_flops(self) -> NDArray[np.float64]:
        """n_tc·W·D·2·f per candidate."""
        return (self.n_tc * self.tc_width * self.tc_depth * FLOP_PER_MAC).astype(np.float64) * self.freq_hz

    @property
    def tc_block_rows(self) -> NDArray[np.int64]:
        """Rows of one accumulator buffer's output block per candidate (`Accelerator.tc_block_rows`)."""
        return self.tc_acc_rows_per_width * self.tc_width // ACC_BUFFERS

    @property
    def n_cores(self) -> NDArray[np.int64]:
        """n_tc + n_vc: the cores that share the global buffer's capacity and bandwidth and HBM."""
        return self.n_tc + self.n_vc

    def groups(self, *names: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(first row of each distinct combination of the row fields `names`, inverse map row -> group).

        An op's cost in a mode depends on a few fields only (all-core GEMMs on n_tc, W, D, buffer and banks:
        4,186 groups of the 2024 space), so it is priced once per group and broadcast back.
        """
        cache: dict[tuple[str, ...], tuple[NDArray[np.int64], NDArray[np.int64]]] = self.__dict__.setdefault(
            "_groups", {})
        if names not in cache:
            code = np.zeros(len(self), dtype=np.int64)
            for name in names:  # mixed-radix code of each column's rank: one 1-D unique instead of a row sort
                values = np.asarray(getattr(self, name))
                _, rank = np.unique(values.view(np.int64) if values.dtype == np.float64 else values,
                                    return_inverse=True)
                code = code * (int(rank.max(initial=0)) + 1) + rank.reshape(-1)
            _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
            cache[names] = (first, inverse.reshape(-1))
        return cache[names]

    @classmethod
    def from_rows(cls, rows: list[Accelerator]) -> Accelerators:
        """Stack designs that share every scalar (clock, HBM, links, ...) into one array set."""
        if not rows:
            raise ValueError("Accelerators.from_rows needs at least one design")
        scalars = [f.name for f in fields(cls) if f.name not in ROW_FIELDS]
        for r in rows[1:]:
            diff = [name for name in scalars if getattr(r, name) != getattr(rows[0], name)]
            if diff:
                raise ValueError(f"Accelerators.from_rows: designs differ in shared fields {diff}")
        dtypes = {"glb_bw_bytes_per_cycle": np.float64, "area_mm2": np.float64}
        cols = {name: np.array([getattr(r, name) for r in rows], dtype=dtypes.get(name, np.int64))
                for name in ROW_FIELDS}
        return cls(**cols, **{name: getattr(rows[0], name) for name in scalars})

    @classmethod
    def from_config(cls, hw: Any) -> Accelerators:
        """Fixed design (`hw.space` null): one row; `hw=search`: the kept candidates in enumeration order
        (C order over n_tc, n_vc, W, D, [W_vc,] glb, [banks] — deterministic)."""
        validate(hw)
        if hw.space is None:
            cols = {name: np.array([getattr(hw, name)], dtype=np.int64)
                    for name in ("n_tc", "n_vc", "tc_width", "tc_depth", "vc_width", "glb_banks")}
            cols["glb_bytes"] = np.array([glb_mib_to_bytes(hw.glb_mib)], dtype=np.int64)
            area = design_area_mm2(hw) if hw.has_area else np.nan
            cols["area_mm2"] = np.array([area], dtype=np.float64)
        else:
            grid = space_grid(hw.space, hw)
            area = grid_area_mm2(grid, hw, prefix="hw.space.")
            keep = np.flatnonzero(area_window(area, grid["n_tc"], grid["n_vc"], hw.space, max_area_mm2(hw)))
            cols = {name: arr[keep] for name, arr in grid.items()}
            cols["area_mm2"] = area[keep]
        glb_bw = cols["glb_banks"] * int(hw.glb_bank_bytes)
        return cls(**cols, glb_bw_bytes_per_cycle=np.asarray(glb_bw, dtype=np.float64),
                   freq_hz=float(hw.freq_hz), hbm_bytes=round(hw.hbm_gib * BYTES_PER_GIB),
                   hbm_bw_bytes_per_s=float(hw.hbm_bw_bytes_per_s) * float(hw.hbm_achievable_fraction),
                   elem_bytes=int(hw.elem_bytes), glb_bank_bytes=int(hw.glb_bank_bytes),
                   tc_acc_rows_per_width=int(hw.tc_acc_rows_per_width), op_issue_cycles=int(hw.op_issue_cycles),
                   op_barrier_cycles=int(hw.op_barrier_cycles),
                   tc_achievable_fraction=float(hw.tc_achievable_fraction), node_size=int(hw.node_size),
                   tp_link_bw_bytes_per_s=float(hw.tp_link_bw_bytes_per_s) * float(hw.tp_link_achievable_fraction),
                   dp_link_bw_bytes_per_s=float(hw.dp_link_bw_bytes_per_s) * float(hw.dp_link_achievable_fraction),
                   link_latency_s=float(hw.link_latency_s),
                   gemm_wave_tile=None if hw.gemm_wave_tile is None else (int(hw.gemm_wave_tile[0]),
                                                                          int(hw.gemm_wave_tile[1])),
                   gemm_wave_slots=None if hw.gemm_wave_slots is None else int(hw.gemm_wave_slots),
                   attention_hbm_bw_bytes_per_s=None if hw.attention_core_hbm_fraction is None
                   else float(hw.hbm_bw_bytes_per_s) * float(hw.attention_core_hbm_fraction),
                   vector_cost_model=str(hw.vector_cost_model), tech_node_nm=float(hw.tech_node_nm),
                   static_power_w=None if hw.static_power_w is None else float(hw.static_power_w))
