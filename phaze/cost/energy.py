"""Energy of every op on every candidate, per device, in both modes (issue 19; docs/energy.md).

An op's energy is the sum of what it does, each priced per event at the design's technology node:

    E = MACs·e_mac                                  bf16 multiply + fp32 add (Horowitz, ISSCC 2014)
      + lane-cycles·e_lane                          vector work: each primitive's lane-cycles
                                                    (phaze/data/vector_primitives.csv) x an fp32 multiply + add
      + accumulator updates·(e_read + e_write)/D    each output, once per W-deep slice of its reduction, is read
                                                    and written back as one row of D fp32 partial sums (CACTI)
      + (GLB bytes + HBM bytes)·e_glb               bytes between the buffer and the cores, and the fills and
                                                    spills between the buffer and HBM, at one buffer macro's
                                                    per-byte energy (mean of read and write, CACTI; the macro
                                                    the area model builds the buffer from)
      + HBM bytes·8·e_hbm                           HBM2 pJ/bit (Accelergy's DRAM table)
      + wire bytes·8·e_link                         a collective's ring bytes per rank (2(g-1)/g of an
                                                    all-reduce), on the intra- or inter-node link

The traffic is the cost model's own (`price_detail`: a GEMM's tiling in each mode, a vector op's bytes), so
energy and time always describe the same schedule. Constants come from phaze/data/energy_constants.csv (with
sources) and the CACTI table (phaze/data/sram_22nm.csv, 22 nm). Energies scale from the node each was
published at to `hw.tech_node_nm` by Stillmaker & Baas's scaling equations (Integration 58, 2017), as tabulated in
Accelergy's scaling code: a quadratic in Vdd per node at Vdd = 0.8 V (Accelergy's default); between tabulated nodes
phaze interpolates linearly in the node (Accelergy's own interpolation between nodes may differ); leakage scales as
energy. Links and HBM are node-independent. Static power is each part's leakage density x its area
(`static_power_w`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from phaze.cost.collectives import fits_node, ring_bytes_per_rank
from phaze.cost.price import Priced, lane_cycles_per_element, price_detail
from phaze.hardware.accelerators import Accelerators
from phaze.hardware.chip_area import (
    ACCUMULATOR_PORTS,
    BITS_PER_BYTE,
    GLB_BANK_PORTS,
    accumulator_bytes,
    banked_buffer_macros,
)
from phaze.hardware.design import ACC_ELEM_BYTES
from phaze.hardware.sram import sram_area_mm2, sram_leakage_mw, sram_read_pj, sram_write_pj
from phaze.model.ops import Op, OpKind

CONSTANTS_CSV = Path(__file__).resolve().parents[1] / "data" / "energy_constants.csv"
PJ = 1e-12
# The node of the CACTI table (phaze/data/sram_22nm.csv) and of the area model.
SRAM_TABLE_NODE_NM = 22.0
# Where the energy goes (`OpEnergy` parts, result.json `energy_parts`).
PARTS = ("arithmetic", "sram", "hbm", "link")
# Off-chip signalling does not follow logic scaling: these keep their published value at every node.
NODE_INDEPENDENT = frozenset({"hbm2_pj_per_bit", "intra_node_link_pj_per_bit", "inter_node_link_pj_per_bit"})

# Stillmaker & Baas, "Scaling equations for the accurate prediction of CMOS device performance from 180 nm to
# 7 nm", Integration 58 (2017), Table 4 (energy): per node, E ∝ a·Vdd² + b·Vdd + c.
SCALING_NODES_NM = (130.0, 90.0, 65.0, 45.0, 32.0, 20.0, 16.0, 14.0, 10.0, 7.0)
SCALING_ENERGY_POLY = ((7.171, -6.709, 2.904), (4.762, -4.781, 2.092), (3.755, -4.398, 1.975),
                       (1.103, -0.362, 0.2767), (0.9559, -0.7823, 0.471), (0.373, -0.1582, 0.04104),
                       (0.2958, -0.1241, 0.03024), (0.2363, -0.09675, 0.02239), (0.2068, -0.09311, 0.02375),
                       (0.1776, -0.09097, 0.02447))
# The supply voltage Accelergy evaluates those polynomials at when none is given.
SCALING_VDD = 0.8


def _node_energy_factor(node_nm: float) -> float:
    """a·Vdd² + b·Vdd + c at `node_nm`, linear between the two tabulated nodes around it."""
    nodes = SCALING_NODES_NM
    if not nodes[-1] <= node_nm <= nodes[0]:
        raise ValueError(f"technology node {node_nm} nm is outside the scaling table ({nodes[-1]:g}-{nodes[0]:g} nm)")
    values = [a * SCALING_VDD**2 + b * SCALING_VDD + c for a, b, c in SCALING_ENERGY_POLY]
    for k in range(len(nodes) - 1):
        hi, lo = nodes[k], nodes[k + 1]
        if lo <= node_nm <= hi:
            frac = (hi - node_nm) / (hi - lo)
            return values[k] * (1.0 - frac) + values[k + 1] * frac
    raise AssertionError("unreachable")


def energy_scale(from_nm: float, to_nm: float) -> float:
    """Factor that takes an energy (or leakage) published at `from_nm` to `to_nm` (module doc)."""
    return _node_energy_factor(to_nm) / _node_energy_factor(from_nm)


@dataclass(frozen=True)
class Constant:
    value: float
    unit: str
    node_nm: float | None
    source: str


@cache
def energy_constants() -> dict[str, Constant]:
    """phaze/data/energy_constants.csv by quantity name."""
    out = {}
    with CONSTANTS_CSV.open(newline="") as fh:
        for row in csv.DictReader(fh):
            node = row["node_nm"].strip()
            out[row["quantity"]] = Constant(float(row["value"]), row["unit"], float(node) if node else None,
                                            row["source"])
    return out


def _at(name: str, node_nm: float) -> float:
    """Constant `name` at `node_nm` (node-independent ones as published)."""
    c = energy_constants()[name]
    if c.node_nm is None or name in NODE_INDEPENDENT:
        return c.value
    return c.value * energy_scale(c.node_nm, node_nm)


@dataclass(frozen=True)
class EventEnergy:
    """Energy per event at one node, joules (scalars shared by all candidates)."""

    mac_j: float  # one bf16 multiply + fp32 accumulate
    lane_cycle_j: float  # one vector lane-cycle: an fp32 multiply + add
    hbm_j_per_byte: float
    intra_link_j_per_byte: float
    inter_link_j_per_byte: float
    leakage_w_per_mm2: float

    @classmethod
    def at(cls, node_nm: float) -> EventEnergy:
        bits = BITS_PER_BYTE * PJ
        return cls(
            mac_j=(_at("fp16_mult_pj", node_nm) + _at("fp32_add_pj", node_nm)) * PJ,
            lane_cycle_j=(_at("fp32_mult_pj", node_nm) + _at("fp32_add_pj", node_nm)) * PJ,
            hbm_j_per_byte=_at("hbm2_pj_per_bit", node_nm) * bits,
            intra_link_j_per_byte=_at("intra_node_link_pj_per_bit", node_nm) * bits,
            inter_link_j_per_byte=_at("inter_node_link_pj_per_bit", node_nm) * bits,
            leakage_w_per_mm2=_at("logic_leakage_w_per_mm2", node_nm),
        )


def glb_macro_bytes(acc: Accelerators) -> NDArray[np.int64]:
    """(C,) bytes of one global-buffer SRAM macro: the organisation the area model prices (`banked_buffer_macros`:
    the cheapest split into k >= glb_banks macros), so energy, leakage and area describe the same buffer."""
    cached: NDArray[np.int64] | None = acc.__dict__.get("_glb_macro_bytes")
    if cached is None:
        k = banked_buffer_macros(acc.glb_bytes, acc.glb_banks, acc.glb_bank_bytes * BITS_PER_BYTE,
                                 "hw.glb_mib/hw.glb_banks")
        cached = acc.__dict__["_glb_macro_bytes"] = np.asarray(acc.glb_bytes // k, dtype=np.int64)
    return cached


def sram_j(acc: Accelerators) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per candidate: (joules per accumulator update of one output element, joules per global-buffer byte)."""
    scale = energy_scale(SRAM_TABLE_NODE_NM, acc.tech_node_nm) * PJ
    w, d = acc.tc_width, acc.tc_depth
    acc_bytes = accumulator_bytes(w, d, acc.tc_acc_rows_per_width)
    row_bits = d * ACC_ELEM_BYTES * BITS_PER_BYTE
    field = "hw.tc_width·hw.tc_depth·hw.tc_acc_rows_per_width"
    update = (sram_read_pj(acc_bytes, row_bits, field, ACCUMULATOR_PORTS)
              + sram_write_pj(acc_bytes, row_bits, field, ACCUMULATOR_PORTS)) / d
    bank = glb_macro_bytes(acc)
    bits = acc.glb_bank_bytes * BITS_PER_BYTE
    per_access = 0.5 * (sram_read_pj(bank, bits, "hw.glb_mib/hw.glb_banks", GLB_BANK_PORTS)
                        + sram_write_pj(bank, bits, "hw.glb_mib/hw.glb_banks", GLB_BANK_PORTS))
    per_byte = np.asarray(per_access, dtype=np.float64) / acc.glb_bank_bytes
    return np.asarray(update, dtype=np.float64) * scale, per_byte * scale


