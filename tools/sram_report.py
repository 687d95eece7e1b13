"""Print the tables of docs/sram.md from phaze/data/sram_22nm.csv (through phaze.hardware.sram).

    python tools/sram_report.py
"""

from __future__ import annotations

import numpy as np

from phaze.hardware.area import area_tables
from phaze.hardware.sram import PORTS, crossbar_area_mm2, sram_area_mm2, sram_cost, sram_table

KIB, MIB = 2**10, 2**20
# ZigZag example_mem_pool.yaml (CACTI 7, 22 nm, 1 bank): (name, ports, bytes, bits, area mm², read nJ, write nJ)
ZIGZAG = [
    ("2 MiB 256 b 1R1W", "1r1w", 2 * MIB, 256, 3.66505, 0.134898, 0.139563),
    ("32 MiB 8192 b 1R1W", "1r1w", 32 * MIB, 8192, 153.898, 24.0313, 35.7058),
    ("2 KiB 256 b 2R2W", "2r2w", 2 * KIB, 256, 0.0268598, 0.00482046, 0.00643854),
    ("32 MiB 256 b 2R2W", "2r2w", 32 * MIB, 256, 138.63, 1.76377, 1.77682),
]


def zigzag_table() -> None:
    print("| ZigZag point | ZigZag area mm² | phaze area mm² | ZigZag read pJ | phaze read pJ | ZigZag write pJ |"
          " phaze write pJ |")
    print("|---|---|---|---|---|---|---|")
    for name, ports, size, bits, area, rd, wr in ZIGZAG:
        c = sram_cost(size, bits, "ref", ports)
        print(f"| {name} | {area:g} | {c.area_mm2:g} | {rd * 1e3:g} | {c.read_pj:g} | {wr * 1e3:g} | {c.write_pj:g} |")


def coverage_table() -> None:
    print("| ports | CACTI points | rejected by CACTI | served by a larger/wider macro | largest 8192-bit bank |")
    print("|---|---|---|---|---|")
    for ports in PORTS:
        g = sram_table()[ports]
        have = ~np.isnan(g.cacti["area_mm2"])
        caps, bits = np.meshgrid(g.capacity_bytes, g.port_bits, indexing="ij")
        other = have & ((g.served_capacity != caps) | (g.served_bits != bits))
        wide = g.capacity_bytes[have[:, -1]]
        print(f"| {ports} | {have.sum()} | {(~have).sum()} | {other.sum()} | "
              f"{wide.min() / KIB:.0f} KiB .. {wide.max() / MIB:.0f} MiB |")


def phaze_refit_table() -> None:
    t = area_tables()
    cols = (("1rw", 256), ("1r1w", 128), ("1r1w", 256))
    head = " | ".join(f"CACTI {p} {w} b" for p, w in cols)
    print(f"| PHAZE buffer | bytes | PHAZE refit mm² | {head} | refit / CACTI 1r1w 256 b |")
    print("|---|---|---|" + "---|" * len(cols) + "---|")
    for name, sizes, um2 in (("l2", t.l2_bytes, t.l2_um2), ("glb", t.glb_bytes, t.glb_um2)):
        for size, a in zip(sizes, um2, strict=True):
            cacti = [sram_area_mm2(size, w, "ref", p)[()] for p, w in cols]
            shown = f"{size / MIB:.0f} MiB" if size >= MIB else f"{size / KIB:.0f} KiB"
            cells = " | ".join(f"{x:.4g}" for x in cacti)
            print(f"| {name} | {shown} | {a / 1e6:.4g} | {cells} | {a / 1e6 / cacti[-1]:.2f} |")


def energy_table() -> None:
    print("| 1rw bank | area mm² | read pJ/access | read pJ/byte | write pJ/access | cycle ns | leakage mW |")
    print("|---|---|---|---|---|---|---|")
    for size, bits in ((4 * KIB, 128), (256 * KIB, 256), (2 * MIB, 256), (2 * MIB, 1024), (8 * MIB, 2048),
                       (32 * MIB, 1024), (128 * MIB, 8192)):
        c = sram_cost(size, bits, "ref")
        shown = f"{size / MIB:g} MiB" if size >= MIB else f"{size / KIB:g} KiB"
        print(f"| {shown} x {bits} b | {c.area_mm2:.4g} | {c.read_pj:.4g} | {c.read_pj / (bits / 8):.3g} | "
              f"{c.write_pj:.4g} | {c.cycle_ns:.3g} | {c.leakage_mw:.4g} |")


def wide_port_rule_table() -> None:
    print("| 1rw bank | CACTI mm² | ZigZag wide-port rule 2·(bw/32)·A(size·32/bw, 32 b) mm² |")
    print("|---|---|---|")
    for size, bits in ((2 * MIB, 256), (2 * MIB, 2048), (32 * MIB, 1024), (8 * MIB, 8192), (64 * KIB, 512)):
        rule = 2 * (bits / 32) * sram_area_mm2(size * 32 / bits, 32, "ref")
        print(f"| {size / MIB:g} MiB x {bits} b | {sram_area_mm2(size, bits, 'ref'):.4g} | {rule:.4g} |")


def crossbar_table() -> None:
    print("| crossbar | area mm² |")
    print("|---|---|")
    for n_in, n_out, flit in ((4, 4, 256), (8, 8, 256), (16, 16, 512), (32, 64, 1024), (64, 64, 2048)):
        print(f"| {n_in} x {n_out}, {flit}-bit flits | {crossbar_area_mm2(n_in, n_out, flit):.4g} |")


if __name__ == "__main__":
    for table in (zigzag_table, coverage_table, phaze_refit_table, energy_table, wide_port_rule_table,
                  crossbar_table):
        table()
        print()
