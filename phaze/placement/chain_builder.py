"""From a model's layer graphs and their times on one accelerator to the placement chain (DESIGN §7).

The chain is [embed, L blocks, head]. Per layer and device: the load of one micro-batch (fwd + bwd +
recompute, TP collectives inside the schedules), parameters per rank, activation bytes per in-flight
micro-batch for the recompute mode, and the p2p of its output activation to the next stage over the
inter-node link (pipeline stages span nodes; tensor-parallel groups stay inside one, DESIGN §5), split over
the group's t links and re-gathered inside the node as Megatron-LM does when the group's ranks all hold it
(no sequence parallelism) and that is faster (`pipeline_send_s`). Embed and head are never recomputed.
"""

from __future__ import annotations

import numpy as np

from phaze.cost import pipeline_send_s
from phaze.hardware import Accelerator
from phaze.model import ModelGraphs, kind_recompute
from phaze.placement.problem import LayerChain


def tied_head_params(graphs: ModelGraphs) -> int:
    """A tied LM head keeps its own copy of the word embedding on the last stage (Megatron-LM does, and
    all-reduces the two copies' gradients); counted so the last stage's memory is not under-estimated. A
    single stage holds one copy (Megatron-LM's initialize_word_embeddings makes none without a pipeline):
    the chain's `shared_params`."""
    return graphs.word_embedding_params if graphs.cfg.tied_head else 0


def build_chain(graphs: ModelGraphs, load_s: dict[str, float], recompute: str, acc: Accelerator) -> LayerChain:
    """The LayerChain of one (micro-batch, width, recompute) setting on one accelerator."""
    kinds = graphs.chain
    tied = tied_head_params(graphs)
    params = {k: float(graphs.layers[k].params) for k in ("embed", "block", "head")}
    params["head"] += tied
    # embed and head are never recomputed: they keep their activations (the head its fp32 logits) in any mode
    act = {k: float(graphs.layers[k].activation_bytes(kind_recompute(k, recompute))) for k in params}
    out_bytes = {k: graphs.layers[k].fwd.output_bytes for k in params}
    # without sequence parallelism every rank of a tensor-parallel group holds the whole output
    replicated = not graphs.sequence_parallel
    p2p = {k: pipeline_send_s(out_bytes[k], graphs.tensor_width, replicated, node_size=acc.node_size,
                              tp_link_bw_bytes_per_s=acc.tp_link_bw_bytes_per_s,
                              dp_link_bw_bytes_per_s=acc.dp_link_bw_bytes_per_s, link_latency_s=acc.link_latency_s)
           for k in params}
    extra = np.zeros(len(kinds))
    return LayerChain(load_s=np.array([load_s[k] for k in kinds]), params=np.array([params[k] for k in kinds]),
                      act_bytes=np.array([act[k] for k in kinds]), extra_bytes=extra,
                      boundary_p2p_s=np.array([p2p[k] for k in kinds]), shared_params=tied)
