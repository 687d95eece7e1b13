"""price_graph: the vectorised cost model equals the plain scalar reference (phaze/cost/reference.py) on
random candidates and random ops, in both modes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phaze.config.hw import VECTOR_COST_MODELS, HwConfig, SpaceConfig
from phaze.cost import price_graph, price_ops
from phaze.cost.reference import op_ref_s
from phaze.cost.tables import vector_cycle_table
from phaze.hardware import Accelerators
from phaze.model.ops import Collective, LayerGraph, Op, OpKind, Pass

KEYS = sorted(vector_cycle_table())


@pytest.fixture(scope="module")
def space() -> Accelerators:
    return Accelerators.from_config(HwConfig(name="search", space=SpaceConfig()))


def random_ops(rng: np.random.Generator, k: int) -> list[Op]:
    ops: list[Op] = []
    for i in range(k):
        kind = [OpKind.GEMM, OpKind.GEMM, OpKind.VECTOR, OpKind.COLLECTIVE, OpKind.NOP][i % 5]
        pass_ = Pass.FWD if rng.random() < 0.5 else Pass.BWD
        keys = tuple(rng.choice(KEYS, size=int(rng.integers(0, 3))))
        nbytes = {"bytes_read": int(rng.integers(1, 10**9)), "bytes_written": int(rng.integers(1, 10**8))}
        core = bool(rng.random() < 0.5)  # streams the attention scores (hw.attention_core_hbm_fraction)
        row = int(rng.choice([0, 1, 7, 1024, 50_257]))  # per-row vector work amortised over it (0: per element)
        if kind is OpKind.GEMM:
            b, n, m, c = (int(x) for x in rng.integers(1, [16, 8192, 8192, 8192]))
            ops.append(Op(f"g{i}", kind, pass_, gemm=(b, n, m, c), vector_ops=keys, numel=b * n * m,
                          row_elems=row, attention_core=core, **nbytes))
        elif kind is OpKind.VECTOR:
            ops.append(Op(f"v{i}", kind, pass_, vector_ops=keys or ("add_sub_mul_neg",),
                          numel=int(rng.integers(1, 10**9)), row_elems=row, attention_core=core, **nbytes))
        elif kind is OpKind.COLLECTIVE:
            ops.append(Op(f"c{i}", kind, pass_, collective=list(Collective)[i % 3],
                          comm_bytes=int(rng.integers(1, 10**9)), group=int(rng.integers(1, 16))))
        else:
            ops.append(Op(f"n{i}", kind, pass_))
    return ops


def check_against_reference(ops: list[Op], acc: Accelerators) -> None:
    single, intra = price_ops(ops, acc)
    assert single.shape == intra.shape == (len(acc), len(ops))
    for i in range(len(acc)):
        for j, op in enumerate(ops):
            assert single[i, j] == pytest.approx(op_ref_s(op, acc, i, True), rel=1e-12, abs=0), (i, op)
            assert intra[i, j] == pytest.approx(op_ref_s(op, acc, i, False), rel=1e-12, abs=0), (i, op)


def test_vectorised_equals_reference_on_the_default_space(space: Accelerators) -> None:
    rng = np.random.default_rng(7)
    rows = np.sort(rng.choice(len(space), size=60, replace=False))
    check_against_reference(random_ops(rng, 25), space.take(rows))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), overhead=st.integers(0, 500), barrier=st.integers(0, 50),
       bank_bytes=st.sampled_from([8, 32, 64, 128]), hbm=st.floats(1e9, 1e13), node=st.integers(1, 16),
       wave=st.one_of(st.none(), st.tuples(st.integers(1, 300), st.integers(1, 300), st.integers(1, 200))),
       core=st.one_of(st.none(), st.floats(0.05, 1.0)), model=st.sampled_from(VECTOR_COST_MODELS))
def test_vectorised_equals_reference_random_designs(seed: int, n: int, overhead: int, barrier: int,
                                                    bank_bytes: int, hbm: float, node: int,
                                                    wave: tuple[int, int, int] | None, core: float | None,
                                                    model: str) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        w, d, wv = (int(2 ** rng.integers(1, 9)) for _ in range(3))
        cfg = HwConfig(name="r", n_tc=int(rng.integers(1, 600)), n_vc=int(rng.integers(1, 600)), tc_width=w,
                       tc_depth=d, vc_width=wv, glb_mib=int(2 ** rng.integers(1, 8)),
                       glb_banks=int(rng.integers(1, 513)), glb_bank_bytes=bank_bytes, hbm_bw_bytes_per_s=hbm,
                       op_issue_cycles=overhead, op_barrier_cycles=barrier, node_size=node,
                       gemm_wave_tile=None if wave is None else [wave[0], wave[1]],
                       gemm_wave_slots=None if wave is None else wave[2], attention_core_hbm_fraction=core,
                       vector_cost_model=model)
        rows.append(Accelerators.from_config(cfg).row(0))
    check_against_reference(random_ops(rng, 10), Accelerators.from_rows(rows))


def test_vectorised_equals_reference_phaze_table(space: Accelerators) -> None:
    rng = np.random.default_rng(11)
    rows = np.sort(rng.choice(len(space), size=20, replace=False))
    acc = replace(space.take(rows), vector_cost_model="phaze")
    check_against_reference(random_ops(rng, 25), acc)


def test_dedupe_does_not_change_results(space: Accelerators) -> None:
    rng = np.random.default_rng(3)
    ops = random_ops(rng, 10)
    rows = rng.choice(len(space), size=500, replace=False)
    full_single, full_all = price_ops(ops, space)
    sub_single, sub_all = price_ops(ops, space.take(rows))
    assert np.array_equal(full_single[rows], sub_single) and np.array_equal(full_all[rows], sub_all)


def test_price_graph_shapes_nops_and_bad_ops() -> None:
    acc = Accelerators.from_config(HwConfig(name="x"))
    graph = LayerGraph("block", Pass.FWD, [Op("nop", OpKind.NOP), Op("v", OpKind.VECTOR, numel=8,
                                                                     vector_ops=("relu",))], [(0, 1)])
    single, intra = price_graph(graph, acc)
    assert single.shape == (1, 2) and single.dtype == np.float64
    assert single[0, 0] == intra[0, 0] == 0.0
    with pytest.raises(ValueError, match="needs its \\(B, N, M, C\\) dims"):
        price_ops([Op("g", OpKind.GEMM)], acc)
    with pytest.raises(ValueError, match="needs its `collective` kind"):
        price_ops([Op("c", OpKind.COLLECTIVE, comm_bytes=8, group=2)], acc)
