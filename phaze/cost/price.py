"""Price every op of a layer graph on every candidate, in both modes (DESIGN §5, §6).

`single` is the op on one core — a 1/n_tc share of HBM and global-buffer bandwidth for GEMMs, 1/n_vc of
HBM for vector ops — and `all` the op spread over the whole chip (intra-op). An attention-core op
(`Op.attention_core`) streams at the chip's measured attention-core HBM rate where the config gives one.
The work is numpy over (configs x ops) matrices: GEMMs are priced once per distinct tensor-core config,
vector ops once per distinct vector-core config, collectives once per op, then broadcast to the candidates.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from phaze.cost.collectives import collective_s
from phaze.cost.gemm import gemm_seconds
from phaze.cost.tables import cycles_per_element
from phaze.cost.vector import epilogue_seconds, vector_seconds
from phaze.hardware.accelerators import Accelerators
from phaze.model.ops import LayerGraph, Op, OpKind


def _hbm_bw(ops: list[Op], acc: Accelerators) -> NDArray[np.float64]:
    """(1, len(ops)) HBM rate each op streams at: the attention core's where measured, else the chip's."""
    return np.array([[acc.core_hbm_bw_bytes_per_s if op.attention_core else acc.hbm_bw_bytes_per_s for op in ops]],
                    dtype=np.float64)


def _gemm_columns(ops: list[Op]) -> dict[str, NDArray[np.int64]]:
    for op in ops:
        if op.gemm is None:
            raise ValueError(f"op {op.name!r}: a GEMM op needs its (B, N, M, C) dims")
    dims = np.array([op.gemm for op in ops], dtype=np.int64).reshape(len(ops), 4)
    return {"b": dims[:, 0], "n": dims[:, 1], "m": dims[:, 2], "c": dims[:, 3],
            "bytes": np.array([op.bytes_read + op.bytes_written for op in ops], dtype=np.int64),
            "epi": np.array([cycles_per_element(op.vector_ops, op.pass_, op.name) for op in ops], dtype=np.int64),
            "numel": np.array([op.numel for op in ops], dtype=np.int64)}


def _price_gemms(ops: list[Op], acc: Accelerators) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(single, all) seconds, shape (n_candidates, len(ops)); fused epilogues included."""
    col = _gemm_columns(ops)
    first, inverse = acc.tc_groups
    n_tc = acc.n_tc[first][:, None]
    common = {"width": acc.tc_width[first][:, None], "depth": acc.tc_depth[first][:, None],
              "glb_bytes": acc.glb_bytes[first][:, None], "freq_hz": acc.freq_hz, "elem_bytes": acc.elem_bytes,
              "tc_achievable_fraction": acc.tc_achievable_fraction}
    glb_bw = acc.glb_bw_bytes_per_cycle[first][:, None]
    args = (col["b"][None], col["n"][None], col["m"][None], col["c"][None], col["bytes"][None])
    wave = None if acc.gemm_wave_tile is None or acc.gemm_wave_slots is None else (acc.gemm_wave_tile,
                                                                                   acc.gemm_wave_slots)
    hbm_bw = _hbm_bw(ops, acc)
    t_all = gemm_seconds(*args, n_cores=n_tc, glb_bw_bytes_per_cycle=glb_bw,
                         hbm_bw_bytes_per_s=hbm_bw, wave=wave, **common)[inverse]
    t_one = gemm_seconds(*args, n_cores=1, glb_bw_bytes_per_cycle=glb_bw / n_tc,
                         hbm_bw_bytes_per_s=hbm_bw / n_tc, **common)[inverse]
    fused = col["epi"] > 0
    if fused.any():
        vfirst, vinverse = acc.vc_groups
        lanes_one = acc.vc_width[vfirst][:, None]
        lanes_all = lanes_one * acc.n_vc[vfirst][:, None]
        numel, epi = col["numel"][fused][None], col["epi"][fused][None]
        t_all[:, fused] = np.maximum(t_all[:, fused],
                                     epilogue_seconds(numel, epi, lanes=lanes_all, freq_hz=acc.freq_hz)[vinverse])
        t_one[:, fused] = np.maximum(t_one[:, fused],
                                     epilogue_seconds(numel, epi, lanes=lanes_one, freq_hz=acc.freq_hz)[vinverse])
    return t_one, t_all


def _price_vectors(ops: list[Op], acc: Accelerators) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    numel = np.array([op.numel for op in ops], dtype=np.int64)[None]
    cyc = np.array([cycles_per_element(op.vector_ops, op.pass_, op.name) for op in ops], dtype=np.int64)[None]
    nbytes = np.array([op.bytes_read + op.bytes_written for op in ops], dtype=np.int64)[None]
    first, inverse = acc.vc_groups
    n_vc, width = acc.n_vc[first][:, None], acc.vc_width[first][:, None]
    hbm_bw = _hbm_bw(ops, acc)
    t_all = vector_seconds(numel, cyc, nbytes, lanes=n_vc * width, hbm_bw_bytes_per_s=hbm_bw, freq_hz=acc.freq_hz)
    t_one = vector_seconds(numel, cyc, nbytes, lanes=width, hbm_bw_bytes_per_s=hbm_bw / n_vc, freq_hz=acc.freq_hz)
    return t_one[inverse], t_all[inverse]


def collective_op_s(op: Op, acc: Accelerators) -> float:
    """A tensor-parallel collective: the same time in both modes (it occupies the link, not the cores)."""
    if op.collective is None:
        raise ValueError(f"op {op.name!r}: a collective op needs its `collective` kind")
    return collective_s(op.collective, op.comm_bytes, op.group, node_size=acc.node_size,
                        tp_link_bw_bytes_per_s=acc.tp_link_bw_bytes_per_s,
                        dp_link_bw_bytes_per_s=acc.dp_link_bw_bytes_per_s, link_latency_s=acc.link_latency_s)


def price_ops(ops: list[Op], acc: Accelerators) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(single_s, all_s), float64 arrays of shape (len(acc), len(ops)). NOPs cost 0; GEMMs and vector
    ops pay `op_overhead_cycles / f` on top (DESIGN §4)."""
    single = np.zeros((len(acc), len(ops)))
    intra = np.zeros((len(acc), len(ops)))
    overhead = acc.op_overhead_cycles / acc.freq_hz
    by_kind: dict[OpKind, list[int]] = {kind: [] for kind in OpKind}
    for i, op in enumerate(ops):
        by_kind[OpKind(op.kind)].append(i)
    for kind, pricer in ((OpKind.GEMM, _price_gemms), (OpKind.VECTOR, _price_vectors)):
        idx = by_kind[kind]
        if idx:
            one, all_ = pricer([ops[i] for i in idx], acc)
            single[:, idx] = one + overhead
            intra[:, idx] = all_ + overhead
    for i in by_kind[OpKind.COLLECTIVE]:
        single[:, i] = intra[:, i] = collective_op_s(ops[i], acc)
    return single, intra


def price_graph(graph: LayerGraph, acc: Accelerators) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(single_s, all_s) of every op of `graph` on every candidate: shape (n_candidates, n_ops)."""
    return price_ops(graph.ops, acc)
