"""SRAM macro costs at 22 nm from a CACTI 7 table, and CACTI's crossbar area rule (docs/sram.md).

One SRAM here is one CACTI bank: `capacity_bytes` bytes behind one port group `port_bits` wide, one access
(read or write) of `port_bits` bits per port per cycle. A banked buffer is priced by the caller as
banks x SRAM(capacity/banks, width). The table (phaze/data/sram_22nm.csv, made by tools/sram_table.py) holds
CACTI's area, read/write energy per access, access and cycle time and standby leakage for capacities
1 KiB..128 MiB (powers of two) and port widths 32..8192 bits (powers of two), for three port configurations:

    "1rw"  one read/write port (one access per cycle: phaze's default, the global buffer's model)
    "1r1w" one read port and one write port (ZigZag's usual choice)
    "2r2w" two read and two write ports

A grid point's area is that of the smallest CACTI macro with at least its capacity and port width (CACTI's
organisations are not monotone in width); its energies, times and leakage are its own CACTI values, or the
area-serving macro's where CACTI rejected the point (SramGrid). Between grid points a quantity is interpolated
bilinearly in (log capacity, log width) on its log; at a grid point it is the grid value exactly. A query outside
the axes, or with no macro serving it, is a ConfigError naming the config field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phaze.config.errors import ConfigError

PORTS = ("1rw", "1r1w", "2r2w")
DEFAULT_PORTS = "1rw"
QUANTITIES = ("area_mm2", "read_pj", "write_pj", "access_ns", "cycle_ns", "leakage_mw")

UM2_PER_MM2 = 1e6
# CACTI 7 wire pitch outside the mats at 22 nm: tech_params/22nm.dat, row "-wire_pitch (um) 2.5 4 8 0 2.5 4 8 2"
# (columns projection/wire type; the table's config is conservative projection (1) and semi-global wires (1):
# column "1/1" = 4), in units of the feature size (parameter.cc:600, `pitch *= g_ip->F_sz_um`): 4 x 0.022 µm.
CACTI_SEMI_GLOBAL_PITCH_22NM_UM = 4 * 0.022
# Width per output column of CACTI 7's cross-point tri-state buffers at 22 nm once they are repeater-sized (inputs
# x flit >= 2048 bits): CACTI's crossbar area / (n_in·n_out·flit·pitch) where the buffers, not the wires, set the
# width; measured with tools/cacti_crossbar.cc (CACTI's own Crossbar class under the table's config).
CACTI_TRISTATE_WIDTH_22NM_UM = 25.168

@dataclass(frozen=True)
class SramGrid:
    """One port configuration's table on sorted (capacity, width) axes, NaN where CACTI gave no organisation.

    `cacti` holds CACTI's numbers per quantity as tabulated; `served` what the queries use:

    - area: the smallest area of any table macro with at least this capacity and at least this port width
      (`served_capacity` x `served_bits`), since a designer can always use such a macro. CACTI's ED^2-optimised
      organisations are not monotone in width (up to 28 % less area for a wider port; docs/sram.md); this makes
      area non-decreasing in capacity and in width. It is the point's own area at 126 of the 147 CACTI points.
    - every other quantity: the point's own CACTI value (its organisation); where CACTI rejected the point (a
      port too wide for a tiny array, e.g. 1 KiB x 4096 b), that of the macro serving its area.
    """

    capacity_bytes: NDArray[np.float64]
    port_bits: NDArray[np.float64]
    cacti: dict[str, NDArray[np.float64]]
    served: dict[str, NDArray[np.float64]]
    served_capacity: NDArray[np.float64]
    served_bits: NDArray[np.float64]
    log_served: dict[str, NDArray[np.float64]]  # log of `served`, 0 where absent


@dataclass(frozen=True)
class SramCost:
    """Every tabulated quantity of the queried SRAMs, element-wise over the broadcast query shape."""

    area_mm2: NDArray[np.float64]  # macro area, mm²
    read_pj: NDArray[np.float64]  # dynamic energy of one read access of port_bits bits, pJ
    write_pj: NDArray[np.float64]  # dynamic energy of one write access of port_bits bits, pJ
    access_ns: NDArray[np.float64]  # access time, ns
    cycle_ns: NDArray[np.float64]  # random cycle time, ns
    leakage_mw: NDArray[np.float64]  # standby leakage, mW


@cache
def sram_table() -> dict[str, SramGrid]:
    """phaze/data/sram_22nm.csv as one SramGrid per port configuration."""
    text = resources.files("phaze").joinpath("data/sram_22nm.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    grids: dict[str, SramGrid] = {}
    for ports in PORTS:
        mine = [r for r in rows if r["ports"] == ports]
        caps = np.array(sorted({float(r["capacity_bytes"]) for r in mine}))
        widths = np.array(sorted({float(r["port_bits"]) for r in mine}))
        cacti = {q: np.full((len(caps), len(widths)), np.nan) for q in QUANTITIES}
        for r in mine:
            i = np.searchsorted(caps, float(r["capacity_bytes"]))
            j = np.searchsorted(widths, float(r["port_bits"]))
            for q in QUANTITIES:
                cacti[q][i, j] = float(r[q])
        grids[ports] = _served_grid(caps, widths, cacti)
    return grids


def _served_grid(caps: NDArray[np.float64], widths: NDArray[np.float64],
                 cacti: dict[str, NDArray[np.float64]]) -> SramGrid:
    """The `served` quantities of SramGrid: area from the smallest macro at least as large and as wide."""
    area = cacti["area_mm2"]
    served = {q: cacti[q].copy() for q in QUANTITIES}
    served_capacity, served_bits = np.full_like(area, np.nan), np.full_like(area, np.nan)
    for i in range(len(caps)):
        for j in range(len(widths)):
            block = area[i:, j:]
            if np.isnan(block).all():
                continue
            di, dj = np.unravel_index(np.nanargmin(block), block.shape)  # first minimum: the point itself on ties
            served_capacity[i, j], served_bits[i, j] = caps[i + di], widths[j + dj]
            served["area_mm2"][i, j] = area[i + di, j + dj]
            if np.isnan(area[i, j]):
                for q in QUANTITIES:
                    served[q][i, j] = cacti[q][i + di, j + dj]
    log_served = {q: np.log(np.nan_to_num(v, nan=1.0)) for q, v in served.items()}
    return SramGrid(caps, widths, cacti, served, served_capacity, served_bits, log_served)


def _bracket(axis: NDArray[np.float64], x: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Upper bracketing index into `axis` and the log-space weight of that upper point (1.0 at a table point)."""
    hi = np.clip(np.searchsorted(axis, x, side="left"), 1, len(axis) - 1)
    la, lx = np.log(axis), np.log(x)
    return hi, (lx - la[hi - 1]) / (la[hi] - la[hi - 1])


