"""The `embed` and `head` layer kinds (DESIGN §3).

embed: vocab-parallel token embedding (+ OPT's project_in, learned positions, BERT's token types and
embedding LayerNorm, dropout). head: final norm, OPT's project_out, BERT's pooler, the vocab-parallel LM
head and the cross-entropy loss, whose logits count in memory. A tied head owns no parameters: they are
the embedding's (Press & Wolf 2017), so parameter totals match the published counts.
"""

from __future__ import annotations

from phaze.config.model import ModelConfig
from phaze.model.autograd import ForwardLayer
from phaze.model.grad_rules import Grad
from phaze.model.layers import (
    CE_ALL_REDUCES,
    LOSS_ELEM_BYTES,
    TOKEN_ID_BYTES,
    LayerOps,
    Shape,
    padded_vocab,
)
from phaze.model.ops import Collective, Op, OpKind


def build_embed(cfg: ModelConfig, sh: Shape) -> ForwardLayer:
    layer = ForwardLayer("embed", sh.e)
    o = LayerOps(layer, sh)
    h, t = cfg.hidden, sh.t
    width = cfg.embed_proj_dim or h
    ids = layer.layer_input("ids", sh.tokens, TOKEN_ID_BYTES, grad=False)
    vocab_rows = padded_vocab(cfg, t) // t
    x = o.vector("word_embed", (ids,), sh.tokens * width, (), saves=(ids,), params=vocab_rows * width)
    x = o.leave_tp("word_embed.g", x, width)
    if cfg.embed_proj_dim:
        x = o.gemm("project_in", x, (1, sh.region, h, width), width * h, saves=(x,))
    numel = sh.region * h
    extra = [("position_embed", cfg.max_positions + cfg.position_offset)] \
        if cfg.position_embedding == "learned" else []
    if cfg.token_types:
        extra.append(("token_type_embed", cfg.token_types))
    for name, rows in extra:
        table = o.vector(name, (), numel, (), params=rows * h)
        x = o.add(f"{name}.add", x, table, numel)
    if cfg.embed_scale:  # Gemma: x · sqrt(hidden)
        x = o.vector("embed_scale", (x,), numel, ("add_sub_mul_neg",))
    if cfg.embed_norm:
        x = o.norm("embed_norm", x, cfg)
    if cfg.dropout:
        x = o.dropout("embed_dropout", x, numel)
    layer.output = x
    return layer


def build_head(cfg: ModelConfig, sh: Shape) -> ForwardLayer:
    layer = ForwardLayer("head", sh.e)
    o = LayerOps(layer, sh)
    h, t = cfg.hidden, sh.t
    width = cfg.embed_proj_dim or h
    x = layer.layer_input("x", sh.region * h)
    if cfg.final_norm:
        x = o.norm("final_norm", x, cfg)
    if cfg.pooler:  # dense + tanh on the first token of every sequence (Devlin et al. 2019)
        pooled = o.gemm("pooler", x, (1, sh.b, h, h), h * h, saves=(x,))
        pooled = o.bias("pooler.bias", pooled, sh.b * h, h)
        o.vector("pooler.tanh", (pooled,), sh.b * h, ("tanh",), saves=("pooler.tanh",))
    if cfg.embed_proj_dim:
        x = o.gemm("project_out", x, (1, sh.region, width, h), h * width, saves=(x,))
    vocab_cols = padded_vocab(cfg, t) // t
    xin = o.enter_tp("lm_head.f", x, width)
    logits = o.gemm("lm_head", xin, (1, sh.tokens, vocab_cols, width),
                    0 if cfg.tied_head else vocab_cols * width, saves=(x,))
    numel = sh.tokens * vocab_cols
    ce = o.vector("cross_entropy", (logits,), numel, ("log_softmax",), saves=("cross_entropy",),
                  grad=Grad.LOSS, row_elems=vocab_cols)
    layer.tensor(ce, numel, LOSS_ELEM_BYTES)
    if t > 1:
        comm = CE_ALL_REDUCES * sh.tokens * LOSS_ELEM_BYTES
        ar = Op("cross_entropy.all_reduce", OpKind.COLLECTIVE, collective=Collective.ALL_REDUCE,
                comm_bytes=comm, group=t)
        ce = layer.add(ar, (ce,), Grad.NONE, out_numel=sh.tokens)
    layer.output = o.vector("nll_loss", (ce,), sh.tokens, ("nll_loss",), grad=Grad.NONE, row_elems=sh.tokens)
    return layer
