"""Cross-check: phaze's GEMM latency against ZigZag's on one TPU-like core described to both (issue 18, item 10).

ZigZag (`pip install -e '.[crosscheck]'`, zigzag-dse 3.9.1) searches the temporal mapping (LOMA, bounded by
`--lpf-limit`) of a fixed weight-stationary spatial mapping (C on the W array rows, M on the D columns) of a
few transformer GEMM layers, and prints its latency (cycles) and energy (pJ: MAC, each memory level) beside
phaze's compute, global-buffer and HBM terms for the same layer on the same core, and beside phaze's energy of
the layer (`phaze_energy`: phaze.cost.energy on `phaze_core`, the same core at 22 nm), part by part with the bytes
each side moves at each level (docs/energy.md §4c; benchmarks/energy_check.py prints that table alone).

    .venv/bin/python benchmarks/crosscheck_zigzag.py [--array 128x128] [--lpf-limit 6] [--markdown F]

The core, as written to ZigZag's accelerator yaml (`accelerator_yaml`) and to phaze (`phaze_latency`):
- a W x D multiplier array, systolic along both dimensions (ZigZag adds the W + D - 2 cycles drain);
- `w_reg`: per PE, 2 bf16 weights (the stationary one and the next, double-buffered), 16 bit/cycle;
- `acc`: per column (served along the W rows), fp32 partial sums, tc_acc_rows_per_width·W rows
  (TPUv1's 4096 rows for 256 wide, phaze's default 16 per row), double-buffered: one half accumulates
  (32 bit/cycle read and written), the other drains to the glb (32 bit/cycle), on ports of their own;
- `glb`: the core's share of phaze tpuv4's global buffer (128 MiB / 8 cores), (W + 2D)·elem_bytes bytes/cycle
  (phaze's per-core buffer bandwidth) on three ports: W input words read (to the array rows), D weight or
  output words read, D words written; it holds inputs, weights and outputs;
- `dram`: HBM, the core's share of tpuv4's 1.2 TB/s at 1.05 GHz (1143 bit/cycle);
- `w_reg`, `acc` and `glb` are `force_double_buffering` (half holds the tile in use, half the next), as
  phaze assumes; without it LOMA may fill the 2-weight register with 2 tiles and lose the overlap.
Energies per access are ZigZag's own CACTI 7 results at 22 nm (zigzag/cacti/cacti_master/example_mem_pool.yaml,
scaled per bit to the port widths here), HBM2 3.9 pJ/bit (Accelergy) and a bf16 MAC of 2.0 pJ (Horowitz,
ISSCC 2014, 45 nm: fp16 multiply 1.1 + fp32 add 0.9), unscaled; not fitted. phaze prices the same events with
its own constants and organisation (phaze.cost.energy): the MAC at 22 nm, the buffer as banks, the accumulator
as one macro per core.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from crosscheck_scalesim import phaze_cycles  # the one adapter to phaze's array model (this directory)
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[1] / "phaze" / "conf"
ZIGZAG_VERSION = "3.9.1"

# ---- the design (phaze's tpuv4 config, one of its 8 cores), read from phaze's own config
TPU = OmegaConf.load(CONF / "hw" / "tpuv4.yaml")
N_CORES = int(TPU.n_tc)
FREQ_HZ = float(TPU.freq_hz)
ELEM_BYTES = int(TPU.elem_bytes)
GLB_BYTES_PER_CORE = int(float(TPU.glb_mib) * 2**20) // N_CORES
HBM_BYTES_PER_CYCLE_PER_CORE = float(TPU.hbm_bw_bytes_per_s) / N_CORES / FREQ_HZ
# fp32 accumulator rows per array row (phaze HwConfig.tc_acc_rows_per_width; TPUv1: 4096 rows / 256 = 16)
ACC_ROWS_PER_WIDTH = int(TPU.get("tc_acc_rows_per_width", 16))
ACC_BUFFERS = 2  # double-buffered accumulator (Jouppi et al., ISCA 2017, §2): a block holds half the rows
ACC_BITS = 32
DRAM_BYTES = int(float(TPU.hbm_gib) * 2**30)

# ---- energies. ZigZag's CACTI 7 cache (22 nm), `cost` in nJ per access of `IO_bus_width` bits:
#   128_Byte_8_BW_1_1_0_BANK_COUNT_1_TECH_0.022:      read 7.39625e-05, write 9.96867e-05 (8 bit)
#   2048_Byte_256_BW_2_2_0_BANK_COUNT_1_TECH_0.022:   read 0.00482046,  write 0.00643854  (256 bit)
#   33554432_Byte_8192_BW_1_1_0_BANK_COUNT_1_TECH_0.022: read 24.0313,  write 35.7058     (8192 bit)
REG_PJ_PER_BIT = (7.39625e-02 / 8, 9.96867e-02 / 8)  # (read, write): the register file for w_reg
ACC_PJ_PER_BIT = (4.82046 / 256, 6.43854 / 256)  # a 2 KiB macro, the nearest cached one, for acc
GLB_PJ_PER_BIT = (24031.3 / 8192, 35705.8 / 8192)  # 32 MiB with an 8192-bit port, the nearest, for glb
HBM_PJ_PER_BIT = 3.9  # HBM2, Accelergy cacti_wrapper.py DRAM table
MAC_PJ = 1.1 + 0.9  # bf16 multiply + fp32 accumulate, Horowitz ISSCC 2014 (45 nm)


@dataclass(frozen=True)
class Layer:
    """A GEMM layer in phaze's dims: B independent N x C @ C x M products."""

    name: str
    b: int
    n: int
    m: int
    c: int


