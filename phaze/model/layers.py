"""The three layer kinds of a transformer, built analytically from hyper-parameters (DESIGN §3).

Shapes follow Megatron-LM tensor parallelism (Shoeybi et al. 2019): column-parallel QKV and FC1 (outputs
/t), row-parallel out-projection and FC2 (inputs /t), heads and kv_heads /t, vocab-parallel embedding and
LM head; an all-reduce of `b·s·h` elements after the out-projection and after FC2 (the g operator) and
before QKV and FC1 in backward (the f operator). Sequence parallelism (Korthikanti et al. 2023) swaps each
all-reduce for reduce-scatter + all-gather and shards the norm/dropout region by t.

What each op saves for backward follows Korthikanti et al. 2023 §4.1 (2-byte activations, 1-byte
dropout masks), so the summed saved bytes reproduce their per-layer formulas exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from phaze.config.model import ModelConfig
from phaze.model.autograd import ForwardLayer
from phaze.model.grad_rules import Grad
from phaze.model.ops import Collective, Op, OpKind

MASK_BYTES = 1  # dropout masks are stored as bytes (Korthikanti et al. 2023 §4.1)
TOKEN_ID_BYTES = 8  # token ids travel as int64 in Megatron-LM and HF
LOSS_ELEM_BYTES = 4  # vocab-parallel cross-entropy works on fp32 logits (Megatron-LM cross_entropy.py)
CE_ALL_REDUCES = 3  # max, sum of exponentials and target logit (Megatron-LM vocab-parallel cross-entropy)
ROPE_CYCLE_OPS = ("add_sub_mul_neg",) * 3  # x·cos + rotate(x)·sin: two multiplies and an add per element


@dataclass(frozen=True)
class Shape:
    """Per-rank sizes for one (micro-batch b, tensor width t, sequence-parallel) build."""

    b: int
    t: int
    sp: bool
    s: int
    h: int
    e: int  # activation bytes per element

    @property
    def tokens(self) -> int:
        return self.b * self.s

    @property
    def region(self) -> int:
        """Tokens per rank in the norm/dropout region: sharded by t under sequence parallelism."""
        return self.tokens // self.t if self.sp else self.tokens


def padded_vocab(cfg: ModelConfig, t: int) -> int:
    """Megatron pads the vocabulary to a multiple of `vocab_pad_multiple · t` (128·t in Megatron-LM)."""
    mult = cfg.vocab_pad_multiple * t if cfg.vocab_pad_multiple > 1 else t
    return -(-cfg.vocab // mult) * mult


def norm_params(cfg: ModelConfig) -> int:
    return cfg.hidden * (2 if cfg.norm == "layernorm" else 1)


class LayerOps:
    """Helpers that append one op with consistent bytes, saves and gradient rule."""

    def __init__(self, layer: ForwardLayer, shape: Shape) -> None:
        self.l, self.sh = layer, shape

    def gemm(self, name: str, x: str, dims: tuple[int, int, int, int], params: int, saves: tuple[str, ...],
             weight: bool = True, y: str | None = None, core: bool = False) -> str:
        b, n, m, c = dims
        e = self.sh.e
        w_bytes = c * m * e if weight else b * c * m * e
        op = Op(name, OpKind.GEMM, gemm=dims, weight_gemm=weight, params=params, saves=saves,
                bytes_read=b * n * c * e + w_bytes, bytes_written=b * n * m * e, attention_core=core)
        inputs = (x,) if weight else (x, y)  # type: ignore[assignment]
        return self.l.add(op, inputs, Grad.GEMM_WEIGHT if weight else Grad.GEMM_ACT, out_numel=b * n * m)

    def vector(self, name: str, inputs: tuple[str, ...], numel: int, cycles: tuple[str, ...],
               saves: tuple[str, ...] = (), params: int = 0, grad: Grad = Grad.VECTOR,
               selective: bool = False, mask_bytes: int = 0, core: bool = False, row_elems: int = 0) -> str:
        e = self.sh.e
        op = Op(name, OpKind.VECTOR, vector_ops=cycles, numel=numel, row_elems=row_elems, params=params, saves=saves,
                bytes_read=max(len(inputs), 1) * numel * e, bytes_written=numel * e + mask_bytes, mask_bytes=mask_bytes,
                attention_core=core)
        self.l.add(op, inputs, grad)
        self.l.tensor(name, numel, selective=selective)
        return name

    def norm(self, name: str, x: str, cfg: ModelConfig) -> str:
        return self.vector(name, (x,), self.sh.region * cfg.hidden, (cfg.norm,), saves=(x,),
                           params=norm_params(cfg), row_elems=cfg.hidden)

    def bias(self, name: str, x: str, numel: int, params: int) -> str:
        return self.vector(name, (x,), numel, ("add_sub_mul_neg",), params=params, grad=Grad.BIAS)

    def add(self, name: str, a: str, b: str, numel: int) -> str:
        return self.vector(name, (a, b), numel, ("add_sub_mul_neg",), grad=Grad.PASS)

    def dropout(self, name: str, x: str, numel: int, selective: bool = False, core: bool = False) -> str:
        """y = x·mask/(1-p): the forward also writes the 1-byte mask its backward reads (the same bytes the
        activation-memory model keeps, Korthikanti et al. 2023 §4.1)."""
        mask = self.l.tensor(f"{name}.mask", numel, MASK_BYTES, selective=selective)
        return self.vector(name, (x,), numel, ("dropout",), saves=(mask,), selective=selective,
                           mask_bytes=numel * MASK_BYTES, core=core)

    def collective(self, name: str, x: str, kind: Collective, grad: Grad, numel_out: int, width: int) -> str:
        """A TP collective; `comm_bytes` is the full (gathered) tensor, the ring formulas' payload."""
        sh = self.sh
        comm = sh.tokens * width * sh.e
        op_kind = OpKind.NOP if grad is Grad.F_IDENTITY else OpKind.COLLECTIVE
        op = Op(name, op_kind, collective=None if op_kind is OpKind.NOP else kind, comm_bytes=comm, group=sh.t)
        return self.l.add(op, (x,), grad, out_numel=numel_out)

    def enter_tp(self, name: str, x: str, width: int | None = None) -> str:
        """Into a tensor-parallel region: f (identity fwd) or, with SP, an all-gather."""
        sh, w = self.sh, width or self.sh.h
        if sh.t == 1:
            return x
        if sh.sp:
            return self.collective(name, x, Collective.ALL_GATHER, Grad.ALL_GATHER, sh.tokens * w, w)
        return self.collective(name, x, Collective.ALL_REDUCE, Grad.F_IDENTITY, sh.tokens * w, w)

    def leave_tp(self, name: str, x: str, width: int | None = None) -> str:
        """Out of a row-parallel GEMM: g (all-reduce) or, with SP, a reduce-scatter."""
        sh, w = self.sh, width or self.sh.h
        if sh.t == 1:
            return x
        if sh.sp:
            return self.collective(name, x, Collective.REDUCE_SCATTER, Grad.REDUCE_SCATTER, sh.region * w, w)
        return self.collective(name, x, Collective.ALL_REDUCE, Grad.G_ALL_REDUCE, sh.tokens * w, w)
