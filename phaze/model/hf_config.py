"""A Hugging Face `config.json` mapped onto the analytic builder's fields (`model=hf model.hf_config=PATH`).

The file is read from disk, never fetched. Each supported `model_type` is mapped as its modelling code in
`transformers` builds the network (the `*ForCausalLM` model, or `BertModel` with its pooler): which linear
layers carry biases, whether the LM head is tied, rotary or learned positions, the norm and the activation.
A field that would change the operator graph in a way the builder cannot express (mixture of experts,
sliding-window attention shorter than the sequence, ALiBi, cross-attention, ...) is a one-line ConfigError
naming the field, never an approximation. Fields that only change numerics (epsilons, rope_theta, rope
scaling, initialiser ranges, dropout probabilities) do not change the graph and are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phaze.config.errors import ConfigError

# A config.json says how long a sequence the model may see, not how long the training sequence is: the
# mapped seq_len is the shorter of max_position_embeddings, a sliding window and this (override model.seq_len).
DEFAULT_SEQ_LEN = 4096

SLIDING_WINDOW = "sliding_window"  # a constraint on seq_len returned beside the fields, not a field
GELU_ACTS = ("gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_python", "gelu_accurate", "quick_gelu")
SILU_ACTS = ("silu", "swish")


class HfFields:
    """Typed reads of one config.json; every error names `hf_config.<key>`."""

    def __init__(self, data: dict[str, Any], path: str) -> None:
        self.data, self.path = data, path

    def err(self, key: str, allowed: str) -> ConfigError:
        return ConfigError(f"model.hf_config ({self.path}): {key}", self.data.get(key), allowed)

    def int(self, key: str, default: int | None = None) -> int:
        value = self.data.get(key, default)
        if value is None and default is None and key not in self.data:
            raise ConfigError(f"model.hf_config ({self.path}): {key}", None, "a positive integer (field missing)")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise self.err(key, "a positive integer")
        return value

    def opt_int(self, key: str) -> int | None:
        return None if self.data.get(key) is None else self.int(key)

    def bool(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.err(key, "true or false")
        return value

    def str(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self.err(key, "a string")
        return value

    def absent(self, key: str, why: str, ok: Callable[[Any], bool] = lambda v: v is None or v is False) -> None:
        """`key` must be unset (or a value that leaves the graph unchanged), else: unsupported."""
        if key in self.data and not ok(self.data[key]):
            raise self.err(key, f"not supported: {why}")

    def activation(self, key: str, default: str, gated: bool) -> str:
        act = self.str(key, default)
        if act in GELU_ACTS:
            return "geglu" if gated else "gelu"
        if act in SILU_ACTS and gated:
            return "swiglu"
        if act == "relu" and not gated:
            return "relu"
        allowed = ", ".join(GELU_ACTS + SILU_ACTS) if gated else ", ".join((*GELU_ACTS, "relu"))
        raise self.err(key, f"one of {allowed}")


def _dropout(f: HfFields, keys: tuple[str, ...], default: float) -> bool:
    """Whether any of the dropout probabilities `keys` is positive (the builder's single `dropout` switch)."""
    values = [f.data.get(k, default) for k in keys]
    for key, value in zip(keys, values, strict=True):
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
            raise f.err(key, "a probability in [0, 1)")
    return any(v > 0 for v in values)


def _no_moe(f: HfFields) -> None:
    for key in ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"):
        f.absent(key, "mixture-of-experts layers", ok=lambda v: v in (None, 0, 1))


def _seq_len(f: HfFields, max_positions: int, window: int | None) -> int:
    return min(max_positions, DEFAULT_SEQ_LEN, *((window,) if window else ()))


def _llama_like(f: HfFields, family: str) -> dict[str, Any]:
    """llama, mistral, qwen2, gemma and phi3: pre-RMSNorm, rotary, gated MLP, no linear biases by default."""
    _no_moe(f)
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    attn_bias = f.bool("attention_bias", False) if family in ("llama", "gemma") else False
    mlp_bias = f.bool("mlp_bias", False) if family == "llama" else False
    if attn_bias != mlp_bias:
        raise f.err("attention_bias", f"equal to mlp_bias={mlp_bias} (the builder biases every linear layer or none)")
    window: int | None = None
    if family in ("mistral", "phi3") or (family == "qwen2" and f.bool("use_sliding_window", False)):
        window = f.opt_int("sliding_window")
    if family == "phi3":
        f.absent("partial_rotary_factor", "partial rotary embeddings in phi3", ok=lambda v: v in (None, 1, 1.0))
    tied_default = family in ("gemma",)
    act_key = "hidden_activation" if family == "gemma" and f.data.get("hidden_activation") else "hidden_act"
    max_positions = f.int("max_position_embeddings")
    fields: dict[str, Any] = {
        "family": family, "layers": f.int("num_hidden_layers"), "hidden": hidden, "heads": heads,
        "kv_heads": f.int("num_key_value_heads", heads) if f.data.get("num_key_value_heads") is not None else heads,
        "ffn": f.int("intermediate_size"), "vocab": f.int("vocab_size"), "max_positions": max_positions,
        "seq_len": _seq_len(f, max_positions, window), "norm": "rmsnorm",
        "activation": f.activation(act_key, "gelu" if family == "gemma" else "silu", gated=True),
        "pre_ln": True, "tied_head": f.bool("tie_word_embeddings", tied_default), "biases": attn_bias,
        "qkv_bias": True if family == "qwen2" else None, "dropout": False, "position_embedding": "rope",
        "head_dim": f.opt_int("head_dim"), "embed_scale": family == "gemma",
    }
    fields["dropout"] = _dropout(f, ("attention_dropout",), 0.0)
    if fields["dropout"]:
        raise f.err("attention_dropout", "0.0 (the builder's dropout switch also adds residual dropout)")
    fields[SLIDING_WINDOW] = window
    return fields


def _gpt2(f: HfFields) -> dict[str, Any]:
    """GPT2LMHeadModel: pre-LN, learned positions, biases everywhere, GeLU MLP of n_inner or 4·n_embd."""
    f.absent("add_cross_attention", "cross-attention")
    hidden, positions = f.int("n_embd"), f.int("n_positions")
    return {"family": "gpt2", "layers": f.int("n_layer"), "hidden": hidden, "heads": f.int("n_head"),
            "kv_heads": f.int("n_head"), "ffn": f.opt_int("n_inner") or 4 * hidden, "vocab": f.int("vocab_size"),
            "max_positions": positions, "seq_len": _seq_len(f, positions, None), "norm": "layernorm",
            "activation": f.activation("activation_function", "gelu_new", gated=False), "pre_ln": True,
            "tied_head": f.bool("tie_word_embeddings", True), "biases": True,
            "dropout": _dropout(f, ("resid_pdrop", "embd_pdrop", "attn_pdrop"), 0.1), "position_embedding": "learned"}


def _opt(f: HfFields) -> dict[str, Any]:
    """OPTForCausalLM: learned positions with 2 extra rows, optional project_in/out, pre- or post-LN."""
    hidden, positions = f.int("hidden_size"), f.int("max_position_embeddings")
    pre_ln = f.bool("do_layer_norm_before", True)
    proj = f.int("word_embed_proj_dim", hidden)
    f.absent("_remove_final_layer_norm", "OPT without its final LayerNorm")
    if not f.bool("enable_bias", True):
        raise f.err("enable_bias", "true (OPT without biases keeps its LayerNorm affine terms: not expressible)")
    return {"family": "opt", "layers": f.int("num_hidden_layers"), "hidden": hidden,
            "heads": f.int("num_attention_heads"), "kv_heads": f.int("num_attention_heads"), "ffn": f.int("ffn_dim"),
            "vocab": f.int("vocab_size"), "max_positions": positions, "seq_len": _seq_len(f, positions, None),
            "norm": "layernorm", "activation": f.activation("activation_function", "relu", gated=False),
            "pre_ln": pre_ln, "tied_head": f.bool("tie_word_embeddings", True), "biases": True,
            "dropout": _dropout(f, ("dropout", "attention_dropout"), 0.1),
            "position_embedding": "learned", "position_offset": 2, "embed_proj_dim": proj if proj != hidden else None,
            "final_norm": pre_ln}


def _gpt_neox(f: HfFields) -> dict[str, Any]:
    """GPTNeoXForCausalLM (Pythia): partial rotary, biases everywhere, parallel residual by default."""
    hidden, positions = f.int("hidden_size"), f.int("max_position_embeddings")
    if not f.bool("attention_bias", True):
        raise f.err("attention_bias", "true (the builder biases every linear layer or none)")
    fraction = f.data.get("rotary_pct", f.data.get("partial_rotary_factor", 0.25))
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 < fraction <= 1:
        raise f.err("rotary_pct", "a fraction in (0, 1]")
    return {"family": "gpt_neox", "layers": f.int("num_hidden_layers"), "hidden": hidden,
            "heads": f.int("num_attention_heads"), "kv_heads": f.int("num_attention_heads"),
            "ffn": f.int("intermediate_size"), "vocab": f.int("vocab_size"), "max_positions": positions,
            "seq_len": _seq_len(f, positions, None), "norm": "layernorm",
            "activation": f.activation("hidden_act", "gelu", gated=False), "pre_ln": True,
            "tied_head": f.bool("tie_word_embeddings", False), "biases": True,
            "dropout": _dropout(f, ("attention_dropout", "hidden_dropout"), 0.0),
            "position_embedding": "rope", "rotary_fraction": float(fraction),
            "parallel_block": f.bool("use_parallel_residual", True)}


def _falcon(f: HfFields) -> dict[str, Any]:
    """FalconForCausalLM: rotary (ALiBi unsupported), multi-query or grouped attention, parallel block."""
    f.absent("alibi", "ALiBi positions")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    new_arch = f.bool("new_decoder_architecture", False)
    kv = f.int("num_kv_heads", heads) if new_arch else (1 if f.bool("multi_query", True) else heads)
    # FalconDecoderLayer: the new architecture has ln_attn and ln_mlp unless num_ln_in_parallel_attn == 1; the
    # old one a single input_layernorm for its parallel block (or two norms in sequence without one)
    parallel = new_arch or f.bool("parallel_attn", True)
    shared = f.data.get("num_ln_in_parallel_attn") == 1 if new_arch else parallel
    positions = f.int("max_position_embeddings", 2048)
    ffn = f.int("ffn_hidden_size") if f.data.get("ffn_hidden_size") is not None else 4 * hidden
    return {"family": "falcon", "layers": f.int("num_hidden_layers"), "hidden": hidden, "heads": heads,
            "kv_heads": kv, "ffn": ffn,
            "vocab": f.int("vocab_size"), "max_positions": positions, "seq_len": _seq_len(f, positions, None),
            "norm": "layernorm", "activation": f.activation("activation", "gelu", gated=False), "pre_ln": True,
            "tied_head": f.bool("tie_word_embeddings", True), "biases": f.bool("bias", False),
            "dropout": _dropout(f, ("attention_dropout", "hidden_dropout"), 0.0),
            "position_embedding": "rope", "parallel_block": parallel, "shared_block_norm": shared}


def _bert(f: HfFields) -> dict[str, Any]:
    """BertModel with its pooler: post-LN, learned absolute positions, token types, embedding LayerNorm."""
    f.absent("position_embedding_type", "relative position embeddings", ok=lambda v: v in (None, "absolute"))
    f.absent("is_decoder", "BERT as a decoder")
    positions = f.int("max_position_embeddings")
    return {"family": "bert", "layers": f.int("num_hidden_layers"), "hidden": f.int("hidden_size"),
            "heads": f.int("num_attention_heads"), "kv_heads": f.int("num_attention_heads"),
            "ffn": f.int("intermediate_size"), "vocab": f.int("vocab_size"), "max_positions": positions,
            "seq_len": _seq_len(f, positions, None), "norm": "layernorm",
            "activation": f.activation("hidden_act", "gelu", gated=False), "pre_ln": False, "tied_head": True,
            "biases": True, "dropout": _dropout(f, ("hidden_dropout_prob", "attention_probs_dropout_prob"), 0.1),
            "position_embedding": "learned", "token_types": f.int("type_vocab_size", 2),
            "embed_norm": True, "final_norm": False, "pooler": True}


MAPPERS: dict[str, Callable[[HfFields], dict[str, Any]]] = {
    "llama": lambda f: _llama_like(f, "llama"),
    "mistral": lambda f: _llama_like(f, "mistral"),
    "qwen2": lambda f: _llama_like(f, "qwen2"),
    "gemma": lambda f: _llama_like(f, "gemma"),
    "phi3": lambda f: _llama_like(f, "phi3"),
    "gpt2": _gpt2,
    "opt": _opt,
    "gpt_neox": _gpt_neox,
    "falcon": _falcon,
    "bert": _bert,
}

# What every mapping starts from: the schema's neutral values for the features a family does not use.
BASE_FIELDS: dict[str, Any] = {
    "position_offset": 0, "embed_proj_dim": None, "token_types": 0, "embed_norm": False, "final_norm": True,
    "pooler": False, "vocab_pad_multiple": 1, "head_dim": None, "qkv_bias": None, "parallel_block": False,
    "shared_block_norm": False, "embed_scale": False, "rotary_fraction": 1.0, "tensor_parallel": True,
}


def read_hf_config(path: str) -> dict[str, Any]:
    """The JSON object in `path`; a missing or malformed file is a one-line ConfigError."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError("model.hf_config", path, "the path of an existing config.json file")
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("model.hf_config", path, f"a JSON file ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError("model.hf_config", path, "a JSON object (a Hugging Face config.json)")
    return data


def hf_model_fields(data: dict[str, Any], path: str) -> tuple[dict[str, Any], int | None]:
    """ModelConfig fields (all but name, hf_config and onnx_path) for one config.json's contents, and the
    sliding attention window (or None): a seq_len above it is unsupported (phaze/model/sources.py checks)."""
    f = HfFields(data, path)
    model_type = data.get("model_type")
    if model_type not in MAPPERS:
        raise ConfigError(f"model.hf_config ({path}): model_type", model_type, f"one of {', '.join(MAPPERS)}")
    fields = {**BASE_FIELDS, **MAPPERS[model_type](f)}
    return fields, fields.pop(SLIDING_WINDOW, None)


def hf_model_name(data: dict[str, Any], path: str) -> str:
    """`_name_or_path`'s last component if the file has one, else the folder holding the config.json."""
    name = data.get("_name_or_path")
    stem = Path(name).name if isinstance(name, str) and name else Path(path).resolve().parent.name
    return stem.replace("/", "_") or "hf"
