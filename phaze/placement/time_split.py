"""Where a placement's time goes: each layer pass's busy time per kind of op, and the iteration's parts.

Why: a throughput figure alone does not say what to change. An architect needs to see whether a layer is
bound by its GEMMs, its element-wise (vector) ops or its collectives, and how much the pipeline bubble, the
data-parallel gradient all-reduce and the optimizer step add to the compute (DESIGN §7).

Busy time of a pass is the sum of its ops' durations in the modes its schedule chose, per kind: GEMMs (ops
on the tensor cores, with or without a fused epilogue), vector ops and collectives. Ops that run at the same
time make the busy times add up to more than the makespan; `overlap_s` is that excess (0 when the ops run
one after another, as Megatron-LM's kernels do: `parallelism.kernels=megatron_sc21`). Each pass also says how
far its schedule is known to be from the best one: `status`, `solver` (greedy or cpsat) and `gap` (0 when
proven optimal, else the relative gap to the proven lower bound).

The iteration's parts add up to `iteration_s` exactly (DESIGN §7, `timing.iteration_s`): the pipeline's
steady part `max_load·ceil(m/d)` (every device busy), its bubble (the rest of `pipeline_s`: (S − 1) stage
loads for 1F1B, (S − 1)/v for the interleaved schedule), the gradient all-reduce and the optimizer step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from phaze.cost.price import BOUND_NAMES, BOUND_NONE, price_detail
from phaze.hardware import Accelerators
from phaze.model.ops import LayerGraph
from phaze.placement.layer_times import LayerTimes, PassTimes
from phaze.placement.result import Placement
from phaze.schedule import Schedule
from phaze.schedule.check import check_bandwidth
from phaze.schedule.modes import LINK, MODE_SINGLE, NOP, TC, TC_VC, VC
from phaze.schedule.problem import Problem
from phaze.schedule.units import NS_PER_S

# resource class of an op (what its single-core mode holds) -> the busy-time key it adds to
CLASS_PARTS = {TC: "gemm_s", TC_VC: "gemm_s", VC: "vector_s", LINK: "collective_s"}


def pass_split(times: PassTimes, candidate: int = 0, sched: Schedule | None = None) -> dict[str, Any]:
    """Makespan and busy seconds per kind of op of one pass on one candidate, from its chosen schedule (or
    `sched`), and (when the pass knows what it priced) what bounds that busy time (`bound_split`)."""
    sched = sched or times.schedule(candidate)
    out: dict[str, Any] = schedule_split(times.space.problem, sched, candidate)
    if times.graph is not None and times.acc is not None and sched.makespan_ns is not None:
        out["bound"] = bound_split(times.graph, times.acc, candidate, times.space.problem, sched)
    return out


def bound_split(graph: LayerGraph, acc: Accelerators, candidate: int, problem: Problem, sched: Schedule,
                ) -> dict[str, float]:
    """Shares of a schedule's busy time by what bounds each op (its largest cost term in the chosen mode:
    `compute` the tensor arrays, `global_buffer` / `hbm` their bandwidth, `vector` the lanes, `link` the
    collectives, `control` the issue and barrier cost), and the peak fraction of HBM and global-buffer bandwidth
    that the running ops draw (`hbm_peak`, `glb_peak`: checked <= 1, `phaze.schedule.check.check_bandwidth`)."""
    one = acc.take(np.array([candidate]))
    p = price_detail(graph.ops, one)
    busy = dict.fromkeys((*BOUND_NAMES[:BOUND_NONE], "control"), 0.0)
    for i, mode in enumerate(sched.modes):
        if int(problem.op_class[i]) == NOP:
            continue
        single = mode == MODE_SINGLE
        seconds = int((problem.single_ns if single else problem.intra_ns)[candidate, i]) / NS_PER_S
        overhead = float((p.single_overhead_s if single else p.intra_overhead_s)[0, i])
        code = int((p.single_bound if single else p.intra_bound)[0, i])
        busy["control"] += min(overhead, seconds)
        busy[BOUND_NAMES[code]] += max(seconds - overhead, 0.0)
    total = sum(busy.values())
    out = {name: (value / total if total > 0 else 0.0) for name, value in busy.items()}
    inst = problem.instance(candidate)
    hbm = [(float(p.single_hbm_bytes[0, i]), float(p.hbm_bytes[0, i])) for i in range(len(graph.ops))]
    glb = [(float(p.single_glb_bytes[0, i]), float(p.glb_bytes[0, i])) for i in range(len(graph.ops))]
    out["hbm_peak"] = check_bandwidth(inst, sched.starts_ns, sched.modes, hbm, one.hbm_bw_bytes_per_s, "HBM")
    out["glb_peak"] = check_bandwidth(inst, sched.starts_ns, sched.modes, glb,
                                      float(one.glb_bw_bytes_per_cycle[0]) * one.freq_hz, "global-buffer")
    return out


def block_bound(split: dict[str, Any]) -> dict[str, float] | None:
    """The block's (forward + backward) busy-time shares by binding resource, weighted by each pass's busy time,
    and the pair's peak bandwidth fractions; None when the split carries no `bound` (a pass not explained)."""
    passes = [split.get("block", {}).get(p) for p in ("fwd", "bwd")]
    if not all(isinstance(x, dict) and "bound" in x for x in passes):
        return None
    weights = [sum(x[k] for k in CLASS_PARTS.values()) for x in passes]  # type: ignore[index]
    total = sum(weights) or 1.0
    names = (*BOUND_NAMES[:BOUND_NONE], "control")
    out = {n: sum(w * x["bound"][n] for w, x in zip(weights, passes, strict=True)) / total  # type: ignore[index]
           for n in names}
    out["hbm_peak"] = max(x["bound"]["hbm_peak"] for x in passes)  # type: ignore[index]
    out["glb_peak"] = max(x["bound"]["glb_peak"] for x in passes)  # type: ignore[index]
    return out


