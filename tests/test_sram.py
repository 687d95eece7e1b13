"""SRAM table (CACTI 7, 22 nm; docs/sram.md): exact at table points, ZigZag's published CACTI points, the area
envelope monotone in capacity and width, log-log interpolation by hand, out-of-table queries as a ConfigError
naming the field, and CACTI's crossbar rule by hand."""

from __future__ import annotations

import csv
import math
from importlib import resources

import numpy as np
import pytest

from phaze.config.errors import ConfigError
from phaze.hardware.area import area_tables
from phaze.hardware.sram import (
    CACTI_SEMI_GLOBAL_PITCH_22NM_UM,
    PORTS,
    QUANTITIES,
    crossbar_area_mm2,
    sram_area_mm2,
    sram_cost,
    sram_cycle_ns,
    sram_leakage_mw,
    sram_read_pj,
    sram_table,
    sram_write_pj,
)

KIB, MIB = 2**10, 2**20
ROUNDING = 1e-13  # exp(log(v)) between equal grid values may differ from v in the last bit

# ZigZag (KULeuven-MICAS/zigzag, zigzag/cacti/cacti_master/example_mem_pool.yaml, as shipped in zigzag-dse 3.9.1):
# CACTI 7 at 22 nm, one bank. (ports, bytes, bits, area mm², read nJ per access, write nJ per access)
ZIGZAG_22NM = [
    ("1r1w", 2 * MIB, 256, 3.66505, 0.134898, 0.139563),
    ("1r1w", 32 * MIB, 8192, 153.898, 24.0313, 35.7058),
    ("2r2w", 2 * KIB, 256, 0.0268598, 0.00482046, 0.00643854),
    ("2r2w", 32 * MIB, 256, 138.63, 1.76377, 1.77682),
]
# The same points as quoted per byte (ZigZag's example_mem_pool.yaml CACTI 7 results, rounded):
# 2 MiB 256 b 4.2 pJ/B, 32 MiB 8192 b 23.5 pJ/B, 2 KiB 256 b 0.15 pJ/B, 32 MiB 256 b 55 pJ/B.
ZIGZAG_PJ_PER_BYTE = [(2 * MIB, 256, "1r1w", 4.2), (32 * MIB, 8192, "1r1w", 23.5), (2 * KIB, 256, "2r2w", 0.15),
                      (32 * MIB, 256, "2r2w", 55.0)]