def sram_cost(capacity_bytes: ArrayLike, port_bits: ArrayLike, field: str, ports: str = DEFAULT_PORTS,
              fields: ArrayLike | None = None) -> SramCost:
    """CACTI 22 nm cost of one SRAM bank of `capacity_bytes` bytes with a `port_bits`-bit port (element-wise).

    `field` names the config field(s) the sizes come from and `fields` the config values behind each element
    (default: the capacities); both only shape the ConfigError raised for a point outside the table.
    """
    return SramCost(**_lookup(QUANTITIES, capacity_bytes, port_bits, field, ports, fields))


def _lookup(quantities: tuple[str, ...], capacity_bytes: ArrayLike, port_bits: ArrayLike, field: str, ports: str,
            fields: ArrayLike | None) -> dict[str, NDArray[np.float64]]:
    """The served grid's `quantities`, bilinear in (log capacity, log width) on their logs, exact on the grid."""
    if ports not in PORTS:
        raise ConfigError("ports", ports, f"one of {', '.join(PORTS)}")
    grid = sram_table()[ports]
    cap, bits = np.broadcast_arrays(np.asarray(capacity_bytes, dtype=np.float64),
                                    np.asarray(port_bits, dtype=np.float64))
    c_axis, w_axis = grid.capacity_bytes, grid.port_bits
    outside = ~((cap >= c_axis[0]) & (cap <= c_axis[-1]) & (bits >= w_axis[0]) & (bits <= w_axis[-1]))  # NaN too
    cap_q, bits_q = np.where(outside, c_axis[0], cap), np.where(outside, w_axis[0], bits)
    ic, tc = _bracket(c_axis, cap_q)
    iw, tw = _bracket(w_axis, bits_q)
    corners = [(ic - 1, iw - 1, (1 - tc) * (1 - tw)), (ic, iw - 1, tc * (1 - tw)),
               (ic - 1, iw, (1 - tc) * tw), (ic, iw, tc * tw)]
    absent = np.isnan(grid.served["area_mm2"])
    missing = outside.copy()
    for i, j, wgt in corners:
        missing |= (wgt > 0) & absent[i, j]
    if missing.any():
        k = np.flatnonzero(missing.reshape(-1))[0]
        shown = np.asarray(cap if fields is None else fields).reshape(-1)[k]
        raise ConfigError(field, shown.item(),
                          f"an SRAM bank of {c_axis[0]:.0f}..{c_axis[-1]:.0f} bytes with a {w_axis[0]:.0f}.."
                          f"{w_axis[-1]:.0f}-bit port that a CACTI macro serves (phaze/data/sram_22nm.csv, {ports}); "
                          f"this one is {cap.reshape(-1)[k]:.0f} bytes x {bits.reshape(-1)[k]:.0f} bits")
    on_c = np.where(c_axis[ic - 1] == cap_q, ic - 1, np.where(c_axis[ic] == cap_q, ic, -1))
    on_w = np.where(w_axis[iw - 1] == bits_q, iw - 1, np.where(w_axis[iw] == bits_q, iw, -1))
    exact = (on_c >= 0) & (on_w >= 0)
    out: dict[str, NDArray[np.float64]] = {}
    for q in quantities:
        log_table = grid.log_served[q]  # 0 where absent: only ever weighted by 0 after the check above
        log_v = sum(wgt * log_table[i, j] for i, j, wgt in corners)
        out[q] = np.where(exact, grid.served[q][on_c, on_w], np.exp(log_v))
    return out


