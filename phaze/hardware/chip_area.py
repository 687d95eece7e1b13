"""Physical area model of the accelerator template at 22 nm, in mm² (DESIGN §4): every resource a design can
use costs area.

    area = n_tc·(W·D·a_pe + SRAM(local buffer) + SRAM(accumulator) + a_control)
         + n_vc·(W_vc·a_lane + SRAM(local buffer) + a_control)
         + SRAM(glb_bytes in >= glb_banks banks of 8·glb_bank_bytes bits)
         + crossbar(banks x bank bits -> cores x port bits)

- arrays, lanes and per-core local buffers: the refit of the original PHAZE's Accelergy/CACTI 22 nm figures
  (phaze/data/area_tables.csv), so a design's compute costs what it cost in 2024;
- accumulators: `tc_acc_rows_per_width·W` rows x D columns of fp32 per tensor core (TPUv1's 4 MiB for one
  256 x 256 array, Jouppi et al. ISCA 2017), an SRAM with a D x 32-bit read and write port (CACTI 7 at 22 nm,
  `phaze.hardware.sram`, docs/sram.md);
- the global buffer: banks of SRAM (CACTI 7, one read/write port), each `glb_bytes / glb_banks` with a port of
  `glb_bank_bytes`; the buffer's bandwidth is banks x port bytes per cycle, so bandwidth costs banks' periphery;
- the crossbar from the banks to the cores: CACTI's rule (crossbar.cc) for an n_in x n_out crossbar of
  flit f bits is n_in·n_out·f²·pitch², a grid of n_in·f by n_out·f wires (pitch: CACTI's 22 nm semi-global
  wires, 0.088 µm; an output port is at least its cross-point buffers' 25.2 µm wide). With the banks' ports on
  one side and each core's own port on the other it is (Σ bank bits·pitch) x (Σ core port widths); a tensor
  core's port carries W inputs + D weights in and D outputs out per cycle, a vector core's W_vc in and out;
- control and DMA per core: LLMCompass's control logic per vector lane (996k transistors at 96.3 MTr/mm²,
  N7) charged once per core, scaled to 22 nm by Accelergy's linear node rule.

`chip_area_mm2` returns the parts too, so reports can say where a design's area goes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phaze.hardware.area import LOCAL_BUFFER_FLOOR_BYTES, UM2_PER_MM2, area_tables, local_buffer_bytes, table_area_um2
from phaze.hardware.design import ACC_ELEM_BYTES
from phaze.hardware.sram import CACTI_SEMI_GLOBAL_PITCH_22NM_UM, CACTI_TRISTATE_WIDTH_22NM_UM, sram_area_mm2

BITS_PER_BYTE = 8
# LLMCompass cost_model/cost_model.py: control logic per vector lane, 996,000 transistors; its N7 density
# 96.3 MTr/mm² (the same file's N7 figure). Charged once per core here.
CONTROL_TRANSISTORS_PER_CORE = 996_000
N7_TRANSISTORS_PER_MM2 = 96.3e6
# Accelergy CACTI plug-in (cacti_wrapper.py): area scales linearly with the node below 22 nm.
N7_TO_22NM_AREA = 22.0 / 7.0
CONTROL_MM2_PER_CORE = CONTROL_TRANSISTORS_PER_CORE / N7_TRANSISTORS_PER_MM2 * N7_TO_22NM_AREA
# An accumulator reads a row of partial sums and writes it back every cycle: one read and one write port.
ACCUMULATOR_PORTS = "1r1w"
# A global-buffer bank takes one access per cycle (the bandwidth rule of hw.glb_banks).
GLB_BANK_PORTS = "1rw"
# The smallest SRAM macro of the CACTI table (phaze/data/sram_22nm.csv): organisations stop there.
SMALLEST_MACRO_BYTES = 1024


@dataclass(frozen=True)
class ChipArea:
    """A design's area by part, mm² (arrays broadcast over candidates)."""

    tensor_cores: NDArray[np.float64]  # arrays + local buffers
    accumulators: NDArray[np.float64]
    vector_cores: NDArray[np.float64]  # lanes + local buffers
    control: NDArray[np.float64]
    global_buffer: NDArray[np.float64]
    crossbar: NDArray[np.float64]

    @property
    def total(self) -> NDArray[np.float64]:
        return (self.tensor_cores + self.accumulators + self.vector_cores + self.control + self.global_buffer
                + self.crossbar)

    def parts(self, i: int = 0) -> dict[str, float]:
        """Row i's parts as plain floats, in the order above."""
        return {name: float(np.asarray(getattr(self, name)).reshape(-1)[i])
                for name in ("tensor_cores", "accumulators", "vector_cores", "control", "global_buffer", "crossbar")}


