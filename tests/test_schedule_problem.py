"""Problem construction: seconds -> ns rounding, resource classes, dominance, solver config rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import compose_cfg
from omegaconf import OmegaConf

from phaze.config.errors import ConfigError
from phaze.config.solver import SolverConfig, is_deterministic, validate
from phaze.model.ops import Collective, LayerGraph, Op, OpKind, Pass
from phaze.schedule import MODE_INTRA, MODE_SINGLE, build_problem, to_ns
from phaze.schedule.modes import LINK, NOP, TC, TC_VC, VC
from phaze.schedule.problem import effective_modes, make_problem
from phaze.schedule.units import UNAVAILABLE


def test_to_ns_rounds_up_and_keeps_exact_integers() -> None:
    got = to_ns(np.array([1e-9, 1.5e-9, 61e-9, 0.0, 1e-20, 2.0, np.inf, np.nan]))
    assert got.tolist() == [1, 2, 61, 0, 1, 2_000_000_000, UNAVAILABLE, UNAVAILABLE]
    assert to_ns(np.arange(1, 5001) / 1e9).tolist() == list(range(1, 5001))


def test_to_ns_rejects_negative_and_drops_absurd() -> None:
    with pytest.raises(ValueError, match="negative"):
        to_ns(np.array([-1e-9]))
    assert to_ns(np.array([2e6])).tolist() == [UNAVAILABLE]  # above MAX_OP_SECONDS


def test_single_core_rounding_keeps_the_work_relation() -> None:
    # 4 TCs, 2 VCs. Whole-chip 2.5 ns -> 3 ns. A memory-bound GEMM on one core takes exactly 4 x 2.5 = 10 ns:
    # separately rounded it would be 10 < 4·3, a phantom 2 ns saving, so it becomes 12. A compute-bound
    # one at 9 ns (< 4 x 2.5: one fill/drain instead of four) keeps its 9. A vector op on 1 of 2 VCs at
    # 5 ns (= 2 x 2.5) becomes 6; a fused TC+VC op at 10 ns is >= 4·L on its TC, so it becomes 12 as well.
    p = make_problem([TC, TC, VC, TC_VC], [], np.array([[10e-9, 9e-9, 5e-9, 10e-9]]),
                     np.array([[2.5e-9] * 4]), np.array([4]), np.array([2]))
    assert p.intra_ns.tolist() == [[3, 3, 3, 3]]
    assert p.single_ns.tolist() == [[12, 9, 6, 12]]


def greedy_graph() -> LayerGraph:
    ops = [
        Op("ln", OpKind.VECTOR, vector_ops=("layernorm",), numel=8),
        Op("fc1+gelu", OpKind.GEMM, gemm=(1, 2, 2, 2), vector_ops=("gelu",), numel=4),
        Op("fc2", OpKind.GEMM, gemm=(1, 2, 2, 2)),
        Op("ar", OpKind.COLLECTIVE, collective=Collective.ALL_REDUCE, comm_bytes=64, group=2),
        Op("view", OpKind.NOP),
    ]
    return LayerGraph("block", Pass.FWD, ops, [(0, 1), (1, 2), (2, 3), (3, 4)])


def test_build_problem_classes_and_special_ops() -> None:
    single = np.array([[2e-9, 3e-9, 4e-9, 5e-9, 9e-9]])
    intra = np.array([[1e-9, 1e-9, 1e-9, 7e-9, 9e-9]])
    p = build_problem(greedy_graph(), single, intra, np.array([2]), np.array([3]))
    assert p.op_class.tolist() == [VC, TC_VC, TC, LINK, NOP]
    assert p.names == ("ln", "fc1+gelu", "fc2", "ar", "view")
    assert (p.layer, p.pass_) == ("block", "fwd")
    # collective: one duration (the min of both columns), no intra mode; NOP: 0 ns, no intra mode
    assert p.single_ns.tolist() == [[2, 3, 4, 5, 0]]
    assert p.intra_ns.tolist() == [[1, 1, 1, UNAVAILABLE, UNAVAILABLE]]
    inst = p.instance(0)
    assert inst.demand(1, MODE_SINGLE, 3) == (1, 1, 0)  # fused GEMM+epilogue: one TC and one VC
    assert inst.demand(2, MODE_SINGLE, 4) == (1, 0, 0)
    assert inst.demand(0, MODE_SINGLE, 2) == (0, 1, 0)
    assert inst.demand(3, MODE_SINGLE, 5) == (0, 0, 1)
    assert inst.demand(2, MODE_INTRA, 1) == (2, 3, 0)  # the whole chip
    assert inst.demand(2, MODE_INTRA, 0) == (0, 0, 0)  # a zero-length interval holds nothing


def test_build_problem_rejects_bad_shapes_and_edges() -> None:
    with pytest.raises(ValueError, match="candidates, ops"):
        build_problem(greedy_graph(), np.zeros((1, 4)), np.zeros((1, 5)), np.array([1]), np.array([1]))
    with pytest.raises(ValueError, match="i < j"):
        make_problem([TC, TC], [(1, 0)], np.ones((1, 2)), np.ones((1, 2)), [1], [1])
    with pytest.raises(ValueError, match=">= 1"):
        make_problem([TC], [], np.ones((1, 1)), np.ones((1, 1)), [0], [1])


def test_dominance_keeps_only_useful_modes() -> None:
    single = np.array([[10, 5, 0, 7, -1, 4]])
    intra = np.array([[6, 5, 3, 0, 2, -1]])
    s, m = effective_modes(single, intra)
    # both kept when intra is strictly faster; single dominates when l <= L; a zero-length mode wins
    assert s.tolist() == [[10, 5, 0, -1, -1, 4]]
    assert m.tolist() == [[6, -1, -1, 0, 2, -1]]
    secs = [np.where(x < 0, np.inf, x) / 1e9 for x in (single, intra)]
    p = make_problem([TC] * 6, [], secs[0], secs[1], [2], [2])
    inst = p.instance(0)
    assert [inst.modes(i) for i in range(6)] == [
        [(MODE_SINGLE, 10), (MODE_INTRA, 6)], [(MODE_SINGLE, 5)], [(MODE_SINGLE, 0)], [(MODE_INTRA, 0)],
        [(MODE_INTRA, 2)], [(MODE_SINGLE, 4)]]


def test_infeasible_candidate_is_named() -> None:
    p = make_problem([VC, TC], [(0, 1)], np.array([[1e-9, np.inf]]), np.array([[1e-9, math.inf]]), [1], [1])
    assert not p.feasible[0]
    assert p.instance(0).infeasible_reason() == "op 'op1' has no finite duration in either mode"


@pytest.mark.parametrize(("field", "value"), [("name", "gurobi"), ("max_deterministic_time", 0.0),
                                              ("max_time_in_seconds", -1.0), ("workers", 0), ("seed", -1),
                                              ("hint", "yes"), ("interleave_search", 1),
                                              ("linearization_level", 3), ("linearization_level", True)])
def test_solver_config_rejects(field: str, value: object) -> None:
    cfg = SolverConfig(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=f"solver.{field}="):
        validate(cfg)


@pytest.mark.parametrize("choice", ["cpsat", "greedy"])
def test_solver_yaml_composes(choice: str) -> None:
    cfg = OmegaConf.to_object(compose_cfg([f"solver={choice}"]).solver)
    assert isinstance(cfg, SolverConfig)
    validate(cfg)
    assert cfg.name == choice
    assert cfg.max_time_in_seconds is None  # the wall clock is off by default: results reproducible
    assert is_deterministic(cfg)
    assert not is_deterministic(SolverConfig(workers=2))
    assert is_deterministic(SolverConfig(workers=2, interleave_search=True))
