"""Build every layer kind of a model for one (micro-batch, tensor width, sequence-parallel) setting."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from phaze.config.model import ModelConfig, validate_tensor_width
from phaze.model.autograd import ForwardLayer
from phaze.model.block import build_block
from phaze.model.embed_head import build_embed, build_head
from phaze.model.fusion import check_kernels, fuse
from phaze.model.layers import Shape, padded_vocab
from phaze.model.megatron import COPIES_AFTER, megatron_sc21
from phaze.model.ops import LayerGraph, Op, OpKind, Pass

ACTIVATION_BYTES = 2  # fp16/bf16 mixed-precision training (Micikevicius et al. 2018)
RECOMPUTE_MODES = ("none", "selective", "full")
LAYER_KINDS = ("embed", "block", "head")
# Activation recomputation checkpoints the transformer layers only (Megatron-LM's --checkpoint-activations
# wraps the transformer layers; Korthikanti et al. 2023 §5): the embedding and the head run once and keep
# their activations whatever the recompute mode.
RECOMPUTED_KINDS = frozenset({"block"})


def kind_recompute(kind: str, recompute: str) -> str:
    """The recompute mode layer kind `kind` actually runs in under the setting's `recompute`."""
    return recompute if kind in RECOMPUTED_KINDS else "none"


@dataclass
class LayerKind:
    """One layer kind: its forward description, the fused fwd/bwd graphs, and how often it repeats."""

    kind: str
    count: int
    forward: ForwardLayer
    kernels: str = "fused"  # parallelism.kernels: how ops group into kernels (fusion.py, megatron.py)

    @cached_property
    def fwd_unfused(self) -> LayerGraph:
        return self.forward.forward_graph()

    @cached_property
    def bwd_unfused(self) -> LayerGraph:
        return self.forward.backward_graph()

    def _kernels(self, graph: LayerGraph) -> LayerGraph:
        if self.kernels == "megatron_sc21":
            return megatron_sc21(graph, self.forward.elem_bytes)
        return fuse(graph)

    @cached_property
    def fwd(self) -> LayerGraph:
        return self._kernels(self.fwd_unfused)

    @cached_property
    def bwd(self) -> LayerGraph:
        return self._kernels(self.bwd_unfused)

    @property
    def params(self) -> int:
        return self.fwd_unfused.params

    @cached_property
    def selective_ops(self) -> list[Op]:
        """The forward kernels selective recomputation re-runs in the backward: the attention core (Korthikanti
        et al. 2023 §5: QKᵀ, softmax, softmax dropout and attention over V), as Megatron-LM's checkpointed
        CoreAttention runs them, with the copy PyTorch makes of its context output (megatron.COPIES_AFTER)."""
        core = {op.name for op in self.fwd_unfused.ops if op.attention_core}
        copies = {COPIES_AFTER[Pass.FWD][name] for name in core if name in COPIES_AFTER[Pass.FWD]}
        return [op for op in self.fwd.ops if op.attention_core or op.name in copies]

    @property
    def fwd_macs(self) -> int:
        return self.fwd_unfused.macs

    @property
    def bwd_macs(self) -> int:
        return self.bwd_unfused.macs

    def activation_bytes(self, recompute: str) -> int:
        """Bytes one micro-batch keeps for this layer's backward (Korthikanti et al. 2023 §4–5).

        none: every distinct tensor some op saves; selective: minus the attention scores, softmax and
        dropout masks (recomputed); full: only the layer's input (the whole layer is recomputed).
        """
        if recompute == "full":
            return sum(self.forward.tensors[name].bytes for name in self.forward.inputs)
        saved = {name for node in self.forward.nodes for name in node.op.saves}
        tensors = [self.forward.tensors[name] for name in saved]
        if recompute == "selective":
            tensors = [t for t in tensors if not t.selective]
        elif recompute != "none":
            raise ValueError(f"recompute must be one of {RECOMPUTE_MODES}, got {recompute!r}")
        return sum(t.bytes for t in tensors)

    def op_count(self) -> int:
        return sum(1 for op in self.fwd.ops if op.kind is not OpKind.NOP)


@dataclass
class ModelGraphs:
    cfg: ModelConfig
    microbatch: int
    tensor_width: int
    sequence_parallel: bool
    layers: dict[str, LayerKind]

    @property
    def chain(self) -> list[str]:
        """The pipeline chain [embed, L blocks, head] as layer-kind names."""
        return ["embed"] + ["block"] * self.cfg.layers + ["head"]

    @property
    def tokens(self) -> int:
        return self.microbatch * self.cfg.seq_len

    def total(self, attr: str) -> int:
        return sum(k.count * getattr(k, attr) for k in self.layers.values())

    @property
    def word_embedding_params(self) -> int:
        """Per-rank parameters of the (vocab-parallel) word embedding: what a tied LM head shares."""
        width = self.cfg.embed_proj_dim or self.cfg.hidden
        return padded_vocab(self.cfg, self.tensor_width) // self.tensor_width * width

    @property
    def vocab_padding_params(self) -> int:
        """Parameters added by Megatron's vocabulary padding (zero for unpadded models), per rank."""
        width = self.cfg.embed_proj_dim or self.cfg.hidden
        pad_rows = (padded_vocab(self.cfg, self.tensor_width) - self.cfg.vocab) // self.tensor_width
        return pad_rows * width * (1 if self.cfg.tied_head else 2)


def build_model(cfg: ModelConfig, microbatch: int, tensor_width: int = 1,
                sequence_parallel: bool = False, elem_bytes: int = ACTIVATION_BYTES,
                kernels: str = "fused") -> ModelGraphs:
    """Operator graphs of embed, block and head for micro-batch b and tensor width t (DESIGN §3), grouped
    into the kernels of profile `kernels` (parallelism.kernels)."""
    if microbatch <= 0:
        raise ValueError(f"microbatch must be positive, got {microbatch}")
    validate_tensor_width(cfg, tensor_width, "tensor_width")
    check_kernels(kernels)  # here, not at the first use of a graph
    if sequence_parallel and (microbatch * cfg.seq_len) % tensor_width:
        raise ValueError("sequence parallelism needs tensor_width to divide micro-batch x seq_len")
    shape = Shape(microbatch, tensor_width, sequence_parallel and tensor_width > 1, cfg.seq_len, cfg.hidden,
                  elem_bytes)
    if cfg.onnx_path is not None:  # model=onnx: the layer kinds come from the file (onnx_import.py)
        from phaze.model.onnx_import import onnx_forward_layers

        forward = onnx_forward_layers(cfg.onnx_path, microbatch, elem_bytes, tensor_width)
    else:
        forward = {"embed": build_embed(cfg, shape), "block": build_block(cfg, shape), "head": build_head(cfg, shape)}
    counts = {"embed": 1, "block": cfg.layers, "head": 1}
    layers = {kind: LayerKind(kind, counts[kind], forward[kind], kernels) for kind in LAYER_KINDS}
    return ModelGraphs(cfg, microbatch, tensor_width, sequence_parallel, layers)
