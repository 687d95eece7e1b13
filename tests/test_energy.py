"""Energy model (phaze/cost/energy.py, phaze/placement/energy.py): every number computed by hand here from the
published constants (phaze/data/energy_constants.csv, the CACTI rows of phaze/data/sram_22nm.csv, Stillmaker &
Baas's energy polynomials), then compared with what phaze computes."""

from __future__ import annotations

import csv
import itertools
import math

import numpy as np
import pytest
from conftest import ROOT, compose_cfg
from hypothesis import given, settings
from hypothesis import strategies as st

from phaze.cost.energy import EventEnergy, energy_constants, energy_scale, op_energy, sram_j, static_power_w
from phaze.cost.price import price_detail
from phaze.hardware import Accelerators
from phaze.hardware.chip_area import chip_area_mm2
from phaze.model.ops import Collective, Op, OpKind, Pass
from phaze.placement.energy import placement_energy
from phaze.placement.problem import PlacementSpec

DATA = ROOT / "phaze" / "data"
PJ = 1e-12


def _csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


CONST = {r["quantity"]: float(r["value"]) for r in _csv("energy_constants.csv")}


def cacti(ports: str, capacity_bytes: int, port_bits: int) -> dict[str, float]:
    """One CACTI grid row of phaze/data/sram_22nm.csv, read directly (no interpolation)."""
    rows = [r for r in _csv("sram_22nm.csv") if r["ports"] == ports and int(r["capacity_bytes"]) == capacity_bytes
            and int(r["port_bits"]) == port_bits]
    assert len(rows) == 1, (ports, capacity_bytes, port_bits)
    return {k: float(rows[0][k]) for k in ("area_mm2", "read_pj", "write_pj", "leakage_mw")}


# Stillmaker & Baas 2017, Table 4 (energy), as Accelergy tabulates it: E ∝ a·Vdd² + b·Vdd + c, at Vdd = 0.8 V.
POLY = {45: (1.103, -0.362, 0.2767), 32: (0.9559, -0.7823, 0.471), 20: (0.373, -0.1582, 0.04104),
        16: (0.2958, -0.1241, 0.03024), 7: (0.1776, -0.09097, 0.02447)}
VDD = 0.8


def poly(node: int) -> float:
    a, b, c = POLY[node]
    return a * VDD**2 + b * VDD + c


def factor(node: float) -> float:
    """The polynomial at `node`, linear between the tabulated nodes the test needs (45, 32, 20)."""
    if node == 22:  # 22 nm lies 10/12 of the way from 32 nm to 20 nm
        return poly(32) + (22 - 32) / (20 - 32) * (poly(20) - poly(32))
    if node == 40:  # 40 nm lies 5/13 of the way from 45 nm to 32 nm
        return poly(45) + (40 - 45) / (32 - 45) * (poly(32) - poly(45))
    return poly(int(node))


S45_22 = factor(22) / factor(45)  # the Horowitz 45 nm energies at 22 nm
S40_22 = factor(22) / factor(40)  # Aladdin's 40 nm leakage density at 22 nm

SMALL = ["hw=tpuv4_phaze", "hw.n_tc=1", "hw.n_vc=1", "hw.tc_width=8", "hw.tc_depth=8", "hw.vc_width=8",
         "hw.glb_mib=2"]


def design(*overrides: str) -> Accelerators:
    return Accelerators.from_config(compose_cfg([*SMALL, *overrides]).hw)


@pytest.fixture(scope="module")
def small() -> Accelerators:
    """1 tensor core (8x8), 1 vector core (8 lanes), 2 MiB global buffer in 4 banks of 64 B, 22 nm."""
    return design("hw.glb_banks=4")


# --- published constants and node scaling -------------------------------------------------------------------