def static_power_w(acc: Accelerators) -> NDArray[np.float64]:
    """Leakage per chip, W (each part at its own density, so static power is proportional to area part by part):

        k·leak(buffer macro) + n_tc·leak(accumulator)            CACTI 7's leakage of those SRAM macros (the
                                                                 k macros the area model builds the buffer from)
        + logic leakage density x (area − those macros' area)    Aladdin's 40 nm FP units (energy_constants.csv)

    at the design's node (Accelergy scales leakage as energy). `hw.static_power_w` replaces it where the config
    gives a measured figure (GPUs have no modelled area); a design with neither has NaN (unknown) static power,
    and so NaN power and energy per token."""
    cached: NDArray[np.float64] | None = acc.__dict__.get("_static_power_w")
    if cached is not None:
        return cached
    out = _static_power_w(acc)
    out.setflags(write=False)
    acc.__dict__["_static_power_w"] = out  # per design set, like Accelerators.groups: priced once per search
    return out


def _static_power_w(acc: Accelerators) -> NDArray[np.float64]:
    if acc.static_power_w is not None:
        return np.full(len(acc), float(acc.static_power_w))
    bank = glb_macro_bytes(acc)
    macros = acc.glb_bytes // bank
    bits = acc.glb_bank_bytes * BITS_PER_BYTE
    acc_bytes = accumulator_bytes(acc.tc_width, acc.tc_depth, acc.tc_acc_rows_per_width)
    row_bits = acc.tc_depth * ACC_ELEM_BYTES * BITS_PER_BYTE
    f_glb, f_acc = "hw.glb_mib/hw.glb_banks", "hw.tc_width·hw.tc_depth·hw.tc_acc_rows_per_width"
    sram_mw = (macros * sram_leakage_mw(bank, bits, f_glb, GLB_BANK_PORTS)
               + acc.n_tc * sram_leakage_mw(acc_bytes, row_bits, f_acc, ACCUMULATOR_PORTS))
    sram_mm2 = (macros * sram_area_mm2(bank, bits, f_glb, GLB_BANK_PORTS)
                + acc.n_tc * sram_area_mm2(acc_bytes, row_bits, f_acc, ACCUMULATOR_PORTS))
    logic_mm2 = np.maximum(acc.area_mm2 - sram_mm2, 0.0)
    sram_w = sram_mw * 1e-3 * energy_scale(SRAM_TABLE_NODE_NM, acc.tech_node_nm)
    return np.asarray(sram_w + EventEnergy.at(acc.tech_node_nm).leakage_w_per_mm2 * logic_mm2, dtype=np.float64)


