"""Area model of PHAZE's accelerator template, in mm² (DESIGN §4).

    area = n_tc·(W·D·a_pe + a_l2(max(1024, 16·W·D)))
         + n_vc·(W_vc·a_lane + a_l2(max(1024, 16·W_vc)))
         + a_glb(glb_bytes)

This is the closed form that reproduces every area the original stored (Accelergy/CACTI 22 nm, refitted:
docs/phaze-original.md §3.3), so the same budget means the same thing. The constants and tables come
from phaze/data/area_tables.csv; between table points the buffer area is interpolated log-log, exactly the
table value at a table point; a buffer outside a table is a ConfigError naming the config field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phaze.config.errors import ConfigError

UM2_PER_MM2 = 1e6
# Per-core local buffer = max(1024, 16·W·D) bytes (the original's L2_Buffer, docs/phaze-original.md §3.1).
LOCAL_BUFFER_FLOOR_BYTES = 1024
LOCAL_BUFFER_BYTES_PER_PE = 16


@dataclass(frozen=True)
class AreaTables:
    """The refitted area constants: µm² per PE / lane and (size_bytes, µm²) tables sorted by size."""

    pe_um2: float
    lane_um2: float
    l2_bytes: NDArray[np.float64]
    l2_um2: NDArray[np.float64]
    glb_bytes: NDArray[np.float64]
    glb_um2: NDArray[np.float64]


@cache
def area_tables() -> AreaTables:
    text = resources.files("phaze").joinpath("data/area_tables.csv").read_text()
    rows: dict[str, list[tuple[float, float]]] = {}
    for row in csv.DictReader(text.splitlines()):
        rows.setdefault(row["table"], []).append((float(row["size_bytes"]), float(row["area_um2"])))
    l2 = np.array(sorted(rows["l2"]))
    glb = np.array(sorted(rows["glb"]))
    return AreaTables(pe_um2=rows["pe_tc"][0][1], lane_um2=rows["lane_vc"][0][1],
                      l2_bytes=l2[:, 0], l2_um2=l2[:, 1], glb_bytes=glb[:, 0], glb_um2=glb[:, 1])


def local_buffer_bytes(pes: ArrayLike) -> NDArray[np.int64]:
    """Per-core local buffer: 16 bytes per PE (or lane) with a 1 KiB floor (docs/phaze-original.md §3.1)."""
    return np.maximum(LOCAL_BUFFER_FLOOR_BYTES, LOCAL_BUFFER_BYTES_PER_PE * np.asarray(pes, dtype=np.int64))


def table_area_um2(sizes: ArrayLike, table_bytes: NDArray[np.float64], table_um2: NDArray[np.float64],
                   field: str, fields: ArrayLike | None = None) -> NDArray[np.float64]:
    """Log-log interpolation in a (size, area) table; exact at table points.

    `fields` (the config values that produced `sizes`) is what the error reports; default: the sizes.
    """
    x = np.asarray(sizes, dtype=np.float64)
    lo, hi = table_bytes[0], table_bytes[-1]
    bad = (x < lo) | (x > hi)
    if bad.any():
        first = np.flatnonzero(bad.reshape(-1))[0]
        shown = np.asarray(x if fields is None else fields).reshape(-1)[first]
        gives = "" if fields is None else f" (this value needs {x.reshape(-1)[first]:.0f} bytes)"
        raise ConfigError(field, shown.item(), f"a size in the area table, {lo:.0f}..{hi:.0f} bytes{gives}")
    interp = np.exp(np.interp(np.log(x), np.log(table_bytes), np.log(table_um2)))
    idx = np.clip(np.searchsorted(table_bytes, x), 0, len(table_bytes) - 1)
    return np.where(table_bytes[idx] == x, table_um2[idx], interp)


def area_mm2(n_tc: ArrayLike, n_vc: ArrayLike, tc_width: ArrayLike, tc_depth: ArrayLike,
             vc_width: ArrayLike, glb_bytes: ArrayLike, prefix: str = "hw.") -> NDArray[np.float64]:
    """Area of each design (element-wise over broadcast arrays), in mm² (DESIGN §4)."""
    t = area_tables()
    n_tc, n_vc = np.asarray(n_tc, dtype=np.float64), np.asarray(n_vc, dtype=np.float64)
    w, d, wv = (np.asarray(a, dtype=np.int64) for a in (tc_width, tc_depth, vc_width))
    tc_l2 = table_area_um2(local_buffer_bytes(w * d), t.l2_bytes, t.l2_um2,
                           f"{prefix}tc_width·{prefix}tc_depth", w * d)
    vc_l2 = table_area_um2(local_buffer_bytes(wv), t.l2_bytes, t.l2_um2, f"{prefix}vc_width", wv)
    glb = np.asarray(glb_bytes, dtype=np.float64)
    glb_area = table_area_um2(glb, t.glb_bytes, t.glb_um2, f"{prefix}glb_mib", glb / 2**20)
    um2 = n_tc * (w * d * t.pe_um2 + tc_l2) + n_vc * (wv * t.lane_um2 + vc_l2) + glb_area
    return um2 / UM2_PER_MM2
