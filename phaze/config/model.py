"""Schema of the `model` group: a transformer's hyper-parameters, and nothing else (DESIGN §3).

A model file holds the architecture only — never expected counts — so any model can be described by a
new YAML file or purely by overrides (`model.layers=30 model.hidden=3072 ...`) without code changes.
Two more sources fill the same fields from a file on disk before validation (phaze/model/sources.py):
`model=hf model.hf_config=PATH` (a Hugging Face config.json, mapped in phaze/model/hf_config.py) and
`model=onnx model.onnx_path=PATH` (an ONNX export, whose graphs phaze/model/onnx_import.py builds).
"""

from __future__ import annotations

from dataclasses import dataclass

from phaze.config.errors import ConfigError

NORMS = ("layernorm", "rmsnorm")
ACTIVATIONS = ("relu", "gelu", "swiglu", "geglu")
POSITION_EMBEDDINGS = ("learned", "rope")


@dataclass
class ModelConfig:
    name: str = "???"
    family: str = "gpt2"  # descriptive only: no code branches on it
    layers: int = 24
    hidden: int = 1024
    heads: int = 16
    kv_heads: int = 16
    ffn: int = 4096
    vocab: int = 50257
    max_positions: int = 2048
    seq_len: int = 2048
    norm: str = "layernorm"
    activation: str = "gelu"
    pre_ln: bool = True
    tied_head: bool = True
    biases: bool = True
    dropout: bool = True  # dropout layers present (masks are saved for backward)
    position_embedding: str = "learned"
    position_offset: int = 0  # OPT stores 2 extra learned positions
    embed_proj_dim: int | None = None  # OPT-350m projects a 512-wide embedding to `hidden`
    token_types: int = 0  # BERT: 2 segment embeddings
    embed_norm: bool = False  # BERT: LayerNorm after the embedding sum
    final_norm: bool = True
    pooler: bool = False  # BERT: dense + tanh on the first token
    vocab_pad_multiple: int = 1  # Megatron pads the vocabulary to a multiple of this times t (128)
    head_dim: int | None = None  # null: hidden / heads; Gemma-7B: 256 with 16 heads on hidden 3072
    qkv_bias: bool | None = None  # null: as `biases`; Qwen2: QKV biases only (biases=false, qkv_bias=true)
    parallel_block: bool = False  # GPT-NeoX/Falcon: attention and MLP both read the layer input, x + a + m
    shared_block_norm: bool = False  # Falcon-7B: one LayerNorm feeds both branches of a parallel block
    embed_scale: bool = False  # Gemma: the embedding is multiplied by sqrt(hidden)
    rotary_fraction: float = 1.0  # GPT-NeoX rotary_pct: the share of each head's dims that RoPE rotates
    tensor_parallel: bool = True  # false: no tensor-parallel form (an ONNX graph without the Megatron pattern)
    hf_config: str | None = None  # model=hf: the config.json the fields above were mapped from
    onnx_path: str | None = None  # model=onnx: the ONNX export the layer graphs are built from


def _positive(cfg: ModelConfig, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"model.{name}", value, "a positive integer")


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(field, value, f"one of {', '.join(allowed)}")


def validate(cfg: ModelConfig) -> None:
    """Cross-field rules of a model; the first violation raises a one-line ConfigError."""
    _positive(cfg, ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "max_positions", "seq_len",
                    "vocab_pad_multiple"))
    for name in ("position_offset", "token_types"):
        value = getattr(cfg, name)
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"model.{name}", value, "a non-negative integer")
    if cfg.embed_proj_dim is not None and cfg.embed_proj_dim <= 0:
        raise ConfigError("model.embed_proj_dim", cfg.embed_proj_dim, "null or a positive integer")
    _choice("model.norm", cfg.norm, NORMS)
    _choice("model.activation", cfg.activation, ACTIVATIONS)
    _choice("model.position_embedding", cfg.position_embedding, POSITION_EMBEDDINGS)
    if cfg.head_dim is not None and (not isinstance(cfg.head_dim, int) or cfg.head_dim <= 0):
        raise ConfigError("model.head_dim", cfg.head_dim, "null or a positive integer")
    if cfg.head_dim is None and cfg.hidden % cfg.heads:
        raise ConfigError("model.heads", cfg.heads, f"must divide model.hidden={cfg.hidden} (or set model.head_dim)")
    if not 0 < cfg.rotary_fraction <= 1:
        raise ConfigError("model.rotary_fraction", cfg.rotary_fraction, "a fraction in (0, 1]")
    if cfg.shared_block_norm and not cfg.parallel_block:
        raise ConfigError("model.shared_block_norm", cfg.shared_block_norm, "false unless model.parallel_block=true")
    if cfg.parallel_block and not cfg.pre_ln:
        raise ConfigError("model.parallel_block", cfg.parallel_block, "false unless model.pre_ln=true")
    if cfg.heads % cfg.kv_heads:
        raise ConfigError("model.kv_heads", cfg.kv_heads, f"must divide model.heads={cfg.heads}")
    if cfg.seq_len > cfg.max_positions:
        raise ConfigError("model.seq_len", cfg.seq_len, f"at most model.max_positions={cfg.max_positions}")


def head_dim(cfg: ModelConfig) -> int:
    """Each attention head's width: `model.head_dim`, else hidden / heads."""
    return cfg.head_dim or cfg.hidden // cfg.heads


def validate_tensor_width(cfg: ModelConfig, t: int, field: str) -> None:
    """Megatron sharding needs t to divide heads, kv_heads and ffn (DESIGN §7); a model without a tensor-parallel
    form (an ONNX graph whose blocks do not match the Megatron pattern, phaze/model/onnx_import.py) needs t = 1."""
    if not isinstance(t, int) or t <= 0:
        raise ConfigError(field, t, "a positive integer")
    if not cfg.tensor_parallel and t != 1:
        raise ConfigError(field, t, "1: the model has no tensor-parallel form (model.tensor_parallel=false: its "
                          "ONNX graph does not match the Megatron pattern)")
    bad = [f"{n}={getattr(cfg, n)}" for n in ("heads", "kv_heads", "ffn") if getattr(cfg, n) % t]
    if bad:
        raise ConfigError(field, t, f"must divide model {', '.join(bad)}")


def width_divides(cfg: ModelConfig, t: int) -> bool:
    if not cfg.tensor_parallel:
        return t == 1
    return all(getattr(cfg, n) % t == 0 for n in ("heads", "kv_heads", "ffn"))