def schedule_split(problem: Problem, sched: Schedule, candidate: int) -> dict[str, float]:
    """Makespan and busy seconds per kind of op of `sched`, candidate `candidate`'s schedule of `problem`."""
    busy_ns = dict.fromkeys(CLASS_PARTS.values(), 0)
    for i, (cls, mode) in enumerate(zip(problem.op_class, sched.modes, strict=True)):
        if int(cls) == NOP:
            continue
        table = problem.single_ns if mode == MODE_SINGLE else problem.intra_ns
        busy_ns[CLASS_PARTS[int(cls)]] += int(table[candidate, i])
    makespan_ns = sched.makespan_ns or 0
    out = {"makespan_s": makespan_ns / NS_PER_S}
    out.update({key: ns / NS_PER_S for key, ns in busy_ns.items()})
    out["overlap_s"] = max(0, sum(busy_ns.values()) - makespan_ns) / NS_PER_S
    out["status"] = sched.status  # type: ignore[assignment]
    out["solver"] = sched.solver  # type: ignore[assignment]  # greedy or cpsat: which method found the schedule
    out["gap"] = sched.gap  # 0 when proven optimal; else the relative gap to the proven bound
    return out


def layer_time_split(times: dict[str, LayerTimes], candidate: int = 0) -> dict[str, dict[str, dict[str, Any]]]:
    """`pass_split` of the forward and backward pass of every layer kind (embed, block, head)."""
    return {kind: {"fwd": pass_split(lt.fwd, candidate), "bwd": pass_split(lt.bwd, candidate)}
            for kind, lt in times.items()}


def iteration_split(p: Placement) -> dict[str, float]:
    """The iteration's parts (module doc); they sum to `p.iteration_s` up to float rounding."""
    steady = p.max_load_s * p.microbatches_per_replica
    return {"steady_s": steady, "bubble_s": p.pipeline_s - steady, "allreduce_s": p.allreduce_s,
            "optimizer_s": p.optimizer_s}