def test_published_constants_are_the_cited_ones() -> None:
    # Horowitz ISSCC 2014 (45 nm), Accelergy's HBM2 3.9 pJ/bit, Turner CICC 2018 1.17 pJ/bit, NDR optics 43.75
    assert (CONST["fp16_mult_pj"], CONST["fp32_mult_pj"], CONST["fp32_add_pj"]) == (1.1, 3.7, 0.9)
    assert (CONST["hbm2_pj_per_bit"], CONST["intra_node_link_pj_per_bit"]) == (3.9, 1.17)
    assert CONST["inter_node_link_pj_per_bit"] == 43.75
    # Aladdin 40 nm FP32 mult + add: (0.1198412 + 0.05311069) mW / (8967.113 + 4361.094) µm² = 0.01298 W/mm²
    density = (0.1198412 + 0.05311069) * 1e-3 / ((8967.113 + 4361.094) * 1e-6)
    assert density == pytest.approx(0.01298, abs=5e-6)
    assert CONST["logic_leakage_w_per_mm2"] == 0.01298
    parsed = energy_constants()
    assert {k: v.value for k, v in parsed.items()} == CONST
    assert parsed["fp16_mult_pj"].node_nm == 45 and parsed["hbm2_pj_per_bit"].node_nm is None
    assert parsed["logic_leakage_w_per_mm2"].node_nm == 40


def test_energy_scale_by_hand() -> None:
    # a·0.64 + b·0.8 + c: 45 nm 0.69302, 32 nm 0.456936, 20 nm 0.1532; 22 nm = 0.456936 + (10/12)(0.1532 − 0.456936)
    assert poly(45) == pytest.approx(0.69302, abs=1e-12) and poly(32) == pytest.approx(0.456936, abs=1e-12)
    assert poly(20) == pytest.approx(0.1532, abs=1e-12)
    assert factor(22) == pytest.approx(0.2038227, abs=1e-7)
    scale = S45_22  # the brief's ≈ 0.2941
    assert scale == pytest.approx(0.29410791, abs=1e-8)
    assert energy_scale(45, 22) == pytest.approx(scale, rel=1e-12)
    assert energy_scale(40, 22) == pytest.approx(S40_22, rel=1e-12)
    assert energy_scale(45, 7) == pytest.approx(poly(7) / poly(45), rel=1e-12)
    assert energy_scale(45, 45) == 1.0 and energy_scale(22, 22) == 1.0
    assert energy_scale(22, 45) == pytest.approx(1.0 / S45_22, rel=1e-12)


def test_energy_scale_decreases_with_the_node() -> None:
    nodes = np.linspace(130.0, 7.0, 1231)  # every 0.1 nm, tabulated nodes included
    factors = [energy_scale(45, float(n)) for n in nodes]
    assert all(b < a for a, b in itertools.pairwise(factors))
    assert factors[0] > 1.0 > factors[-1]
    with pytest.raises(ValueError, match="outside the scaling table"):
        energy_scale(45, 5)


def test_event_energies_at_7nm_scale_logic_but_not_hbm_or_links() -> None:
    s = poly(7) / poly(45)
    ev = EventEnergy.at(7.0)
    assert ev.mac_j == pytest.approx((1.1 + 0.9) * s * PJ, rel=1e-12)
    assert ev.lane_cycle_j == pytest.approx((3.7 + 0.9) * s * PJ, rel=1e-12)
    assert ev.hbm_j_per_byte == pytest.approx(8 * 3.9 * PJ, rel=1e-15)  # node-independent
    assert ev.intra_link_j_per_byte == pytest.approx(8 * 1.17 * PJ, rel=1e-15)
    assert ev.inter_link_j_per_byte == pytest.approx(8 * 43.75 * PJ, rel=1e-15)
    s40 = poly(7) / factor(40)
    assert ev.leakage_w_per_mm2 == pytest.approx(0.01298 * s40, rel=1e-12)


# --- one GEMM and one vector op on the small design, term by term ---------------------------------------------

