"""Price every op of a layer graph on every candidate, in both modes (DESIGN §5, §6).

`single` is the op on one core, `all` (intra) the op spread over the whole chip. The chip's global buffer
(capacity and bandwidth) and HBM bandwidth are shared by its n_tc + n_vc cores: a one-core op gets, per core
it holds (one, or two for a GEMM with a fused epilogue, which holds a tensor and a vector core),
1 / (n_tc + n_vc) of each. Any schedule holds at most n_tc + n_vc cores at once (the TC and VC capacities,
DESIGN §6), and a whole-chip op holds all of them, so no schedule of these durations can draw more than 100%
of either bandwidth; `phaze.schedule.check.check_bandwidth` re-checks it from the traffic `price_detail` returns.
Collectives hold no core and move their bytes over the links (their HBM reads are not counted).

Every GEMM and vector op also pays its issue and synchronisation cost, `op_issue_cycles + op_barrier_cycles·
log2(cores it spans)`: 1 core (2 when fused) in single mode, n_tc + n_vc in intra mode.

An attention-core op (`Op.attention_core`) streams at the chip's measured attention-core HBM rate where the
config gives one. The work is numpy over (groups x ops) matrices: each mode of each op kind depends on a few
row fields only, so it is priced once per distinct combination (`Accelerators.groups`) and broadcast back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phaze.cost.collectives import collective_s
from phaze.cost.gemm import (
    compulsory_bytes,
    gemm_compute_cycles,
    gemm_glb_bytes,
    gemm_hbm_bytes,
    gemm_wave_cycles,
)
from phaze.cost.tables import cycles_per_element
from phaze.cost.vector import epilogue_seconds, vector_terms
from phaze.hardware.accelerators import Accelerators
from phaze.model.ops import LayerGraph, Op, OpKind

# What bounds an op's time in a mode (`Priced.bound`): the largest of its terms.
BOUND_COMPUTE, BOUND_GLB, BOUND_HBM, BOUND_VECTOR, BOUND_LINK, BOUND_NONE = range(6)
BOUND_NAMES = ("compute", "global_buffer", "hbm", "vector", "link", "none")
# Grouping keys: the row fields each priced quantity depends on.
VECTOR_INTRA_KEY = ("n_vc", "vc_width", "glb_banks")
VECTOR_SINGLE_KEY = ("n_cores", "vc_width", "glb_banks")


@dataclass(frozen=True)
class Priced:
    """Per (candidate, op): seconds, what bounds them, and the HBM / global-buffer bytes moved, in each mode."""

    single_s: NDArray[np.float64]
    intra_s: NDArray[np.float64]
    single_bound: NDArray[np.int8]
    intra_bound: NDArray[np.int8]
    single_overhead_s: NDArray[np.float64]
    intra_overhead_s: NDArray[np.float64]
    hbm_bytes: NDArray[np.float64]  # intra mode; a GEMM's tiling differs in single mode (its capacity share)
    single_hbm_bytes: NDArray[np.float64]
    glb_bytes: NDArray[np.float64]  # intra mode; a GPU's all-core GEMM moves thread-block tiles (single below)
    single_glb_bytes: NDArray[np.float64]


def _hbm_bw(ops: list[Op], acc: Accelerators) -> NDArray[np.float64]:
    """(1, len(ops)) HBM rate each op streams at: the attention core's where measured, else the chip's."""
    return np.array([[acc.core_hbm_bw_bytes_per_s if op.attention_core else acc.hbm_bw_bytes_per_s for op in ops]],
                    dtype=np.float64)


def _col(acc: Accelerators, name: str, first: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.asarray(getattr(acc, name))[first][:, None]


def _stack_bound(terms: list[NDArray[np.float64]], codes: list[int], detail: bool,
                 ) -> tuple[NDArray[np.float64], NDArray[np.int8] | None]:
    """(max of the terms, code of the first largest term or None without `detail`) element-wise."""
    if not detail:
        out = np.maximum(terms[0], terms[1])
        for t in terms[2:]:
            np.maximum(out, t, out=out)
        return out, None
    stacked = np.stack(np.broadcast_arrays(*terms), axis=0)
    which = np.argmax(stacked, axis=0)
    return stacked.max(axis=0), np.asarray(codes, dtype=np.int8)[which]


def lane_cycles_per_element(ops: list[Op], acc: Accelerators) -> NDArray[np.float64]:
    """Lane-cycles per element of each op's vector chain (a GEMM's fused epilogue), under hw.vector_cost_model."""
    return np.array([cycles_per_element(op.vector_ops, op.pass_, op.name, model=acc.vector_cost_model,
                                        row_elems=op.row_elems) for op in ops], dtype=np.float64)


def _gemm_columns(ops: list[Op], acc: Accelerators) -> dict[str, NDArray[np.int64]]:
    for op in ops:
        if op.gemm is None:
            raise ValueError(f"op {op.name!r}: a GEMM op needs its (B, N, M, C) dims")
    dims = np.array([op.gemm for op in ops], dtype=np.int64).reshape(len(ops), 4)
    b, n, m, c = dims[:, 0], dims[:, 1], dims[:, 2], dims[:, 3]
    total = np.array([op.bytes_read + op.bytes_written for op in ops], dtype=np.int64)
    e = acc.elem_bytes
    return {"b": b, "n": n, "m": m, "c": c, "extra": np.maximum(total - compulsory_bytes(b, n, m, c, e), 0),
            "epi": lane_cycles_per_element(ops, acc),
            "numel": np.array([op.numel for op in ops], dtype=np.int64)}


def _gemm_mode(col: dict[str, NDArray[np.int64]], ops: list[Op], acc: Accelerators, single: bool, detail: bool,
               ) -> tuple[NDArray[np.float64], Any, NDArray[np.float64], NDArray[np.float64]]:
    """(seconds, bound, HBM bytes, GLB bytes) per (candidate, op) of GEMMs in one mode, epilogue included.

    Each term depends on a few fields only — compute on (cores used, W, D), the buffer traffic on (W, D), the
    HBM tiling on the buffer capacity an op sees — so each is computed per distinct value and gathered.
    """
    dims = (col["b"][None], col["n"][None], col["m"][None], col["c"][None])
    held = np.where(col["epi"] > 0, 2, 1)[None] if single else np.ones((1, len(ops)), dtype=np.int64)
    e = acc.elem_bytes
    # compute and buffer traffic
    first, inv_core = acc.groups(*(("tc_width", "tc_depth") if single else ("n_tc", "tc_width", "tc_depth")))
    width, depth, rows = (_col(acc, name, first) for name in ("tc_width", "tc_depth", "tc_block_rows"))
    cores = 1 if single else _col(acc, "n_tc", first)
    cycles = gemm_compute_cycles(*dims, cores, width, depth, rows).astype(np.float64)
    if not single and acc.gemm_wave_tile is not None and acc.gemm_wave_slots is not None:
        tile, slots = acc.gemm_wave_tile, acc.gemm_wave_slots
        waves = gemm_wave_cycles(*dims, tile=tile, slots=slots, macs_per_cycle=cores * width * depth)
        cycles = np.maximum(cycles, waves)
        glb = np.minimum(gemm_glb_bytes(*dims, tile[0], tile[1], e), gemm_glb_bytes(*dims, tile[1], tile[0], e))
    else:
        glb = gemm_glb_bytes(*dims, rows, depth, e)
    glb = np.broadcast_to(glb, cycles.shape)
    # HBM traffic of the best tiling of the capacity the op sees
    first_cap, inv_cap = acc.groups(*(("glb_bytes", "n_cores") if single else ("glb_bytes",)))
    capacity = _col(acc, "glb_bytes", first_cap) * (held / _col(acc, "n_cores", first_cap) if single else 1.0)
    hbm = gemm_hbm_bytes(*dims, capacity, e) + col["extra"][None]
    # per candidate: each bandwidth at the op's share
    share = held / acc.n_cores[:, None] if single else np.ones((len(acc), 1))
    t_compute = cycles[inv_core] / acc.freq_hz / acc.tc_achievable_fraction
    glb_c, hbm_c = np.broadcast_to(glb[inv_core], t_compute.shape), np.broadcast_to(hbm[inv_cap], t_compute.shape)
    t_glb = glb_c / (acc.glb_bw_bytes_per_cycle[:, None] * acc.freq_hz * share)
    t_hbm = hbm_c / (_hbm_bw(ops, acc) * share)
    seconds, bound = _stack_bound([t_compute, t_glb, t_hbm], [BOUND_COMPUTE, BOUND_GLB, BOUND_HBM], detail)
    fused = col["epi"] > 0
    if fused.any():
        vfirst, vinverse = acc.groups(*(("vc_width",) if single else ("n_vc", "vc_width")))
        lanes = _col(acc, "vc_width", vfirst) * (1 if single else _col(acc, "n_vc", vfirst))
        epi = epilogue_seconds(col["numel"][fused][None], col["epi"][fused][None], lanes=lanes,
                               freq_hz=acc.freq_hz)[vinverse]
        if bound is not None:
            bound[:, fused] = np.where(epi > seconds[:, fused], BOUND_VECTOR, bound[:, fused])
        seconds[:, fused] = np.maximum(seconds[:, fused], epi)
    return seconds, bound, hbm_c, glb_c


def _vector_mode(ops: list[Op], acc: Accelerators, single: bool, detail: bool,
                 ) -> tuple[NDArray[np.float64], Any, NDArray[np.float64], NDArray[np.float64]]:
    numel = np.array([op.numel for op in ops], dtype=np.int64)[None]
    cyc = lane_cycles_per_element(ops, acc)[None]
    nbytes = np.array([op.bytes_read + op.bytes_written for op in ops], dtype=np.float64)[None]
    first, inverse = acc.groups(*(VECTOR_SINGLE_KEY if single else VECTOR_INTRA_KEY))
    width = _col(acc, "vc_width", first)
    share = 1.0 / _col(acc, "n_cores", first) if single else 1.0
    lanes = width if single else _col(acc, "n_vc", first) * width
    glb_bw = _col(acc, "glb_bw_bytes_per_cycle", first) * acc.freq_hz * share
    hbm_bw = _hbm_bw(ops, acc) * share
    t_compute, t_hbm, t_glb = vector_terms(numel, cyc, nbytes, lanes=lanes, hbm_bw_bytes_per_s=hbm_bw,
                                           glb_bw_bytes_per_s=glb_bw, freq_hz=acc.freq_hz)
    seconds, bound = _stack_bound([t_compute, t_glb, t_hbm], [BOUND_VECTOR, BOUND_GLB, BOUND_HBM], detail)
    traffic = np.broadcast_to(nbytes, (len(acc), len(ops)))
    return seconds[inverse], None if bound is None else bound[inverse], traffic, traffic


def _overhead_s(acc: Accelerators, spans: NDArray[np.int64] | int) -> NDArray[np.float64]:
    """op_issue_cycles + op_barrier_cycles·log2(cores spanned), seconds."""
    levels = np.log2(np.asarray(spans, dtype=np.float64))
    return (acc.op_issue_cycles + acc.op_barrier_cycles * levels) / acc.freq_hz


def collective_op_s(op: Op, acc: Accelerators) -> float:
    """A tensor-parallel collective: the same time in both modes (it occupies the link, not the cores)."""
    if op.collective is None:
        raise ValueError(f"op {op.name!r}: a collective op needs its `collective` kind")
    return collective_s(op.collective, op.comm_bytes, op.group, node_size=acc.node_size,
                        tp_link_bw_bytes_per_s=acc.tp_link_bw_bytes_per_s,
                        dp_link_bw_bytes_per_s=acc.dp_link_bw_bytes_per_s, link_latency_s=acc.link_latency_s)


def _price(ops: list[Op], acc: Accelerators, detail: bool) -> dict[str, Any]:
    """The arrays of `Priced` (only the seconds without `detail`)."""
    shape = (len(acc), len(ops))
    names = ("single_s", "intra_s") + (("single_overhead_s", "intra_overhead_s", "hbm_bytes", "single_hbm_bytes",
                                        "glb_bytes", "single_glb_bytes") if detail else ())
    out: dict[str, Any] = {name: np.zeros(shape) for name in names}
    if detail:
        out.update({name: np.full(shape, BOUND_NONE, dtype=np.int8) for name in ("single_bound", "intra_bound")})
    idx: dict[OpKind, list[int]] = {kind: [] for kind in OpKind}
    for i, op in enumerate(ops):
        idx[OpKind(op.kind)].append(i)
    intra_over = _overhead_s(acc, acc.n_cores)[:, None]
    for kind in (OpKind.GEMM, OpKind.VECTOR):
        k = idx[kind]
        if not k:
            continue
        kops = [ops[i] for i in k]
        if kind is OpKind.GEMM:
            col = _gemm_columns(kops, acc)
            single, intra = (_gemm_mode(col, kops, acc, mode, detail) for mode in (True, False))
            single_over = _overhead_s(acc, np.where(col["epi"] > 0, 2, 1))[None]
        else:
            single, intra = (_vector_mode(kops, acc, mode, detail) for mode in (True, False))
            single_over = _overhead_s(acc, np.ones(len(k), dtype=np.int64))[None]
        out["single_s"][:, k] = single[0] + single_over
        out["intra_s"][:, k] = intra[0] + intra_over
        if detail:
            out["single_overhead_s"][:, k], out["intra_overhead_s"][:, k] = single_over, intra_over
            out["single_bound"][:, k], out["intra_bound"][:, k] = single[1], intra[1]
            out["hbm_bytes"][:, k], out["single_hbm_bytes"][:, k] = intra[2], single[2]
            out["glb_bytes"][:, k], out["single_glb_bytes"][:, k] = intra[3], single[3]
    for i in idx[OpKind.COLLECTIVE]:
        out["single_s"][:, i] = out["intra_s"][:, i] = collective_op_s(ops[i], acc)
        if detail:
            out["single_bound"][:, i] = out["intra_bound"][:, i] = BOUND_LINK
    return out


def price_detail(ops: list[Op], acc: Accelerators) -> Priced:
    """Every op on every candidate in both modes: seconds (issue cost included), what bounds them and the
    traffic they move (for reports and the bandwidth checker; `price_ops` is the fast path)."""
    return Priced(**_price(ops, acc, detail=True))


def price_ops(ops: list[Op], acc: Accelerators) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(single_s, all_s), float64 arrays of shape (len(acc), len(ops)). NOPs cost 0; GEMMs and vector
    ops pay their issue cost on top (module doc)."""
    out = _price(ops, acc, detail=False)
    return out["single_s"], out["intra_s"]


def price_graph(graph: LayerGraph, acc: Accelerators) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(single_s, all_s) of every op of `graph` on every candidate: shape (n_candidates, n_ops)."""
    return price_ops(graph.ops, acc)