def layers() -> list[Layer]:
    """bert_large (phaze's config) at batch 1, s = 512: QKV, FC1, FC2 and the per-head QK^T product."""
    bert = OmegaConf.load(CONF / "model" / "bert_large.yaml")
    h, f, heads, s = int(bert.hidden), int(bert.ffn), int(bert.heads), int(bert.seq_len)
    return [Layer("bert_large qkv", 1, s, 3 * h, h), Layer("bert_large fc1", 1, s, f, h),
            Layer("bert_large fc2", 1, s, h, f), Layer("bert_large QK^T", heads, s, s, h // heads)]


# --------------------------------------------------------------------------------------------- ZigZag side
def zigzag_available() -> bool:
    try:
        import zigzag.api  # noqa: F401
    except ImportError:
        return False
    return True


def _port(name: str, kind: str, bits: int, allocation: list[str]) -> dict:
    return {"name": name, "type": kind, "bandwidth_min": bits, "bandwidth_max": bits, "allocation": allocation}


def _costs(pj_per_bit: tuple[float, float], bits: int) -> dict:
    return {"r_cost": pj_per_bit[0] * bits, "w_cost": pj_per_bit[1] * bits}


def accelerator_yaml(w: int, d: int) -> dict:
    """ZigZag's accelerator description of one TPU-like core (module docstring). Operands: I1 = inputs,
    I2 = weights, O = outputs; D1 = the W rows (C), D2 = the D columns (M)."""
    elem_bits = 8 * ELEM_BYTES
    glb_write = d * elem_bits
    hbm_bits = round(HBM_BYTES_PER_CYCLE_PER_CORE * 8)
    acc_rows = ACC_ROWS_PER_WIDTH * w
    return {
        "name": f"phaze_tpu_like_{w}x{d}",
        "memories": {
            "w_reg": {"size": 2 * elem_bits, **_costs(REG_PJ_PER_BIT, elem_bits), "area": 0.0, "latency": 1,
                      "force_double_buffering": True,
                      "operands": ["I2"], "served_dimensions": [],
                      "ports": [_port("r_port_1", "read", elem_bits, ["I2, tl"]),
                                _port("w_port_1", "write", elem_bits, ["I2, fh"])]},
            "acc": {"size": acc_rows * ACC_BITS, **_costs(ACC_PJ_PER_BIT, ACC_BITS), "area": 0.0, "latency": 1,
                    "force_double_buffering": True,
                    "operands": ["O"], "served_dimensions": ["D1"],
                    # two halves: one accumulates (read + write back each cycle), one drains to the glb
                    "ports": [_port("r_port_1", "read", ACC_BITS, ["O, tl"]),
                              _port("w_port_1", "write", ACC_BITS, ["O, fl"]),
                              _port("r_port_2", "read", ACC_BITS, ["O, th"]),
                              _port("w_port_2", "write", ACC_BITS, ["O, fh"])]},
            "glb": {"size": GLB_BYTES_PER_CORE * 8, **_costs(GLB_PJ_PER_BIT, d * elem_bits), "area": 0.0, "latency": 1,
                    "force_double_buffering": True,
                    "operands": ["I1", "I2", "O"], "served_dimensions": ["D1", "D2"],
                    # (W + 2D) words/cycle in all, as phaze: W input words, D weight/output words read, D written
                    "ports": [_port("r_port_1", "read", w * elem_bits, ["I1, tl"]),
                              _port("r_port_2", "read", d * elem_bits, ["I2, tl", "O, tl", "O, th"]),
                              _port("w_port_1", "write", glb_write, ["I1, fh", "I2, fh", "O, fh", "O, fl"])]},
            "dram": {"size": DRAM_BYTES * 8, "r_cost": HBM_PJ_PER_BIT * hbm_bits, "w_cost": HBM_PJ_PER_BIT * hbm_bits,
                     "area": 0.0, "latency": 1, "operands": ["I1", "I2", "O"], "served_dimensions": ["D1", "D2"],
                     "ports": [_port("rw_port_1", "read_write", hbm_bits,
                                     ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"])]},
        },
        "operational_array": {"unit_energy": MAC_PJ, "unit_area": 1.0, "dimensions": ["D1", "D2"],
                              "sizes": [w, d], "systolic_dimensions": ["D1", "D2"]},
    }


def workload_yaml(layer: Layer) -> list[dict]:
    """One ZigZag Gemm layer: O[g][b][k] += I[g][b][c] * W[g][c][k], G = B products, B = N rows, K = M, C = C."""
    return [{"id": 0, "name": layer.name.replace(" ", "_").replace("^", ""), "operator_type": "Gemm",
             "equation": "O[g][b][k]+=I[g][b][c]*W[g][c][k]", "loop_dims": ["G", "B", "K", "C"],
             "loop_sizes": [layer.b, layer.n, layer.m, layer.c],
             "operand_precision": {"I": 8 * ELEM_BYTES, "W": 8 * ELEM_BYTES, "O": ACC_BITS, "O_final": 8 * ELEM_BYTES},
             "operand_source": {"I": 0}}]


def mapping_yaml(w: int, d: int) -> list[dict]:
    """The fixed weight-stationary spatial mapping (C on D1, K = M on D2); LOMA searches the temporal loops."""
    return [{"name": "default", "spatial_mapping": {"D1": [f"C, {w}"], "D2": [f"K, {d}"]},
             "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]


@dataclass(frozen=True)
class ZigZagResult:
    latency: float  # cycles, ZigZag's latency_total2 (onload + compute + stalls + offload + systolic drain)
    ideal_temporal: float  # cycles of the temporal mapping alone (the spatial under-use included)
    stall: float
    onload: float
    offload: float
    drain: float
    energy_total: float  # pJ
    mac_energy: float
    mem_energy: dict[str, float]  # memory level -> pJ, summed over operands
    spatial_util: float
    stall_port: str  # the memory port whose stall sets `stall` ("-" when none stalls)
    # memory level -> bytes read and written there, summed over operands and directions (ZigZag's word
    # accesses x the level's port width, for the levels whose ports are equally wide: all of them when W = D)
    mem_bytes: dict[str, float] = field(default_factory=dict)


def word_bits(w: int, d: int) -> dict[str, int]:
    """Bits per memory word of each level of `accelerator_yaml(w, d)` whose ports are all equally wide (every
    level when W = D; the glb's input and weight ports differ otherwise, and it is left out)."""
    out = {}
    for name, mem in accelerator_yaml(w, d)["memories"].items():
        widths = {int(port["bandwidth_max"]) for port in mem["ports"]}
        if len(widths) == 1:
            out[name] = widths.pop()
    return out


def zigzag_run(layer: Layer, w: int, d: int, workdir: Path, lpf_limit: int) -> ZigZagResult:
    """ZigZag's best-latency mapping of the layer on the core (its API, its yaml inputs, written to workdir)."""
    from zigzag.api import get_hardware_performance_zigzag

    acc_path, wl_path, map_path = workdir / "accelerator.yaml", workdir / "workload.yaml", workdir / "mapping.yaml"
    acc_path.write_text(yaml.safe_dump(accelerator_yaml(w, d), sort_keys=False))
    wl_path.write_text(yaml.safe_dump(workload_yaml(layer), sort_keys=False))
    map_path.write_text(yaml.safe_dump(mapping_yaml(w, d), sort_keys=False))
    logging.disable(logging.CRITICAL)  # ZigZag logs every stage at INFO
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        _, _, cmes = get_hardware_performance_zigzag(
            str(wl_path), str(acc_path), str(map_path), opt="latency", dump_folder=str(workdir / "out"),
            lpf_limit=lpf_limit, loma_show_progress_bar=False)
    logging.disable(logging.NOTSET)
    cme = cmes[0][1][0][0]  # the single layer's best cost-model evaluation
    mem: dict[str, float] = {}
    moved: dict[str, float] = {}
    bits = word_bits(w, d)
    # ZigZag's stall is the largest over the memory ports (they work in parallel): name the port
    ports = [(v, f"{level.name}.{port}") for level, per_port in zip(cme.mem_level_list, cme.stall_slack_comb_collect,
                                                                     strict=True) for port, v in per_port.items()]
    worst = max(ports, default=(0, "-"))
    for op, per_level in cme.mem_energy_breakdown.items():
        levels = cme.accelerator.memory_hierarchy.get_memory_levels(cme.memory_operand_links.layer_to_mem_op(op))
        for level, energy in zip(levels, per_level, strict=True):
            mem[level.name] = mem.get(level.name, 0.0) + float(energy)
        for level, words in zip(levels, cme.memory_word_access[op], strict=True):
            if level.name in bits:
                moved[level.name] = moved.get(level.name, 0.0) + float(sum(words.data.values())) * bits[level.name] / 8
    return ZigZagResult(float(cme.latency_total2), float(cme.ideal_temporal_cycle), float(cme.stall_slack_comb),
                        float(cme.data_onloading_cycle), float(cme.data_offloading_cycle),
                        float(cme.systolic_drain_cycle), float(cme.energy_total), float(cme.mac_energy), mem,
                        float(cme.mac_spatial_utilization), worst[1] if worst[0] > 0 else "-", moved)


# ---------------------------------------------------------------------------------------------- phaze side
def phaze_latency(layer: Layer, w: int, d: int) -> dict[str, float]:
    """phaze's cycles of the layer on the same core: compute, global buffer and HBM terms and their max (the
    GEMM's latency; the op's issue cost excluded). Works with the gemm module before and after issue 18 item 1."""
    from phaze.cost import gemm

    b, n, m, c = layer.b, layer.n, layer.m, layer.c
    glb_bw = (w + 2 * d) * ELEM_BYTES
    hbm_bw = round(HBM_BYTES_PER_CYCLE_PER_CORE * 8) / 8 * FREQ_HZ  # ZigZag's integer bit/cycle, exactly
    block_rows = ACC_ROWS_PER_WIDTH * w // ACC_BUFFERS
    if hasattr(gemm, "gemm_terms"):  # accumulator row blocks (issue 18 item 1)
        t_c, t_g, t_h, _, _ = gemm.gemm_terms(
            b, n, m, c, 0, n_cores=1, width=w, depth=d, block_rows=block_rows, capacity_bytes=GLB_BYTES_PER_CORE,
            glb_bw_bytes_per_cycle=glb_bw, hbm_bw_bytes_per_s=hbm_bw, freq_hz=FREQ_HZ, elem_bytes=ELEM_BYTES)
        compute, glb, hbm = float(t_c) * FREQ_HZ, float(t_g) * FREQ_HZ, float(t_h) * FREQ_HZ
    else:
        compute = float(phaze_cycles(b, n, m, c, w, d))
        glb = float(gemm.gemm_glb_bytes(b, n, m, c, w, d, ELEM_BYTES)) / glb_bw
        comp = b * (n * c + c * m + n * m) * ELEM_BYTES
        hbm = float(gemm.gemm_hbm_bytes(b * n * m * c, comp, GLB_BYTES_PER_CORE, ELEM_BYTES)) / hbm_bw * FREQ_HZ
    return {"compute": compute, "glb": glb, "hbm": hbm, "latency": max(compute, glb, hbm)}


def phaze_core(w: int, d: int):
    """The same core as phaze sees it: a one-tensor-core chip (one vector core, which the GEMMs leave idle)
    with the core's share of tpuv4's buffer (capacity; (W + 2D) words/cycle as 64 B banks) and HBM, at the
    CACTI table's 22 nm (phaze.cost.energy; docs/energy.md)."""
    from phaze.config.hw import HwConfig
    from phaze.hardware import Accelerators

    glb_bw = (w + 2 * d) * ELEM_BYTES
    bank_bytes = 64
    return Accelerators.from_config(HwConfig(
        name=f"tpu_like_core_{w}x{d}", n_tc=1, n_vc=1, tc_width=w, tc_depth=d, vc_width=w,
        glb_mib=GLB_BYTES_PER_CORE / 2**20, glb_banks=max(glb_bw // bank_bytes, 1), glb_bank_bytes=bank_bytes,
        tc_acc_rows_per_width=ACC_ROWS_PER_WIDTH, hbm_gib=float(TPU.hbm_gib),
        hbm_bw_bytes_per_s=HBM_BYTES_PER_CYCLE_PER_CORE * FREQ_HZ, freq_hz=FREQ_HZ, elem_bytes=ELEM_BYTES,
        tech_node_nm=22.0))


def phaze_energy(layer: Layer, w: int, d: int) -> dict[str, float]:
    """phaze's energy of the layer (`phaze.cost.energy.op_energy`, the whole-chip mode of `phaze_core`), pJ, in
    ZigZag's parts: `mac` (the MACs), `acc` (accumulator updates), `glb` (buffer <-> core bytes and the HBM
    fills and spills, at one bank's per-byte energy), `dram` (HBM); and the bytes behind each memory part."""
    from phaze.cost.energy import PJ, op_energy, sram_j
    from phaze.cost.price import price_detail
    from phaze.model.ops import Op, OpKind

    b, n, m, c = layer.b, layer.n, layer.m, layer.c
    op = Op(layer.name, OpKind.GEMM, gemm=(b, n, m, c), bytes_read=b * (n * c + c * m) * ELEM_BYTES,
            bytes_written=b * n * m * ELEM_BYTES)
    acc = phaze_core(w, d)
    priced = price_detail([op], acc)
    parts = op_energy([op], acc, priced).intra
    update_j, glb_j = sram_j(acc)
    updates = b * n * m * -(-c // w)
    glb_bytes = float(priced.glb_bytes[0, 0] + priced.hbm_bytes[0, 0])
    acc_pj = updates * float(update_j[0]) / PJ
    out = {"mac": float(parts["arithmetic"][0, 0]) / PJ, "acc": acc_pj,
           "glb": float(parts["sram"][0, 0]) / PJ - acc_pj, "dram": float(parts["hbm"][0, 0]) / PJ,
           # an update reads and writes one fp32 partial sum
           "acc_bytes": 2.0 * updates * ACC_BITS / 8, "glb_bytes": glb_bytes,
           "dram_bytes": float(priced.hbm_bytes[0, 0]), "glb_pj_per_byte": float(glb_j[0]) / PJ}
    out["total"] = out["mac"] + out["acc"] + out["glb"] + out["dram"]
    return out


# -------------------------------------------------------------------------------------------------- report
def report(rows: Sequence[tuple[Layer, dict[str, float], ZigZagResult]], w: int, d: int, lpf_limit: int) -> str:
    out = [f"ZigZag {ZIGZAG_VERSION} (LOMA, lpf_limit {lpf_limit}, best latency) vs phaze on one {w}x{d} "
           f"TPU-like core (tpuv4 / {N_CORES})", "",
           "| layer | B | N | M | C | MACs / (W·D) | phaze compute | phaze GLB | phaze HBM | phaze latency | "
           "ZigZag latency | ZigZag temporal | stall (port) | onload | offload | drain | phaze / ZigZag - 1 |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lay, p, z in rows:
        ideal = math.ceil(lay.b * lay.n * lay.m * lay.c / (w * d))
        out.append(f"| {lay.name} | {lay.b} | {lay.n} | {lay.m} | {lay.c} | {ideal} | {p['compute']:.0f} | "
                   f"{p['glb']:.0f} | {p['hbm']:.0f} | {p['latency']:.0f} | {z.latency:.0f} | {z.ideal_temporal:.0f} | "
                   f"{z.stall:.0f} ({z.stall_port}) | {z.onload:.0f} | {z.offload:.0f} | {z.drain:.0f} | "
                   f"{p['latency'] / z.latency - 1:+.1%} |")
    levels = list(dict.fromkeys(k for _, _, z in rows for k in z.mem_energy))
    out += ["", "ZigZag energy (pJ), and phaze's (`phaze_energy`: phaze.cost.energy on the same core, 22 nm)", "",
            "| layer | total | MAC | " + " | ".join(levels) + " | pJ / MAC | phaze total | phaze pJ / MAC | "
            "phaze / ZigZag - 1 |",
            "|---|---:|---:|" + "---:|" * len(levels) + "---:|---:|---:|---:|"]
    energies = [(lay, phaze_energy(lay, w, d), z) for lay, _, z in rows]
    for lay, pe, z in energies:
        macs = lay.b * lay.n * lay.m * lay.c
        out.append(f"| {lay.name} | {z.energy_total:.4g} | {z.mac_energy:.4g} | "
                   + " | ".join(f"{z.mem_energy.get(k, 0.0):.4g}" for k in levels)
                   + f" | {z.energy_total / macs:.3f} | {pe['total']:.4g} | {pe['total'] / macs:.3f} | "
                   f"{pe['total'] / z.energy_total - 1:+.1%} |")
    out += ["", energy_parts_table(energies)]
    return "\n".join(out)


# ZigZag's parts (its MAC and memory levels) and phaze's that price the same events; w_reg has no phaze part
# (a PE's operand registers are inside phaze's MAC energy, which is Horowitz's bare arithmetic).
ENERGY_PARTS = (("MAC", "mac"), ("acc", "acc"), ("glb", "glb"), ("dram", "dram"), ("w_reg", None))


def energy_parts_table(rows: Sequence[tuple[Layer, dict[str, float], ZigZagResult]]) -> str:
    """Per layer and part: energy (pJ) and bytes moved in ZigZag and in phaze, and phaze / ZigZag - 1."""
    out = ["Energy by part, phaze vs ZigZag (pJ; bytes read + written at that level; per byte = pJ / bytes)", "",
           "| layer | part | ZigZag pJ | phaze pJ | phaze / ZigZag - 1 | ZigZag bytes | phaze bytes | "
           "ZigZag pJ/B | phaze pJ/B |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]

    def cell(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    for lay, pe, z in rows:
        for label, key in ENERGY_PARTS:
            zz = z.mac_energy if label == "MAC" else z.mem_energy.get(label, 0.0)
            ph = pe[key] if key is not None else None
            zb = None if label == "MAC" else z.mem_bytes.get(label)
            pb = pe.get(f"{key}_bytes") if key is not None and label != "MAC" else None
            err = None if ph is None or zz == 0 else ph / zz - 1
            out.append(f"| {lay.name} | {label} | {zz:.4g} | {cell(ph, '.4g')} | {cell(err, '+.1%')} | "
                       f"{cell(zb, '.4g')} | {cell(pb, '.4g')} | {cell(zz / zb if zb else None, '.3g')} | "
                       f"{cell(ph / pb if ph is not None and pb else None, '.3g')} |")
        out.append(f"| {lay.name} | total | {z.energy_total:.4g} | {pe['total']:.4g} | "
                   f"{pe['total'] / z.energy_total - 1:+.1%} | | | | |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--array", default="128x128", help="WxD")
    ap.add_argument("--lpf-limit", type=int, default=6, help="LOMA's loop prime factor limit (search size)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the tables to this file")
    args = ap.parse_args(argv)
    if not zigzag_available():
        print("crosscheck_zigzag: ZigZag is not installed (pip install -e '.[crosscheck]'); nothing to do.")
        return 0
    try:
        w, d = (int(x) for x in args.array.lower().split("x"))
    except ValueError:
        ap.error(f"--array: expected WxD with positive integers, got {args.array!r}")
    if w < 1 or d < 1:
        ap.error(f"--array: expected WxD with positive integers, got {args.array!r}")
    if w != d:
        # ZigZag charges a memory's r_cost per access of whichever port moves the data; the two glb read ports
        # (W input words, D weight/output words) cost the same per bit only when W = D.
        ap.error(f"--array: W must equal D (got {w}x{d}): the glb energy per access assumes equal port widths")
    rows = []
    with tempfile.TemporaryDirectory(prefix="phaze-zigzag-") as tmp:
        for lay in layers():
            rows.append((lay, phaze_latency(lay, w, d), zigzag_run(lay, w, d, Path(tmp), args.lpf_limit)))
    text = report(rows, w, d, args.lpf_limit)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