def port_width_um(bits: ArrayLike) -> NDArray[np.float64]:
    """Width one output port takes in CACTI's crossbar: its wires, or its cross-point buffers when wider
    (crossbar.cc: max(w_tri, flit·pitch), `sram.crossbar_area_mm2`)."""
    wires_um = np.asarray(bits, dtype=np.float64) * CACTI_SEMI_GLOBAL_PITCH_22NM_UM
    return np.maximum(CACTI_TRISTATE_WIDTH_22NM_UM, wires_um)


def crossbar_mm2(in_bits: ArrayLike, out_width_um: ArrayLike) -> NDArray[np.float64]:
    """CACTI's crossbar rule over unequal ports: (Σ input bits·pitch) x (Σ output port widths), mm²; for equal
    ports it is `sram.crossbar_area_mm2`'s n_in·flit·pitch·n_out·max(w_tri, flit·pitch)."""
    height_um = np.asarray(in_bits, dtype=np.float64) * CACTI_SEMI_GLOBAL_PITCH_22NM_UM
    return height_um * np.asarray(out_width_um, dtype=np.float64) / UM2_PER_MM2


def banked_buffer_macros(capacity_bytes: ArrayLike, banks: ArrayLike, bank_bits: int, field: str) -> NDArray[np.int64]:
    """How many equal macros the area model builds a buffer of `capacity_bytes` with `banks` banks from: the
    cheapest k >= banks (powers of two times `banks`, macros of at least SMALLEST_MACRO_BYTES), k·SRAM(capacity / k,
    bank_bits). CACTI's macros are not monotone in size (one 2 MiB macro is larger than two of 1 MiB), and a buffer
    with fewer ports can always be built from more, smaller macros behind a multiplexer (its area not modelled),
    so the price of `banks` banks is never below that of fewer: more bandwidth never costs less area."""
    cap, b = np.asarray(capacity_bytes, dtype=np.int64), np.asarray(banks, dtype=np.int64)
    best = b * sram_area_mm2(cap // b, bank_bits, field, GLB_BANK_PORTS, cap / b / 2**20)  # names the field
    macros = np.broadcast_to(b, np.broadcast(cap, b).shape).copy()
    k = b * 2
    while True:
        ok = cap // k >= SMALLEST_MACRO_BYTES
        if not ok.any():
            return macros
        size = np.where(ok, cap // k, SMALLEST_MACRO_BYTES)
        area = k * sram_area_mm2(size, bank_bits, field, GLB_BANK_PORTS)
        better = ok & (area < best)
        best = np.where(better, area, best)
        macros = np.where(better, k, macros)
        k = k * 2


def banked_buffer_mm2(capacity_bytes: ArrayLike, banks: ArrayLike, bank_bits: int, field: str) -> NDArray[np.float64]:
    """Area of a buffer of `capacity_bytes` with `banks` independent banks of `bank_bits` ports, mm²: the
    organisation `banked_buffer_macros` picks, k·SRAM(capacity / k, bank_bits)."""
    cap = np.asarray(capacity_bytes, dtype=np.int64)
    k = banked_buffer_macros(cap, banks, bank_bits, field)
    return np.asarray(k * sram_area_mm2(cap // k, bank_bits, field, GLB_BANK_PORTS), dtype=np.float64)


def tc_port_bits(tc_width: ArrayLike, tc_depth: ArrayLike, elem_bytes: int) -> NDArray[np.int64]:
    """Bits a tensor core moves per cycle at full rate: W inputs + D weights in, D outputs out."""
    w, d = np.asarray(tc_width, dtype=np.int64), np.asarray(tc_depth, dtype=np.int64)
    return (w + 2 * d) * elem_bytes * BITS_PER_BYTE


def vc_port_bits(vc_width: ArrayLike, elem_bytes: int) -> NDArray[np.int64]:
    """Bits a vector core moves per cycle at full rate: W_vc elements in and W_vc out."""
    return 2 * np.asarray(vc_width, dtype=np.int64) * elem_bytes * BITS_PER_BYTE


def accumulator_bytes(tc_width: ArrayLike, tc_depth: ArrayLike, acc_rows_per_width: int) -> NDArray[np.int64]:
    """fp32 accumulator of one tensor core: acc_rows_per_width·W rows x D columns x 4 bytes, at least the
    smallest SRAM macro priced (LOCAL_BUFFER_FLOOR_BYTES, as the original's local buffers)."""
    w, d = np.asarray(tc_width, dtype=np.int64), np.asarray(tc_depth, dtype=np.int64)
    return np.maximum(acc_rows_per_width * w * d * ACC_ELEM_BYTES, LOCAL_BUFFER_FLOOR_BYTES)


def chip_area_mm2(n_tc: ArrayLike, n_vc: ArrayLike, tc_width: ArrayLike, tc_depth: ArrayLike, vc_width: ArrayLike,
                  glb_bytes: ArrayLike, glb_banks: ArrayLike, *, glb_bank_bytes: int, acc_rows_per_width: int,
                  elem_bytes: int, prefix: str = "hw.") -> ChipArea:
    """Area of each design by part (element-wise over broadcast arrays), mm² (module doc)."""
    t = area_tables()
    n_tc64, n_vc64 = np.asarray(n_tc, dtype=np.int64), np.asarray(n_vc, dtype=np.int64)
    w, d, wv = (np.asarray(a, dtype=np.int64) for a in (tc_width, tc_depth, vc_width))
    banks, glb = np.asarray(glb_banks, dtype=np.int64), np.asarray(glb_bytes, dtype=np.int64)
    tc_local = table_area_um2(local_buffer_bytes(w * d), t.l2_bytes, t.l2_um2,
                              f"{prefix}tc_width·{prefix}tc_depth", w * d) / UM2_PER_MM2
    vc_local = table_area_um2(local_buffer_bytes(wv), t.l2_bytes, t.l2_um2, f"{prefix}vc_width", wv) / UM2_PER_MM2
    acc = sram_area_mm2(accumulator_bytes(w, d, acc_rows_per_width), d * ACC_ELEM_BYTES * BITS_PER_BYTE,
                        f"{prefix}tc_width·{prefix}tc_depth·hw.tc_acc_rows_per_width", ACCUMULATOR_PORTS, w * d)
    bank_bits = glb_bank_bytes * BITS_PER_BYTE
    glb_area = banked_buffer_mm2(glb, banks, bank_bits, f"{prefix}glb_mib/{prefix}glb_banks")
    core_width = n_tc64 * port_width_um(tc_port_bits(w, d, elem_bytes)) + n_vc64 * port_width_um(
        vc_port_bits(wv, elem_bytes))
    f64 = np.float64
    return ChipArea(
        tensor_cores=n_tc64.astype(f64) * ((w * d).astype(f64) * t.pe_um2 / UM2_PER_MM2 + tc_local),
        accumulators=n_tc64.astype(f64) * acc,
        vector_cores=n_vc64.astype(f64) * (wv.astype(f64) * t.lane_um2 / UM2_PER_MM2 + vc_local),
        control=(n_tc64 + n_vc64).astype(f64) * CONTROL_MM2_PER_CORE,
        global_buffer=np.asarray(glb_area, dtype=f64),
        crossbar=crossbar_mm2(banks * bank_bits, core_width),
    )
