"""What `task=inspect` reports about a model: parameters, FLOPs, activation memory (DESIGN §3).

FLOPs count GEMMs only (2 FLOP per MAC); vector ops are a rounding error next to them and are priced
separately by the cost model. Training FLOPs are forward + backward (backward = 2x forward, DESIGN §3);
recomputation is not counted, as in MFU (Chowdhery et al. 2022, Appendix B).
"""

from __future__ import annotations

from typing import Any

from phaze.config.model import ModelConfig
from phaze.model.graphs import LAYER_KINDS, RECOMPUTE_MODES, ModelGraphs, kind_recompute
from phaze.model.ops import OpKind

FLOP_PER_MAC = 2


def kaplan_train_flops_per_token(params: int, layers: int, seq_len: int, hidden: int) -> int:
    """`6·N + 12·L·s·h` training FLOPs per token (Kaplan et al. 2020, §2.1; N = all parameters)."""
    return 6 * params + 12 * layers * seq_len * hidden


def model_summary(graphs: ModelGraphs) -> dict[str, Any]:
    """The `model` section of result.json, per rank at the graphs' micro-batch and tensor width."""
    cfg, b = graphs.cfg, graphs.microbatch
    layers: dict[str, Any] = {}
    for kind in LAYER_KINDS:
        lk = graphs.layers[kind]
        layers[kind] = {
            "count": lk.count,
            "params": lk.params,
            "fwd_macs": lk.fwd_macs,
            "bwd_macs": lk.bwd_macs,
            "fwd_flops": FLOP_PER_MAC * lk.fwd_macs,
            "bwd_flops": FLOP_PER_MAC * lk.bwd_macs,
            "ops": lk.op_count(),
            "ops_bwd": sum(1 for op in lk.bwd.ops if op.kind is not OpKind.NOP),
            "activation_bytes": {mode: lk.activation_bytes(mode) for mode in RECOMPUTE_MODES},
        }
    source = model_source(cfg)
    params_total = graphs.total("params") - graphs.vocab_padding_params
    fwd = graphs.total("fwd_macs")
    train = fwd + graphs.total("bwd_macs")
    return {
        "name": cfg.name,
        "microbatch": b,
        "tensor_width": graphs.tensor_width,
        "sequence_parallel": graphs.sequence_parallel,
        "params_total": params_total,
        "params_per_block": graphs.layers["block"].params,
        "flops_fwd_per_sample": FLOP_PER_MAC * fwd // b,
        "flops_train_per_token": FLOP_PER_MAC * train // graphs.tokens,
        "flops_train_per_token_kaplan": kaplan_train_flops_per_token(
            params_total, cfg.layers, cfg.seq_len, cfg.hidden),
        "activation_bytes_per_microbatch": {
            mode: sum(lk.count * lk.activation_bytes(kind_recompute(kind, mode)) for kind, lk in graphs.layers.items())
            for mode in RECOMPUTE_MODES},
        "layers": layers,
        **({"source": source} if source else {}),
    }


def model_source(cfg: ModelConfig) -> str:
    """Where an imported model's fields and graphs came from (empty for a YAML model)."""
    if cfg.onnx_path is not None:
        tp = ("tensor parallelism by the Megatron pattern it matches (column/row-parallel GEMMs, vocab-parallel "
              "embedding and head)" if cfg.tensor_parallel else
              "no tensor-parallel pattern matched: tensor width 1 only")
        return f"ONNX import of {cfg.onnx_path}: layer graphs from the file; {tp}"
    if cfg.hf_config is not None:
        return f"Hugging Face config.json {cfg.hf_config} mapped onto the analytic builder"
    return ""