@dataclass(frozen=True)
class OpEnergy:
    """Per (candidate, op), joules per device, by part, in each mode (`PARTS`)."""

    single: dict[str, NDArray[np.float64]]
    intra: dict[str, NDArray[np.float64]]

    def total(self, intra: bool) -> NDArray[np.float64]:
        parts = self.intra if intra else self.single
        return sum(parts[p] for p in PARTS)  # type: ignore[return-value]


def op_energy(ops: list[Op], acc: Accelerators, priced: Priced | None = None) -> OpEnergy:
    """Every op's energy on every candidate in both modes (module doc); `priced` is `price_detail(ops, acc)`
    when the caller has it."""
    p = priced if priced is not None else price_detail(ops, acc)
    ev = EventEnergy.at(acc.tech_node_nm)
    update_j, glb_j = sram_j(acc)
    shape = (len(acc), len(ops))
    arith, acc_upd, link = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    cycles = lane_cycles_per_element(ops, acc)  # the lane-cycles per element the vector times use
    for i, op in enumerate(ops):
        lane_cycles = float(op.numel) * float(cycles[i])
        if op.kind == OpKind.GEMM and op.gemm is not None:
            b, n, m, c = op.gemm
            arith[:, i] = float(b * n * m * c) * ev.mac_j + lane_cycles * ev.lane_cycle_j
            slices = -(-c // acc.tc_width)
            acc_upd[:, i] = float(b * n * m) * slices * update_j
        elif op.kind == OpKind.VECTOR:
            arith[:, i] = lane_cycles * ev.lane_cycle_j
        elif op.kind == OpKind.COLLECTIVE:
            if op.collective is None:
                raise ValueError(f"op {op.name!r}: a collective op needs its `collective` kind")
            per_byte = ev.intra_link_j_per_byte if fits_node(op.group, acc.node_size) else ev.inter_link_j_per_byte
            link[:, i] = ring_bytes_per_rank(op.collective, op.comm_bytes, op.group) * per_byte

    def mode(hbm: NDArray[np.float64], glb: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        return {"arithmetic": arith, "sram": acc_upd + (glb + hbm) * glb_j[:, None],
                "hbm": hbm * ev.hbm_j_per_byte, "link": link}

    return OpEnergy(single=mode(p.single_hbm_bytes, p.single_glb_bytes), intra=mode(p.hbm_bytes, p.glb_bytes))
