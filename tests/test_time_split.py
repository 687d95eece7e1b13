"""Where a placement's time goes (placement/time_split.py): busy time per kind of op against independently
priced ops, the parts of the iteration against the placement's own TPB, and the evaluate output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import compose_cfg, run_cli
from omegaconf import OmegaConf

from phaze.cost import price_graph
from phaze.hardware import Accelerators
from phaze.model import kind_recompute
from phaze.model.ops import OpKind
from phaze.placement.evaluate import DesignEvaluator, pick_best
from phaze.placement.result import Placement
from phaze.placement.settings import Setting
from phaze.placement.time_split import iteration_split, layer_time_split
from phaze.report.console import schedule_label
from phaze.report.time_plot import time_split_plot


def evaluator(*overrides: str) -> DesignEvaluator:
    cfg = compose_cfg(["model=llama2_7b", "hw=a100", "solver=greedy", *overrides])
    return DesignEvaluator(OmegaConf.to_object(cfg.model), OmegaConf.to_object(cfg.parallelism),
                           OmegaConf.to_object(cfg.solver), Accelerators.from_config(cfg.hw))


def test_serial_kernels_add_up_to_the_makespan_and_match_the_priced_ops() -> None:
    """Megatron-LM's kernels run one after another, so a pass's busy times sum to its makespan, and its GEMM
    time is the sum of the GEMM kernels' whole-chip durations priced on their own (cost.price_graph)."""
    ev = evaluator("parallelism.kernels=megatron_sc21")
    split = layer_time_split(ev.times(2, 2))
    graphs = ev.graphs(2, 2)
    for kind, passes in split.items():
        for name, row in passes.items():
            busy = row["gemm_s"] + row["vector_s"] + row["collective_s"]
            assert row["overlap_s"] == 0.0
            assert busy == pytest.approx(row["makespan_s"], rel=1e-9, abs=1e-9), (kind, name)
            graph = getattr(graphs.layers[kind], name)
            _, intra = price_graph(graph, ev.acc)
            gemm = sum(float(s) for op, s in zip(graph.ops, intra[0], strict=True) if op.kind is OpKind.GEMM)
            assert row["gemm_s"] == pytest.approx(gemm, rel=1e-6, abs=1e-9), (kind, name)
    assert split["block"]["fwd"]["gemm_s"] > 0 and split["block"]["fwd"]["collective_s"] > 0  # t = 2


def test_makespans_are_the_layer_loads_the_placement_used() -> None:
    """The split reports the schedules behind the chain: fwd + bwd (+ fwd again under full recompute)."""
    ev = evaluator()
    times = ev.times(1, 1)
    split = layer_time_split(times)
    for kind, lt in times.items():
        forwards = 2 if kind_recompute(kind, "full") == "full" else 1  # full recompute re-runs blocks only
        got = forwards * split[kind]["fwd"]["makespan_s"] + split[kind]["bwd"]["makespan_s"]
        assert got == pytest.approx(float(lt.load_s("full")[0]), rel=1e-9, abs=1e-12), kind
        busy = sum(split[kind]["bwd"][k] for k in ("gemm_s", "vector_s", "collective_s"))
        assert busy - split[kind]["bwd"]["makespan_s"] == pytest.approx(split[kind]["bwd"]["overlap_s"], abs=1e-9)


@pytest.mark.parametrize("pipeline", [2, 4])
def test_iteration_parts_sum_to_the_time_per_batch(pipeline: int) -> None:
    """steady + bubble + all-reduce + optimizer = TPB; the bubble is (S − 1) stage loads for 1F1B."""
    ev = evaluator()
    best = pick_best([ev.given(Setting(1, 1, "full"), 8, pipeline)])
    assert best is not None and isinstance(best.result, Placement)
    p = best.result
    parts = iteration_split(p)
    assert sum(parts.values()) == pytest.approx(p.iteration_s, rel=1e-12)
    assert parts["bubble_s"] == pytest.approx(p.max_load_s * (pipeline - 1), rel=1e-12, abs=1e-15)
    assert parts["steady_s"] == pytest.approx(p.max_load_s * p.microbatches_per_replica, rel=1e-12)


def test_evaluate_prints_and_writes_the_split(tmp_path: Path) -> None:
    proc = run_cli("task=evaluate", "model=llama2_7b", "hw=a100", "solver=greedy", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert "time per layer pass of the best placement" in proc.stdout
    assert (tmp_path / "time_split.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((tmp_path / "result.json").read_text())
    best = result["best"]
    assert set(best["layer_time_split"]) == {"embed", "block", "head"}
    it = best["iteration"]
    assert it["steady_s"] + it["bubble_s"] + it["allreduce_s"] + it["optimizer_s"] == pytest.approx(
        best["iteration_s"], rel=1e-12)
    block = best["layer_time_split"]["block"]
    assert block["bwd"]["gemm_s"] > block["fwd"]["gemm_s"] > 0  # backward GEMMs are twice the forward's MACs


def test_time_split_plot_is_reproducible_and_ignores_key_order(tmp_path: Path) -> None:
    """result.json sorts its keys (block, embed, head; bwd, fwd): the plot draws embed, block, head and fwd
    before bwd either way, byte for byte."""
    split = layer_time_split(evaluator().times(1, 1))
    shuffled = json.loads(json.dumps(split, sort_keys=True))
    assert list(shuffled) != list(split)
    a = time_split_plot(tmp_path / "a.png", split, "t")
    b = time_split_plot(tmp_path / "b.png", shuffled, "t")
    assert a.read_bytes() == b.read_bytes() and a.read_bytes()[:4] == b"\x89PNG"


def test_schedule_label_says_how_the_schedule_was_found_and_its_gap() -> None:
    """Each pass names its method, and a schedule not proven optimal shows its gap to the proven bound."""
    ev = evaluator()
    row = layer_time_split(ev.times(1, 1))["block"]["bwd"]
    assert row["solver"] == "greedy" and row["status"] in ("optimal", "feasible") and row["gap"] >= 0.0
    assert (row["gap"] == 0.0) == (row["status"] == "optimal")
    assert schedule_label({"status": "optimal", "solver": "cpsat", "gap": 0.0}) == "optimal (cpsat)"
    assert schedule_label({"status": "feasible", "solver": "cpsat", "gap": 0.0012}) == "feasible (cpsat, gap 0.12%)"
    assert schedule_label({"status": "feasible"}) == "feasible"  # a result.json from before the field
