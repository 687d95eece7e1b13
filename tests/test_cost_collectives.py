"""Collectives and p2p (DESIGN §5) with hand numbers, and the TP link choice."""

from __future__ import annotations

import pytest

from phaze.config.hw import HwConfig
from phaze.cost import all_gather_s, all_reduce_s, p2p_s, pipeline_send_s, price_ops, reduce_scatter_s, tp_link_bw
from phaze.hardware import Accelerators
from phaze.model.ops import Collective, Op, OpKind

MIB, GIB = 2**20, 2**30


def test_ring_all_reduce() -> None:
    # docs/phaze-original.md §10.2: 1 MiB over t = 8 at 4 GiB/s -> 2·(7/8)·2^20/2^32 s = 0.42725 ms
    assert all_reduce_s(MIB, 8, 4 * GIB, 0.0) == pytest.approx(0.000427246, rel=1e-6)
    assert all_reduce_s(MIB, 8, 4 * GIB, 0.0) == 2 * 7 / 8 * MIB / (4 * GIB)
    # + 2·(g−1) latency steps: 14 µs at 1 µs
    assert all_reduce_s(MIB, 8, 4 * GIB, 1e-6) == pytest.approx(0.000427246 + 14e-6, rel=1e-6)
    assert all_reduce_s(MIB, 1, 4 * GIB, 1e-6) == 0.0


def test_reduce_scatter_and_all_gather_are_halves() -> None:
    # 100 MB over 4 ranks at 100 GB/s with 2 µs latency: all-reduce 2·(3/4)·1e-3 + 6·2e-6 = 1.512 ms
    assert all_reduce_s(1e8, 4, 1e11, 2e-6) == pytest.approx(1.512e-3, rel=1e-12)
    assert reduce_scatter_s(1e8, 4, 1e11, 2e-6) == pytest.approx(0.756e-3, rel=1e-12)
    assert all_gather_s(1e8, 4, 1e11, 2e-6) == pytest.approx(0.756e-3, rel=1e-12)


def test_p2p() -> None:
    # 1e6 B over 25 GB/s + 1 µs = 41 µs
    assert p2p_s(1e6, 25e9, 1e-6) == pytest.approx(41e-6, rel=1e-12)


def test_pipeline_send_scatters_over_the_groups_links() -> None:
    # Narayanan et al. SC21 §4.1: 8 MB held by all 8 ranks of a node -> 1 MB per rank over its own 1 GB/s
    # link (1 ms + 1 µs) + an all-gather of the 8 MB at 10 GB/s (7/8·8e6/1e10 = 0.7 ms + 7 µs) = 1.708 ms
    links = dict(node_size=8, tp_link_bw_bytes_per_s=1e10, dp_link_bw_bytes_per_s=1e9, link_latency_s=1e-6)
    assert pipeline_send_s(8e6, 8, True, **links) == pytest.approx(1.708e-3, rel=1e-12)
    # t = 1, or a tensor already sharded by sequence parallelism: one plain send of what the rank holds
    assert pipeline_send_s(8e6, 1, True, **links) == p2p_s(8e6, 1e9, 1e-6) == pytest.approx(8.001e-3, rel=1e-12)
    assert pipeline_send_s(1e6, 8, False, **links) == p2p_s(1e6, 1e9, 1e-6)
    # a group wider than a node would gather over the inter-node link (1 ms + 1 µs + 15/16·16e6/1e9 s + 15 µs
    # = 16.016 ms), slower than one plain send of 16.001 ms, which is taken instead
    assert pipeline_send_s(16e6, 16, True, **links) == p2p_s(16e6, 1e9, 1e-6) == pytest.approx(16.001e-3, rel=1e-12)


def test_tp_group_uses_the_node_link_while_it_fits() -> None:
    assert tp_link_bw(8, 8, 300e9, 25e9) == 300e9
    assert tp_link_bw(16, 8, 300e9, 25e9) == 25e9


def test_collective_ops_priced_in_both_modes() -> None:
    a100 = Accelerators.from_config(HwConfig(name="a100", n_tc=432, tc_width=16, tc_depth=16, glb_mib=40,
                                             node_size=8, tp_link_bw_bytes_per_s=300e9,
                                             dp_link_bw_bytes_per_s=25e9, link_latency_s=1e-6, has_area=False))
    ops = [Op("ar8", OpKind.COLLECTIVE, collective=Collective.ALL_REDUCE, comm_bytes=3 * 10**8, group=8),
           Op("ar16", OpKind.COLLECTIVE, collective=Collective.ALL_REDUCE, comm_bytes=3 * 10**8, group=16),
           Op("rs8", OpKind.COLLECTIVE, collective=Collective.REDUCE_SCATTER, comm_bytes=3 * 10**8, group=8),
           Op("ag1", OpKind.COLLECTIVE, collective=Collective.ALL_GATHER, comm_bytes=3 * 10**8, group=1),
           Op("nop", OpKind.NOP)]
    single, intra = price_ops(ops, a100)
    # ar8: 2·7/8·3e8/300e9 + 14 µs = 1.75 ms + 14 µs; ar16 over InfiniBand: 2·15/16·3e8/25e9 + 30 µs
    expected = [1.75e-3 + 14e-6, 22.5e-3 + 30e-6, (1.75e-3 + 14e-6) / 2, 0.0, 0.0]
    assert intra[0] == pytest.approx(expected, rel=1e-12)
    assert single[0].tolist() == intra[0].tolist()