# Accumulator of the 8x8 core: 16·8 rows x 8 fp32 = 4 KiB behind a 256-bit read + write port (CACTI 1r1w);
# the global buffer's macro: 2 MiB in 4 banks is built by the area model from 32 macros of 64 KiB (cheaper than 4 of
# 512 KiB), each behind a 512-bit (64 B) read/write port (CACTI 1rw); energy and leakage use the same macro.
ACC_ROW = (4096, 8 * 4 * 8)
BANK_ROW = (2 * 2**20 // 32, 64 * 8)


def _hand_sram() -> tuple[float, float]:
    """(J per accumulator update, J per global-buffer byte) at 22 nm = the CACTI table's node."""
    a = cacti("1r1w", *ACC_ROW)
    b = cacti("1rw", *BANK_ROW)
    assert (a["read_pj"], a["write_pj"]) == (3.49965, 5.82692) and (b["read_pj"], b["write_pj"]) == (14.9574, 45.1739)
    update = (a["read_pj"] + a["write_pj"]) / 8 * PJ  # one row of D = 8 partial sums read and written, per output
    per_byte = 0.5 * (b["read_pj"] + b["write_pj"]) / 64 * PJ  # mean of read and write, per byte of the port
    return update, per_byte


def test_sram_event_energies_by_hand(small: Accelerators) -> None:
    update, per_byte = _hand_sram()
    assert update == pytest.approx(1.16582125e-12, rel=1e-9) and per_byte == pytest.approx(4.697758e-13, rel=1e-6)
    got_update, got_byte = sram_j(small)
    assert got_update[0] == pytest.approx(update, rel=1e-12) and got_byte[0] == pytest.approx(per_byte, rel=1e-12)


def test_gemm_energy_by_hand(small: Accelerators) -> None:
    """B=2 products of 64x100 @ 100x48 with a fused add epilogue, its operands read and output written once."""
    b, n, m, c = 2, 64, 48, 100
    e = 2  # bf16
    op = Op("g", OpKind.GEMM, Pass.FWD, gemm=(b, n, m, c), vector_ops=("add_sub_mul_neg",), numel=b * n * m,
            bytes_read=b * (n * c + c * m) * e, bytes_written=b * n * m * e)
    update, per_byte = _hand_sram()
    macs = b * n * m * c  # 614,400
    slices = math.ceil(c / 8)  # W = 8: 13 slices of the reduction, each one accumulator update per output
    updates = b * n * m * slices  # 79,872
    rows = 16 * 8 // 2  # an output block is tc_acc_rows_per_width·W/2 = 64 rows x D = 8 columns
    glb = b * (math.ceil(n / rows) * c * m + math.ceil(m / 8) * n * c + n * m) * e  # 185,088 B
    hbm = b * (n * c + c * m + n * m) * e  # 57,088 B: everything fits (two copies of a 64x100 panel: 25.6 KB)
    assert (macs, updates, glb, hbm) == (614_400, 79_872, 185_088, 57_088)
    priced = price_detail([op], small)
    for mode_glb, mode_hbm in ((priced.glb_bytes, priced.hbm_bytes),
                               (priced.single_glb_bytes, priced.single_hbm_bytes)):
        assert (mode_glb[0, 0], mode_hbm[0, 0]) == (glb, hbm)
    want = {
        "arithmetic": macs * (1.1 + 0.9) * S45_22 * PJ + b * n * m * 1 * (3.7 + 0.9) * S45_22 * PJ,  # epilogue add
        "sram": updates * update + (glb + hbm) * per_byte,
        "hbm": hbm * 8 * 3.9 * PJ,
        "link": 0.0,
    }
    assert want["arithmetic"] == pytest.approx(3.698e-7, rel=1e-3)
    assert want["sram"] == pytest.approx(2.0688e-7, rel=1e-4)
    assert want["hbm"] == pytest.approx(1.78115e-6, rel=1e-5)
    energy = op_energy([op], small)
    for parts in (energy.single, energy.intra):
        for part, value in want.items():
            assert parts[part][0, 0] == pytest.approx(value, rel=1e-12, abs=0), part
    assert energy.total(intra=True)[0, 0] == pytest.approx(sum(want.values()), rel=1e-12)


def test_vector_op_energy_by_hand(small: Accelerators) -> None:
    """A division over 10,000 elements: reciprocal (4 lane-cycles) + mul (1), phaze/data/vector_*.csv."""
    prims = {r["primitive"]: float(r["cycles_per_element_per_lane"]) for r in _csv("vector_primitives.csv")}
    parts = [(r["part"], float(r["count"])) for r in _csv("vector_compositions.csv")
             if r["op"] == "div" and r["pass"] == "fwd"]
    assert sorted(parts) == [("mul", 1.0), ("reciprocal", 1.0)] and (prims["reciprocal"], prims["mul"]) == (4, 1)
    numel, read, written = 10_000, 40_000, 20_000
    op = Op("v", OpKind.VECTOR, Pass.FWD, vector_ops=("div",), numel=numel, bytes_read=read, bytes_written=written)
    _, per_byte = _hand_sram()
    traffic = read + written  # a vector op's bytes cross both HBM and the buffer
    want = {
        "arithmetic": numel * (4 + 1) * (3.7 + 0.9) * S45_22 * PJ,  # 50,000 lane-cycles x fp32 mult + add
        "sram": (traffic + traffic) * per_byte,
        "hbm": traffic * 8 * 3.9 * PJ,
        "link": 0.0,
    }
    assert want["arithmetic"] == pytest.approx(6.7645e-8, rel=1e-4) and want["hbm"] == pytest.approx(1.872e-6)
    energy = op_energy([op], small)
    for mode in (energy.single, energy.intra):
        for part, value in want.items():
            assert mode[part][0, 0] == pytest.approx(value, rel=1e-12, abs=0), part


def test_collective_energy_by_hand(small: Accelerators) -> None:
    """Ring bytes per rank x link pJ/bit: an all-reduce inside a node (4 chips), an all-gather across nodes."""
    ar = Op("ar", OpKind.COLLECTIVE, Pass.FWD, collective=Collective.ALL_REDUCE, comm_bytes=1_000_000, group=4)
    ag = Op("ag", OpKind.COLLECTIVE, Pass.BWD, collective=Collective.ALL_GATHER, comm_bytes=1_000_000, group=8)
    one = Op("one", OpKind.COLLECTIVE, Pass.FWD, collective=Collective.ALL_REDUCE, comm_bytes=1_000_000, group=1)
    link = op_energy([ar, ag, one], small).intra["link"][0]
    assert link[0] == pytest.approx(2 * 3 / 4 * 1e6 * 8 * 1.17 * PJ, rel=1e-12)  # 1.404e-5 J
    assert link[1] == pytest.approx(2 * 7 / 8 * 0.5 * 1e6 * 8 * 43.75 * PJ, rel=1e-12)  # 3.0625e-4 J
    assert link[2] == 0.0


def test_node_scales_arithmetic_and_sram_but_not_hbm(small: Accelerators) -> None:
    at7 = design("hw.glb_banks=4", "hw.tech_node_nm=7")
    op = Op("g", OpKind.GEMM, Pass.FWD, gemm=(1, 64, 64, 64), numel=64 * 64, bytes_read=2 * 2 * 64 * 64,
            bytes_written=2 * 64 * 64)
    e22, e7 = op_energy([op], small).intra, op_energy([op], at7).intra
    assert e7["arithmetic"][0, 0] == pytest.approx(e22["arithmetic"][0, 0] * poly(7) / factor(22), rel=1e-12)
    assert e7["sram"][0, 0] == pytest.approx(e22["sram"][0, 0] * poly(7) / factor(22), rel=1e-12)  # CACTI is 22 nm
    assert e7["hbm"][0, 0] == e22["hbm"][0, 0] == 3 * 64 * 64 * 2 * 8 * 3.9 * PJ


# --- energy never decreases with more traffic -------------------------------------------------------------------


@pytest.fixture(scope="module")
def space() -> Accelerators:
    """486 small designs (1-4 cores of each kind, 8-32 wide arrays, 2-8 MiB in 4 or 16 banks)."""
    cfg = compose_cfg(["hw.space.n_tc.max=4", "hw.space.n_vc.max=4", "hw.space.tc_width.min=8",
                       "hw.space.tc_width.max=32", "hw.space.tc_depth.min=8", "hw.space.tc_depth.max=32",
                       "hw.space.glb_mib.max=8", "hw.space.glb_banks.min=4", "hw.space.glb_banks.max=16",
                       "hw.space.min_area_fraction=0"])
    acc = Accelerators.from_config(cfg.hw)
    assert 100 <= len(acc) <= 2000
    return acc


def _gemm(dims: tuple[int, int, int, int], extra: int = 0, epilogue: bool = False) -> Op:
    b, n, m, c = dims
    return Op("g", OpKind.GEMM, Pass.FWD, gemm=dims, vector_ops=("relu",) if epilogue else (), numel=b * n * m,
              bytes_read=2 * b * (n * c + c * m) + extra, bytes_written=2 * b * n * m)


DIMS = st.tuples(st.integers(1, 8), st.integers(1, 4096), st.integers(1, 4096), st.integers(1, 4096))


@settings(max_examples=40, deadline=None)
@given(dims=DIMS, extra=st.integers(0, 10**8), more=st.integers(1, 10**8), epilogue=st.booleans())
def test_more_bytes_read_never_costs_less(space: Accelerators, dims: tuple[int, int, int, int], extra: int,
                                          more: int, epilogue: bool) -> None:
    """Two GEMMs (and two vector ops) that differ only in bytes_read: the one reading more pays exactly Δ more
    HBM bytes, each also a buffer byte (a vector op's bytes also cross the buffer to the core: 2Δ buffer bytes),
    and nothing else changes."""
    b, n, m, _ = dims
    vec = [Op(f"v{k}", OpKind.VECTOR, Pass.FWD, vector_ops=("gelu",), numel=b * n * m, bytes_read=r,
              bytes_written=2 * b * n * m) for k, r in enumerate((1 + extra, 1 + extra + more))]
    ops = [_gemm(dims, extra, epilogue), _gemm(dims, extra + more, epilogue), *vec]
    energy = op_energy(ops, space)
    _, glb_j = sram_j(space)
    for parts in (energy.single, energy.intra):
        for lo, hi, buffer_bytes in ((0, 1, more), (2, 3, 2 * more)):
            assert np.array_equal(parts["arithmetic"][:, lo], parts["arithmetic"][:, hi])
            assert np.all(parts["sram"][:, hi] >= parts["sram"][:, lo])
            assert np.all(parts["hbm"][:, hi] > parts["hbm"][:, lo])
            for part, per_byte in (("hbm", more * 8 * 3.9 * PJ), ("sram", buffer_bytes * glb_j)):
                # a few ulps of the larger energy: the difference of two large sums for Δ = 1 byte
                ulps = 64 * np.finfo(float).eps * float(parts[part][:, hi].max())
                np.testing.assert_allclose(parts[part][:, hi] - parts[part][:, lo], per_byte, rtol=1e-9, atol=ulps)


@settings(max_examples=40, deadline=None)
@given(dims=DIMS, axis=st.integers(0, 3), grow=st.integers(2, 8), epilogue=st.booleans())
def test_larger_gemm_never_costs_less(space: Accelerators, dims: tuple[int, int, int, int], axis: int, grow: int,
                                      epilogue: bool) -> None:
    """A GEMM grown along one of (B, N, M, C), its operands read once: no part of its energy falls, in
    either mode, on any design."""
    big = tuple(d * grow if k == axis else d for k, d in enumerate(dims))
    energy = op_energy([_gemm(dims, 0, epilogue), _gemm(big, 0, epilogue)], space)  # type: ignore[arg-type]
    for parts in (energy.single, energy.intra):
        for part in ("arithmetic", "sram", "hbm"):
            assert np.all(parts[part][:, 1] >= parts[part][:, 0] * (1 - 1e-12)), (part, dims, big)


@settings(max_examples=40, deadline=None)
@given(dims=DIMS, epilogue=st.booleans())
def test_smaller_buffer_share_never_costs_less(space: Accelerators, dims: tuple[int, int, int, int],
                                               epilogue: bool) -> None:
    """Single mode sees 1/(n_tc+n_vc) of the buffer (2/(n_tc+n_vc) with an epilogue), intra mode all of it: the
    same GEMM moves at least as many HBM bytes in single mode, so its sram and HBM energy are at least intra's."""
    op = _gemm(dims, 0, epilogue)
    energy = op_energy([op], space)
    priced = price_detail([op], space)
    assert np.all(priced.single_hbm_bytes >= priced.hbm_bytes)
    for part in ("sram", "hbm"):
        assert np.all(energy.single[part] >= energy.intra[part] * (1 - 1e-12)), part
    assert np.array_equal(energy.single["arithmetic"], energy.intra["arithmetic"])


# --- static power -----------------------------------------------------------------------------------------------


def _area_parts(acc: Accelerators) -> dict[str, float]:
    r = acc.row(0)
    return chip_area_mm2(r.n_tc, r.n_vc, r.tc_width, r.tc_depth, r.vc_width, r.glb_bytes, r.glb_banks,
                         glb_bank_bytes=64, acc_rows_per_width=16, elem_bytes=2).parts()


def test_static_power_by_hand_32_banks() -> None:
    """2 MiB in 32 banks of 64 KiB (the organisation the area model prices too: 32 x 0.0551846 mm² beats 64 x
    32 KiB): SRAM leakage from CACTI, the rest of the chip at Aladdin's logic density, both at 22 nm."""
    acc = design("hw.glb_banks=32")
    bank, accum = cacti("1rw", 2 * 2**20 // 32, 512), cacti("1r1w", *ACC_ROW)
    assert (bank["area_mm2"], bank["leakage_mw"]) == (0.0551846, 20.9503)
    assert (accum["area_mm2"], accum["leakage_mw"]) == (0.0126542, 1.90609)
    macros_mm2 = 32 * bank["area_mm2"] + 1 * accum["area_mm2"]  # 1.7785614 mm²
    sram_w = (32 * bank["leakage_mw"] + 1 * accum["leakage_mw"]) * 1e-3  # 0.67231569 W, the table's node: x 1
    logic_mm2 = float(acc.area_mm2[0]) - macros_mm2
    parts = _area_parts(acc)
    assert parts["global_buffer"] == pytest.approx(32 * bank["area_mm2"], rel=1e-12)
    # what is left is the logic: arrays + local buffers, vector lanes, control, crossbar
    logic_parts = parts["tensor_cores"] + parts["vector_cores"] + parts["control"] + parts["crossbar"]
    assert logic_mm2 == pytest.approx(logic_parts, rel=1e-9)
    assert logic_mm2 == pytest.approx(0.2170084, rel=1e-6)
    want = sram_w + 0.01298 * S40_22 * logic_mm2  # 0.67231569 + 0.0043931 W/mm² x 0.2170084 mm²
    assert want == pytest.approx(0.6732690, rel=1e-6)
    assert static_power_w(acc)[0] == pytest.approx(want, rel=1e-12)


def test_static_power_logic_part_with_fewer_banks_than_the_area_model_uses(small: Accelerators) -> None:
    """2 MiB in 4 banks: the area model builds the buffer from 32 macros of 64 KiB (1.766 mm² < 4 x 512 KiB =
    2.482 mm²), so area − (4 banks + accumulator) = 1.921 − 2.495 < 0. The logic (arrays, lanes, control, crossbar:
    0.1426 mm²) still leaks at Aladdin's density."""
    parts = _area_parts(small)
    assert parts["global_buffer"] == pytest.approx(32 * 0.0551846, rel=1e-12)
    logic_mm2 = parts["tensor_cores"] + parts["vector_cores"] + parts["control"] + parts["crossbar"]
    assert logic_mm2 == pytest.approx(0.14263, rel=1e-4)
    macro, accum = cacti("1rw", 2 * 2**20 // 32, 512), cacti("1r1w", *ACC_ROW)
    # the SRAM's leakage: of the 4 banks (as now), or of the 32 macros the area model prices; either way the
    # logic adds its density x area on top
    sram_options_w = [(32 * macro["leakage_mw"] + accum["leakage_mw"]) * 1e-3]  # the area model's 32 macros
    logic_w = 0.01298 * S40_22 * logic_mm2  # 0.000627 W
    got = float(static_power_w(small)[0])
    assert any(got == pytest.approx(sram_w + logic_w, rel=1e-9) for sram_w in sram_options_w), got


def _static_by_design(acc: Accelerators) -> dict[tuple[int, ...], float]:
    p = static_power_w(acc)
    return {(int(acc.n_tc[i]), int(acc.n_vc[i]), int(acc.tc_width[i]), int(acc.tc_depth[i]), int(acc.glb_bytes[i]),
             int(acc.glb_banks[i])): float(p[i]) for i in range(len(acc))}


def test_static_power_grows_with_the_buffer(space: Accelerators) -> None:
    one = float(static_power_w(design("hw.glb_banks=32"))[0])
    assert float(static_power_w(design("hw.glb_mib=4", "hw.glb_banks=32"))[0]) > 1.8 * one  # SRAM leakage dominates
    # over a whole space: doubling the buffer of otherwise equal designs always costs leakage
    watts = _static_by_design(space)
    pairs = 0
    for (t, v, w, d, g, b), p in watts.items():
        bigger = watts.get((t, v, w, d, 2 * g, b))
        if bigger is not None:
            assert bigger > p, (t, v, w, d, g, b)
            pairs += 1
    assert pairs > 100


def test_static_power_never_falls_with_more_banks(space: Accelerators) -> None:
    watts = _static_by_design(space)
    four = watts[(1, 1, 8, 8, 8 * 2**20, 4)]
    sixteen = watts[(1, 1, 8, 8, 8 * 2**20, 16)]
    assert sixteen >= four
    for (t, v, w, d, g, b), p in watts.items():
        more = watts.get((t, v, w, d, g, 4 * b))
        if more is not None:
            assert more >= p, (t, v, w, d, g, b)



def test_given_static_power_replaces_the_model(space: Accelerators) -> None:
    assert static_power_w(design("hw.glb_banks=4", "hw.static_power_w=12.5")).tolist() == [12.5]
    gpu_cfg = compose_cfg(["hw=a100"]).hw  # a GPU has no modelled area: its config gives the figure
    assert gpu_cfg.static_power_w > 0 and not gpu_cfg.has_area
    assert static_power_w(Accelerators.from_config(gpu_cfg)).tolist() == [float(gpu_cfg.static_power_w)]
    cfg = compose_cfg(["hw.space.n_tc.max=2", "hw.space.n_vc.max=2", "hw.space.tc_width.max=8",
                       "hw.space.tc_depth.max=8", "hw.space.glb_mib.max=4", "hw.space.min_area_fraction=0",
                       "hw.static_power_w=7"])
    acc = Accelerators.from_config(cfg.hw)
    assert len(acc) > 10 and np.all(static_power_w(acc) == 7.0)


# --- a placed iteration ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "link_pj_per_bit"), [(2, 1.17), (4, 43.75)], ids=["ring-in-node", "ring-across"])
def test_placement_energy_by_hand(data: int, link_pj_per_bit: float) -> None:
    """E = m·t·e_mb + 2(d-1)·t·P·g·e_link + d·t·P·o·e_hbm + D·p_static·T with t = 2 on nodes of 4 chips: d = 2
    replicas of a tensor pair fit one node (ranks 0, 2), d = 4 span two (ranks 0, 2 | 4, 6)."""
    spec = PlacementSpec(devices=32, tensor_width=2, microbatches=8, hbm_bytes=32e9, hbm_bw_bytes_per_s=1e12,
                         dp_link_bw_bytes_per_s=45e9, grad_bytes_per_param=2.0, opt_bytes_touched_per_param=28.0,
                         microbatch_size=4, node_size=4)
    e_mb = {"arithmetic": 1.0, "sram": 0.5, "hbm": 0.25, "link": 0.125}
    params, stages, t_iter, seq = 1e6, 2, 0.5, 128
    devices = data * stages * 2
    pe = placement_energy(e_mb, spec, static_w=10.0, peak_dyn_w=30.0, params=params, data=data, stages=stages,
                          devices=devices, iteration_s=t_iter, seq_len=seq, node_nm=22.0)
    m_t = 8 * 2
    want = {"arithmetic": m_t * 1.0, "sram": m_t * 0.5,
            "hbm": m_t * 0.25 + data * 2 * params * 28.0 * 8 * 3.9 * PJ,
            "link": m_t * 0.125 + 2 * (data - 1) * 2 * params * 2.0 * 8 * link_pj_per_bit * PJ,
            "static": devices * 10.0 * t_iter}
    assert pe.parts.keys() == want.keys()
    for part, value in want.items():
        assert pe.parts[part] == pytest.approx(value, rel=1e-12), part
    total = sum(want.values())
    assert pe.energy_j == pytest.approx(total, rel=1e-12)
    assert pe.power_w == pytest.approx(total / (devices * t_iter), rel=1e-12)
    assert pe.peak_power_w == 40.0
    assert pe.energy_per_token_j == pytest.approx(total / (32 * seq), rel=1e-12)
    assert pe.samples_per_j == pytest.approx(32 / total, rel=1e-12)
