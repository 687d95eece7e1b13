"""One transformer layer (the `block` kind), repeated L times (DESIGN §3).

Pre-LN (GPT-2/3, OPT >= 1.3B, LLaMA) normalises each sub-layer's input; post-LN (BERT, OPT-350m)
normalises after each residual add. Attention is grouped-query when kv_heads < heads (Ainslie et al.
2023); SwiGLU and GeGLU (Shazeer 2020) use gate and up projections and a third GEMM. A parallel block
(GPT-J, GPT-NeoX, Falcon) feeds the layer input to attention and MLP alike and adds both to it.
"""

from __future__ import annotations

from phaze.config.model import ModelConfig, head_dim
from phaze.model.autograd import ForwardLayer
from phaze.model.layers import ROPE_CYCLE_OPS, LayerOps, Shape


def _attention(o: LayerOps, cfg: ModelConfig, sh: Shape, x: str) -> str:
    """QKV -> scores -> softmax -> dropout -> context -> out-projection; returns the row-parallel output."""
    t, h, s, b = sh.t, cfg.hidden, sh.s, sh.b
    d_head = head_dim(cfg)
    q_cols, kv_cols = cfg.heads * d_head // t, cfg.kv_heads * d_head // t
    heads = b * cfg.heads // t
    xin = o.enter_tp("attn.f", x)
    qkv_cols = q_cols + 2 * kv_cols
    # Under sequence parallelism the GEMM keeps its sharded input x and re-gathers it for dW.
    y = o.gemm("qkv", xin, (1, sh.tokens, qkv_cols, h), h * qkv_cols, saves=(x,))
    if cfg.biases if cfg.qkv_bias is None else cfg.qkv_bias:
        y = o.bias("qkv.bias", y, sh.tokens * qkv_cols, qkv_cols)
    if cfg.position_embedding == "rope":
        y = o.vector("rope", (y,), round(sh.tokens * qkv_cols * cfg.rotary_fraction), ROPE_CYCLE_OPS)
    q = o.l.tensor("q", sh.tokens * q_cols)
    k = o.l.tensor("k", sh.tokens * kv_cols)
    v = o.l.tensor("v", sh.tokens * kv_cols)
    # q, k, v are column slices of y: their gradients are concatenated into dy, not summed.
    o.l.concat_grads.add(y)
    # the attention core: every op below streams the heads·s² score tensor (Op.attention_core)
    scores = o.gemm("scores", y, (heads, s, s, d_head), 0, saves=(q, k), weight=False, y=y, core=True)
    scale_mask = o.vector("scale_mask", (scores,), heads * s * s, ("add_sub_mul_neg", "masked_fill"), core=True)
    probs = o.vector("softmax", (scale_mask,), heads * s * s, ("softmax",), saves=("softmax",), selective=True,
                     core=True, row_elems=s)
    if cfg.dropout:
        probs = o.dropout("attn_dropout", probs, heads * s * s, selective=True, core=True)
    ctx = o.gemm("context", probs, (heads, s, d_head, s), 0, saves=(probs, v), weight=False, y=y, core=True)
    return o.gemm("out_proj", ctx, (1, sh.tokens, h, q_cols), q_cols * h, saves=(ctx,))


# gated activations: the gate's non-linearity (op name, cycle-table key) times the up projection
GATED = {"swiglu": ("silu", "sigmoid_silu"), "geglu": ("gelu", "gelu")}


def _mlp(o: LayerOps, cfg: ModelConfig, sh: Shape, x: str) -> str:
    t, h = sh.t, cfg.hidden
    f = cfg.ffn // t
    xin = o.enter_tp("mlp.f", x)

    def up_proj(name: str) -> str:
        y = o.gemm(name, xin, (1, sh.tokens, f, h), h * f, saves=(x,))
        return o.bias(f"{name}.bias", y, sh.tokens * f, f) if cfg.biases else y

    if cfg.activation in GATED:
        gate = up_proj("gate")
        act_name, cycles = GATED[cfg.activation]
        act = o.vector(act_name, (gate,), sh.tokens * f, (cycles,), saves=(gate,))
        up = up_proj("up")
        hidden = o.vector(f"{cfg.activation}_mul", (act, up), sh.tokens * f, ("add_sub_mul_neg",), saves=(act, up))
    else:
        y = up_proj("fc1")
        hidden = o.vector(cfg.activation, (y,), sh.tokens * f, (cfg.activation,), saves=(y,))
    return o.gemm("fc2", hidden, (1, sh.tokens, h, f), f * h, saves=(hidden,))


def _residual(o: LayerOps, cfg: ModelConfig, sh: Shape, name: str, y: str, skip: str) -> str:
    """g/reduce-scatter, the un-split bias, dropout and the residual add after a row-parallel GEMM."""
    y = o.leave_tp(f"{name}.g", y)
    numel = sh.region * cfg.hidden
    if cfg.biases:
        y = o.bias(f"{name}.bias", y, numel, cfg.hidden)
    if cfg.dropout:
        y = o.dropout(f"{name}.dropout", y, numel)
    return o.add(f"{name}.residual", y, skip, numel)


def build_block(cfg: ModelConfig, sh: Shape) -> ForwardLayer:
    layer = ForwardLayer("block", sh.e)
    o = LayerOps(layer, sh)
    x = layer.layer_input("x", sh.region * cfg.hidden)
    if cfg.parallel_block:  # x + attn(ln1(x)) + mlp(ln2(x)); Falcon-7B: one norm feeds both
        n1 = o.norm("ln1", x, cfg)
        n2 = n1 if cfg.shared_block_norm else o.norm("ln2", x, cfg)
        attn, mlp = _attention(o, cfg, sh, n1), _mlp(o, cfg, sh, n2)
        out = _residual(o, cfg, sh, "mlp", mlp, _residual(o, cfg, sh, "attn", attn, x))
    elif cfg.pre_ln:
        h1 = _residual(o, cfg, sh, "attn", _attention(o, cfg, sh, o.norm("ln1", x, cfg)), x)
        out = _residual(o, cfg, sh, "mlp", _mlp(o, cfg, sh, o.norm("ln2", h1, cfg)), h1)
    else:
        h1 = o.norm("ln1", _residual(o, cfg, sh, "attn", _attention(o, cfg, sh, x), x), cfg)
        out = o.norm("ln2", _residual(o, cfg, sh, "mlp", _mlp(o, cfg, sh, h1), h1), cfg)
    layer.output = out
    return layer