def sram_area_mm2(capacity_bytes: ArrayLike, port_bits: ArrayLike, field: str, ports: str = DEFAULT_PORTS,
                  fields: ArrayLike | None = None) -> NDArray[np.float64]:
    """Area of one SRAM bank, mm² (CACTI 7, 22 nm)."""
    return _lookup(("area_mm2",), capacity_bytes, port_bits, field, ports, fields)["area_mm2"]


def sram_read_pj(capacity_bytes: ArrayLike, port_bits: ArrayLike, field: str, ports: str = DEFAULT_PORTS,
                 fields: ArrayLike | None = None) -> NDArray[np.float64]:
    """Dynamic energy of one read access (`port_bits` bits) of one SRAM bank, pJ (CACTI 7, 22 nm)."""
    return _lookup(("read_pj",), capacity_bytes, port_bits, field, ports, fields)["read_pj"]


def sram_write_pj(capacity_bytes: ArrayLike, port_bits: ArrayLike, field: str, ports: str = DEFAULT_PORTS,
                  fields: ArrayLike | None = None) -> NDArray[np.float64]:
    """Dynamic energy of one write access (`port_bits` bits) of one SRAM bank, pJ (CACTI 7, 22 nm)."""
    return _lookup(("write_pj",), capacity_bytes, port_bits, field, ports, fields)["write_pj"]


def sram_leakage_mw(capacity_bytes: ArrayLike, port_bits: ArrayLike, field: str, ports: str = DEFAULT_PORTS,
                    fields: ArrayLike | None = None) -> NDArray[np.float64]:
    """Standby leakage power of one SRAM bank, mW (CACTI 7, 22 nm, itrs-hp devices at 360 K)."""
    return _lookup(("leakage_mw",), capacity_bytes, port_bits, field, ports, fields)["leakage_mw"]


def sram_cycle_ns(capacity_bytes: ArrayLike, port_bits: ArrayLike, field: str, ports: str = DEFAULT_PORTS,
                  fields: ArrayLike | None = None) -> NDArray[np.float64]:
    """Random cycle time of one SRAM bank, ns (CACTI 7, 22 nm): the bank accepts one access per this time."""
    return _lookup(("cycle_ns",), capacity_bytes, port_bits, field, ports, fields)["cycle_ns"]


def crossbar_area_mm2(n_in_ports: ArrayLike, n_out_ports: ArrayLike, flit_bits: ArrayLike) -> NDArray[np.float64]:
    """Area of an n_in x n_out crossbar of `flit_bits`-bit ports at 22 nm, mm² (CACTI 7's crossbar rule).

    CACTI 7 crossbar.cc, Crossbar::compute_power: the crossbar is n_in·flit wire tracks high and, per output,
    max(tri-state buffer width, flit wire tracks) wide, so

        area = n_in·flit·pitch · n_out·max(w_tri, flit·pitch)

    quadratic in the flit width once flit·pitch > w_tri (flits of 286 bits and more at pitch 0.088 µm,
    w_tri = 25.168 µm). This equals CACTI's own crossbar (run with tools/cacti_crossbar.cc) to 1e-9 whenever
    n_in·flit >= 2048 bits; below that CACTI's smaller, not yet repeater-sized buffers make it smaller than this.
    """
    n_in = np.asarray(n_in_ports, dtype=np.float64)
    n_out = np.asarray(n_out_ports, dtype=np.float64)
    flit_um = np.asarray(flit_bits, dtype=np.float64) * CACTI_SEMI_GLOBAL_PITCH_22NM_UM
    return n_in * flit_um * n_out * np.maximum(CACTI_TRISTATE_WIDTH_22NM_UM, flit_um) / UM2_PER_MM2