def csv_rows() -> list[dict[str, str]]:
    text = resources.files("phaze").joinpath("data/sram_22nm.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


def test_table_covers_the_sweep() -> None:
    rows = csv_rows()
    # 3 port configurations x 18 capacities x 9 widths = 486 runs; CACTI rejects 15 narrow-array/wide-port
    # combinations per configuration (e.g. 1 KiB x 512 b and up, 16 KiB x 8192 b).
    assert len(rows) == 441
    for ports in PORTS:
        mine = {(int(r["capacity_bytes"]), int(r["port_bits"])) for r in rows if r["ports"] == ports}
        assert len(mine) == 147
        assert (KIB, 32) in mine and (128 * MIB, 8192) in mine and (128 * MIB, 32) in mine
        assert (KIB, 512) not in mine and (16 * KIB, 8192) not in mine and (32 * KIB, 8192) in mine


def test_exact_at_table_points() -> None:
    """Every non-area quantity is CACTI's own number at each CACTI point, area too where that point is the
    smallest macro serving it (126 of 147 per configuration) and otherwise exactly the serving macro's area."""
    rows = csv_rows()
    by_key = {(r["ports"], float(r["capacity_bytes"]), float(r["port_bits"])): r for r in rows}
    own_area = 0
    for ports in PORTS:
        grid = sram_table()[ports]
        mine = [r for r in rows if r["ports"] == ports]
        caps = np.array([float(r["capacity_bytes"]) for r in mine])
        bits = np.array([float(r["port_bits"]) for r in mine])
        got = sram_cost(caps, bits, "f", ports)
        for q in QUANTITIES:
            if q != "area_mm2":
                assert getattr(got, q).tolist() == [float(r[q]) for r in mine]
        i, j = np.searchsorted(grid.capacity_bytes, caps), np.searchsorted(grid.port_bits, bits)
        sc, sb = grid.served_capacity[i, j], grid.served_bits[i, j]
        assert got.area_mm2.tolist() == [float(by_key[(ports, c, b)]["area_mm2"]) for c, b in zip(sc, sb, strict=True)]
        own = (sc == caps) & (sb == bits)
        assert (got.area_mm2[own] == np.array([float(r["area_mm2"]) for r in mine])[own]).all()
        assert (got.area_mm2[~own] < np.array([float(r["area_mm2"]) for r in mine])[~own]).all()
        own_area += int(own.sum())
    assert own_area == 3 * 126


def test_zigzag_cacti_points_reproduced() -> None:
    for ports, size, bits, area, read_nj, write_nj in ZIGZAG_22NM:
        c = sram_cost(size, bits, "f", ports)
        assert c.area_mm2 == pytest.approx(area, rel=1e-6)
        assert c.read_pj == pytest.approx(read_nj * 1e3, rel=1e-6)
        assert c.write_pj == pytest.approx(write_nj * 1e3, rel=1e-6)
    for size, bits, ports, pj_per_byte in ZIGZAG_PJ_PER_BYTE:
        assert sram_read_pj(size, bits, "f", ports) / (bits / 8) == pytest.approx(pj_per_byte, rel=0.03)


def test_monotone_area_in_capacity_and_width_and_energy_in_capacity() -> None:
    caps = np.clip(np.geomspace(KIB, 128 * MIB, 120), KIB, 128 * MIB)
    for ports in PORTS:
        for bits in (32, 48, 64, 128, 200, 256, 512, 1024, 2048):
            ok = caps * 8 >= 16 * bits  # CACTI organises no array of fewer than 16 rows at the small end
            area = sram_area_mm2(caps[ok], bits, "f", ports)
            assert (np.diff(area) >= -ROUNDING * area[1:]).all()
        for cap in (KIB, 3 * KIB, 64 * KIB, 100 * KIB, 2 * MIB, 48 * MIB, 128 * MIB):
            widths = np.clip(np.geomspace(32, 256 if cap < 16 * KIB else 8192, 60), 32, 8192)
            area = sram_area_mm2(cap, widths, "f", ports)
            assert (np.diff(area) >= -ROUNDING * area[1:]).all()
    # Energy per access against capacity, at phaze's default one read/write port: reads never get cheaper;
    # CACTI's writes do at three points, by at most 6.3 % (65536 B x 512 b, 8 MiB and 32 MiB x 4096 b).
    for bits in (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192):
        ok = caps >= (32 * KIB if bits == 8192 else 16 * KIB if bits == 4096 else KIB)
        read = sram_read_pj(caps[ok], bits, "f")
        write = sram_write_pj(caps[ok], bits, "f")
        assert (np.diff(read) >= -ROUNDING * read[1:]).all()
        assert (write[1:] / write[:-1]).min() > 0.937


def test_interpolation_by_hand() -> None:
    # 3 MiB x 256 b, 1rw: between 2 MiB (1.87174 mm², 93.8756 pJ) and 4 MiB (3.77516 mm², 130.75 pJ)
    t = math.log(1.5) / math.log(2)
    assert sram_area_mm2(3 * MIB, 256, "f") == pytest.approx(math.exp((1 - t) * math.log(1.87174)
                                                                      + t * math.log(3.77516)), rel=1e-12)
    assert sram_read_pj(3 * MIB, 256, "f") == pytest.approx(math.exp((1 - t) * math.log(93.8756)
                                                                     + t * math.log(130.75)), rel=1e-12)
    # 3 MiB x 384 b: bilinear in the logs of (2|4 MiB) x (256|512 b); 2 MiB 512 b 2.29539, 4 MiB 512 b 4.28992 mm²
    u = math.log(1.5) / math.log(2)
    logs = ((1 - t) * (1 - u) * math.log(1.87174) + t * (1 - u) * math.log(3.77516)
            + (1 - t) * u * math.log(2.29539) + t * u * math.log(4.28992))
    assert sram_area_mm2(3 * MIB, 384, "f") == pytest.approx(math.exp(logs), rel=1e-12)


def test_vectorised_and_broadcast() -> None:
    caps = np.array([[4 * KIB], [3 * MIB], [128 * MIB]])
    bits = np.array([[32, 100, 256, 1024]])
    got = sram_leakage_mw(caps, bits, "f")
    assert got.shape == (3, 4)
    assert got[1, 2] == sram_leakage_mw(3 * MIB, 256, "f")
    assert sram_cycle_ns(2 * MIB, 256, "f") == 0.613349


def test_a_port_cacti_rejects_is_served_by_a_larger_macro() -> None:
    # CACTI finds no organisation for 1 KiB .. 8 KiB behind a 4096-bit port; the smallest macro serving it is
    # 16 KiB x 4096 b (1.34669 mm², 594.009 pJ per read in the table), which then prices every quantity.
    c = sram_cost(np.array([KIB, 8 * KIB, 16 * KIB]), 4096, "f")
    assert c.area_mm2.tolist() == [1.34669] * 3
    assert c.read_pj.tolist() == [594.009] * 3


def test_out_of_table_is_a_config_error_naming_the_field() -> None:
    for cap, bits in ((512, 32), (256 * MIB, 256), (2 * MIB, 16), (2 * MIB, 16384)):
        with pytest.raises(ConfigError, match=r"^invalid config: hw\.glb_mib=") as err:
            sram_area_mm2(np.array([2 * MIB, cap]), bits, "hw.glb_mib", fields=np.array([2, cap / MIB]))
        assert err.value.field == "hw.glb_mib"
        assert err.value.value == cap / MIB
        assert "1024..134217728 bytes" in str(err.value)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"^invalid config: hw\.l2=nan"):
        sram_area_mm2(float("nan"), 256, "hw.l2")
    with pytest.raises(ConfigError, match="one of 1rw, 1r1w, 2r2w"):
        sram_area_mm2(MIB, 256, "hw.glb_mib", ports="3rw")


