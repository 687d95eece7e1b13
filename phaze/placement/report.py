"""What a placement looks like in `result.json` and on the console: its figures and memory per device.

`outcome_dict` is the `best` / `literature` / `fixed` entry of DESIGN §8; `memory_breakdown` splits each
stage's (or, interleaved, each device's) bytes into weights + gradients + optimizer state, activations in
flight and once-only bytes, with the same formulas the placement used.
"""

from __future__ import annotations

from typing import Any

from phaze.config.model import ModelConfig
from phaze.model.summary import kaplan_train_flops_per_token
from phaze.placement.chunks import device_memory, layout
from phaze.placement.energy import PlacementEnergy
from phaze.placement.evaluate import DesignEvaluator, Outcome
from phaze.placement.layer_times import LayerTimes
from phaze.placement.problem import LayerChain, PlacementSpec
from phaze.placement.result import Infeasible, Placement
from phaze.placement.stages import stage_params
from phaze.placement.time_split import block_bound, iteration_split, layer_time_split


def memory_breakdown(o: Outcome) -> list[dict[str, float]]:
    """Per stage: weights + gradients + optimizer state, activations in flight, extra (logits) bytes."""
    assert isinstance(o.result, Placement) and o.chain is not None and o.spec is not None
    p, chain, spec = o.result, o.chain, o.spec
    if p.chunks > 1:
        return interleaved_memory_rows(p, chain, spec)
    rows = []
    for k, (a, b) in enumerate(zip(p.cuts[:-1], p.cuts[1:], strict=True)):
        inflight = min(p.pipeline - k, p.microbatches_per_replica)
        params = stage_params(chain, a, b)
        rows.append({"stage": k + 1, "layers": [a, b], "inflight_microbatches": inflight, "params": params,
                     "weights_grads_optimizer_bytes": params * spec.bytes_per_param,
                     "activation_bytes": float(chain.act_bytes[a:b].sum() * inflight),
                     "extra_bytes": float(chain.extra_bytes[a:b].sum()),
                     "total_bytes": p.stage_memory_bytes[k]})
    return rows


def outcome_dict(o: Outcome | Infeasible | None, model: ModelConfig, params_total: int, peak_flops: float,
                 times: dict[str, LayerTimes] | None = None, energy: PlacementEnergy | None = None
                 ) -> dict[str, Any] | str | None:
    """The `best` / `literature` entry of result.json (DESIGN §8), or "infeasible: <reason>"; with the
    setting's layer `times`, also each layer pass's busy time per kind of op (`time_split`), and with its
    `energy` (phaze.placement.energy), its power and energy."""
    if o is None:
        return None
    if isinstance(o, Infeasible):
        return str(o)
    if not isinstance(o.result, Placement):
        return str(o.result)
    p, s = o.result, o.setting
    tokens_s = p.throughput_samples_s * model.seq_len
    flops_per_token = kaplan_train_flops_per_token(params_total, model.layers, model.seq_len, model.hidden)
    out = {
        "throughput_samples_s": p.throughput_samples_s,
        "tokens_s": tokens_s,
        "iteration_s": p.iteration_s,
        "mfu": flops_per_token * tokens_s / (p.devices_used * peak_flops),
        "memory_per_device_bytes": p.memory_per_device_bytes,
        "placement": {"data": p.data, "pipeline": p.pipeline, "tensor": p.tensor, "microbatch": s.microbatch,
                      "recompute": s.recompute, "stages": list(p.stage_layers), "cuts": list(p.cuts),
                      "chunks": p.chunks, "devices_used": p.devices_used},
        "iteration": {"pipeline_s": p.pipeline_s, "allreduce_s": p.allreduce_s, "optimizer_s": p.optimizer_s,
                      "max_stage_load_s": p.max_load_s, **iteration_split(p)},
        "memory_per_stage": memory_breakdown(o),
    }
    if energy is not None:
        out |= energy.as_dict()
    if times is not None:
        out["layer_time_split"] = layer_time_split(times)
        if (bound := block_bound(out["layer_time_split"])) is not None:
            out["bound"] = bound
    return out


def evaluated_entry(ev: DesignEvaluator, o: Outcome | Infeasible | None, model: ModelConfig, params_total: int,
                    peak_flops: float) -> dict[str, Any] | str | None:
    """`outcome_dict` of an outcome of `ev`, with its setting's layer times when it is a placement (so the
    entry carries its `layer_time_split`): what `task=evaluate` and the search's baselines write."""
    if not isinstance(o, Outcome) or not o.feasible:
        return outcome_dict(o, model, params_total, peak_flops)
    return outcome_dict(o, model, params_total, peak_flops, ev.times(o.setting.microbatch, o.setting.tensor),
                        ev.energy(o))


def interleaved_memory_rows(p: Placement, chain: LayerChain, spec: PlacementSpec) -> list[dict[str, Any]]:
    """Per device: its chunks' layer ranges, chunk-micro-batches in flight at its peak, bytes."""
    lay = layout(chain, p.pipeline, p.chunks)
    assert not isinstance(lay, Infeasible)
    rows = []
    for j in range(p.pipeline):
        total, held = device_memory(spec, lay, j, p.microbatches_per_replica)
        ranges = [list(lay.chunk_range(j, k)) for k in range(p.chunks)]
        weights, extra = lay.params[j] * spec.bytes_per_param, lay.extra[j]
        rows.append({"stage": j + 1, "layers": [ranges[0][0], ranges[-1][1]], "chunks": ranges,
                     "inflight_microbatches": sum(held), "inflight_per_chunk": list(held), "params": lay.params[j],
                     "weights_grads_optimizer_bytes": weights, "activation_bytes": total - weights - extra,
                     "extra_bytes": extra, "total_bytes": total})
    return rows
