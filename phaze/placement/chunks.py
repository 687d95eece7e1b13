"""Where the chunks of Megatron-LM's interleaved schedule go, and what each device then holds.

The chain [embed, L blocks, head] is cut into S·v chunks by the literature rule applied to S·v virtual
stages (the first `L mod S·v` chunks get one block more; embed joins chunk 0, head the last chunk); chunk c
runs on device c mod S. Each device's load sums its chunks' stage loads (each chunk pays its own boundary
sends). Separate from the timing (`interleaved.py`) because the layout and its memory do not depend on d:
the search's bounds and the report reuse them without pricing anything.

Memory: each device holds its weights, gradients and optimizer state plus the activations of the
chunk-micro-batches in flight at its peak (`inflight.py`, which follows Megatron-LM's unit order).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import add

from phaze.placement.inflight import peak_inflight
from phaze.placement.pipeline import literature_cuts
from phaze.placement.problem import LayerChain, PlacementSpec
from phaze.placement.result import Infeasible
from phaze.placement.stages import range_sum, stage_load_s, stage_params


@dataclass(frozen=True)
class Layout:
    """S devices holding v chunks each: chunk cuts and per-device loads and parameters (independent of d)."""

    stages: int
    chunks: int
    cuts: tuple[int, ...]  # S·v + 1 chain indices; chunk c is [cuts[c], cuts[c+1]) on device c mod S
    loads: tuple[float, ...]  # per device: its chunks' stage loads (compute + boundary sends)
    params: tuple[float, ...]  # per device
    acts: tuple[tuple[float, ...], ...]  # per device, per local chunk: activation bytes of one micro-batch
    extra: tuple[float, ...]  # per device: once-only bytes of its chunks

    def chunk_range(self, device: int, local: int) -> tuple[int, int]:
        c = local * self.stages + device
        return self.cuts[c], self.cuts[c + 1]


def layout(chain: LayerChain, stages: int, chunks: int) -> Layout | Infeasible:
    blocks = chain.n - 2
    if stages < 2:
        return Infeasible(f"the interleaved schedule needs a pipeline of at least 2 stages, got p={stages}")
    if blocks < stages * chunks:
        return Infeasible(f"p·v = {stages}·{chunks} = {stages * chunks} chunks exceed the L={blocks} blocks")
    cuts = literature_cuts(blocks, stages * chunks)
    assert not isinstance(cuts, Infeasible)
    loads, params, acts, extra = [], [], [], []
    for j in range(stages):
        ranges = [(cuts[c], cuts[c + 1]) for c in range(j, stages * chunks, stages)]
        loads.append(reduce(add, (stage_load_s(chain, a, b) for a, b in ranges)))
        params.append(reduce(add, (stage_params(chain, a, b) for a, b in ranges)))
        acts.append(tuple(range_sum(chain.act_bytes, a, b) for a, b in ranges))
        extra.append(reduce(add, (range_sum(chain.extra_bytes, a, b) for a, b in ranges)))
    return Layout(stages, chunks, cuts, tuple(loads), tuple(params), tuple(acts), tuple(extra))


def device_memory(spec: PlacementSpec, lay: Layout, device: int, per_replica: int) -> tuple[float, tuple[int, ...]]:
    """(bytes, chunk-micro-batches in flight per chunk) of one device at its peak."""
    act, held = peak_inflight(lay.stages, device, lay.chunks, per_replica, lay.acts[device])
    return (lay.params[device] * spec.bytes_per_param + act) + lay.extra[device], held


def layout_memory(spec: PlacementSpec, lay: Layout, per_replica: int) -> tuple[float, ...]:
    """Bytes per device of `lay` with `per_replica` micro-batches per replica (independent of the loads)."""
    return tuple(device_memory(spec, lay, j, per_replica)[0] for j in range(lay.stages))