def test_consistent_with_the_phaze_refit_at_matching_sizes() -> None:
    """The original PHAZE's Accelergy/CACTI 22 nm buffers (area_tables.csv: l2 1 KiB..1 MiB, glb 2..128 MiB) are
    0.75x (1 MiB)..1.23x (16 KiB) this table's single-bank 1R1W 256-bit macros of the same size (docs/sram.md)."""
    t = area_tables()
    sizes = np.concatenate([t.l2_bytes, t.glb_bytes])
    refit_mm2 = np.concatenate([t.l2_um2, t.glb_um2]) / 1e6
    ratio = refit_mm2 / sram_area_mm2(sizes, 256, "f", "1r1w")
    assert len(ratio) == 18
    assert ratio.min() == pytest.approx(0.7523, abs=1e-4)  # 1 MiB
    assert ratio.max() == pytest.approx(1.2296, abs=1e-4)  # 16 KiB


# CACTI 7's own crossbar (crossbar.cc, the table's 22 nm config), printed by tools/cacti_crossbar.cc:
# (n_in, n_out, flit_bits, area mm²)
CACTI_CROSSBARS = [
    (4, 4, 512, 0.03248069018), (8, 8, 256, 0.03628702106), (16, 16, 512, 0.5196910428),
    (32, 64, 1024, 16.63011337), (64, 4, 512, 0.5196910428), (16, 1, 256, 0.009071755264),
    (128, 32, 32, 0.2902961684), (64, 64, 2048, 133.040907), (32, 32, 64, 0.1451480842),
    (128, 128, 8192, 8514.618045),
]


def test_crossbar_by_hand_and_against_cacti() -> None:
    assert math.isclose(CACTI_SEMI_GLOBAL_PITCH_22NM_UM, 0.088, rel_tol=1e-12)
    # 4 x 4 ports of 512 bits, wire-limited: 16 x (512 x 0.088 µm)² = 16 x 45.056² = 32480.690176 µm²
    assert crossbar_area_mm2(4, 4, 512) == pytest.approx(32480.690176e-6, rel=1e-12)
    # 8 x 8 ports of 256 bits, buffer-limited (22.528 µm of wires < 25.168 µm): 8·22.528 x 8·25.168 µm²
    assert crossbar_area_mm2(8, 8, 256) == pytest.approx(8 * 22.528 * 8 * 25.168e-6, rel=1e-12)
    got = crossbar_area_mm2(*(np.array(col, dtype=float) for col in list(zip(*CACTI_CROSSBARS, strict=True))[:3]))
    assert got.tolist() == pytest.approx([x[3] for x in CACTI_CROSSBARS], rel=1e-8)
