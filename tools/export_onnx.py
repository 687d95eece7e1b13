"""Export the small test models of tests/data/onnx/ with PyTorch (run once; PyTorch is not a phaze dependency).

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch onnx   # a CPU wheel is enough
    /tmp/torchenv/bin/python tools/export_onnx.py tests/data/onnx

Each model is written as `<name>.onnx` (torch.onnx.export, TorchScript exporter, opset ONNX_OPSET, eval mode,
fixed shapes batch 1 x seq_len, the training loss included) beside `<name>.json`, its generating config: the
hyper-parameters below and the phaze model fields that describe the same network for the analytic builder
(tests/test_model_import_onnx.py compares the two). The networks are written out here, in plain PyTorch,
as GPT-2 (Radford et al. 2019) and LLaMA (Touvron et al. 2023) define them: no `transformers` needed.
Weights are random (seeded) and tiny; only the graph matters.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

ONNX_OPSET = 18  # LayerNormalization (opset 17) is one op; later opsets add nothing these graphs use
SEED = 0

GPT2_CONFIG = {"name": "tiny_gpt2", "vocab": 256, "hidden": 64, "heads": 4, "layers": 2, "ffn": 256, "seq_len": 32,
        "max_positions": 32}
LLAMA_CONFIG = {"name": "tiny_llama", "vocab": 256, "hidden": 64, "heads": 4, "kv_heads": 2, "layers": 3, "ffn": 160,
         "seq_len": 32, "rope_theta": 10000.0}


class GPT2Attention(nn.Module):
    def __init__(self, h: int, heads: int, s: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(h, 3 * h)
        self.proj = nn.Linear(h, h)
        self.register_buffer("causal", torch.tril(torch.ones(s, s, dtype=torch.bool)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        q, k, v = self.qkv(x).split(h, dim=2)
        q, k, v = (t.view(b, s, self.heads, h // self.heads).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(h // self.heads)
        scores = scores.masked_fill(~self.causal[:s, :s], float("-inf"))
        ctx = scores.softmax(dim=-1) @ v
        return self.proj(ctx.transpose(1, 2).reshape(b, s, h))


class GPT2Block(nn.Module):
    def __init__(self, h: int, heads: int, ffn: int, s: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.attn = GPT2Attention(h, heads, s)
        self.fc1, self.fc2 = nn.Linear(h, ffn), nn.Linear(ffn, h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class GPT2(nn.Module):
    """GPT-2: learned positions, pre-LN blocks, final LayerNorm, LM head tied to the token embedding."""

    def __init__(self, c: dict) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(c["vocab"], c["hidden"]), nn.Embedding(c["max_positions"], c["hidden"])
        self.blocks = nn.ModuleList(GPT2Block(c["hidden"], c["heads"], c["ffn"], c["seq_len"])
                                    for _ in range(c["layers"]))
        self.ln_f = nn.LayerNorm(c["hidden"])
        self.register_buffer("positions", torch.arange(c["seq_len"]), persistent=False)

    def forward(self, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = self.wte(ids) + self.wpe(self.positions)
        for block in self.blocks:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))


class RMSNorm(nn.Module):
    """LLaMA's RMSNorm as its reference code writes it: x · rsqrt(mean(x²) + eps) · w."""

    def __init__(self, h: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(h)), eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, c: dict) -> None:
        super().__init__()
        h, self.heads, self.kv = c["hidden"], c["heads"], c["kv_heads"]
        self.d = h // self.heads
        self.q = nn.Linear(h, h, bias=False)
        self.k = nn.Linear(h, self.kv * self.d, bias=False)
        self.v = nn.Linear(h, self.kv * self.d, bias=False)
        self.o = nn.Linear(h, h, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        q = self.q(x).view(b, s, self.heads, self.d).transpose(1, 2)
        k = self.k(x).view(b, s, self.kv, self.d).transpose(1, 2)
        v = self.v(x).view(b, s, self.kv, self.d).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        group = self.heads // self.kv  # grouped-query attention: each kv head serves `group` query heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d) + mask
        ctx = scores.softmax(dim=-1) @ v
        return self.o(ctx.transpose(1, 2).reshape(b, s, h))


class LlamaBlock(nn.Module):
    def __init__(self, c: dict) -> None:
        super().__init__()
        h = c["hidden"]
        self.norm1, self.norm2 = RMSNorm(h), RMSNorm(h)
        self.attn = LlamaAttention(c)
        self.gate = nn.Linear(h, c["ffn"], bias=False)
        self.up = nn.Linear(h, c["ffn"], bias=False)
        self.down = nn.Linear(c["ffn"], h, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin, mask)
        y = self.norm2(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


class Llama(nn.Module):
    """LLaMA: RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention, untied LM head, no biases."""

    def __init__(self, c: dict) -> None:
        super().__init__()
        h, s = c["hidden"], c["seq_len"]
        self.embed = nn.Embedding(c["vocab"], h)
        self.blocks = nn.ModuleList(LlamaBlock(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(h)
        self.lm_head = nn.Linear(h, c["vocab"], bias=False)
        d = h // c["heads"]
        inv_freq = 1.0 / c["rope_theta"] ** (torch.arange(0, d, 2).float() / d)
        angles = torch.outer(torch.arange(s).float(), inv_freq)
        emb = torch.cat((angles, angles), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        mask = torch.full((s, s), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x, self.cos, self.sin, self.mask)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))


def phaze_fields(c: dict, family: str) -> dict:
    """The analytic builder's description of the same network (eval mode: no dropout)."""
    common = {"layers": c["layers"], "hidden": c["hidden"], "heads": c["heads"], "ffn": c["ffn"],
              "vocab": c["vocab"], "seq_len": c["seq_len"], "dropout": False}
    if family == "gpt2":
        return {**common, "family": "gpt2", "kv_heads": c["heads"], "max_positions": c["max_positions"],
                "norm": "layernorm", "activation": "gelu", "pre_ln": True, "tied_head": True, "biases": True,
                "position_embedding": "learned"}
    return {**common, "family": "llama", "kv_heads": c["kv_heads"], "max_positions": c["seq_len"], "norm": "rmsnorm",
            "activation": "swiglu", "pre_ln": True, "tied_head": False, "biases": False, "position_embedding": "rope"}


def export(model: nn.Module, c: dict, family: str, out: Path) -> None:
    model.eval()
    ids = torch.randint(0, c["vocab"], (1, c["seq_len"]))
    labels = torch.randint(0, c["vocab"], (1, c["seq_len"]))
    onnx_path = out / f"{c['name']}.onnx"
    torch.onnx.export(model, (ids, labels), str(onnx_path), input_names=["input_ids", "labels"],
                      output_names=["loss"], opset_version=ONNX_OPSET, dynamo=False, do_constant_folding=True)
    meta = {"config": c, "phaze_model": phaze_fields(c, family), "torch": torch.__version__, "opset": ONNX_OPSET,
            "exporter": "torch.onnx.export(dynamo=False)", "batch": 1,
            "params": sum(p.numel() for p in model.parameters())}
    (out / f"{c['name']}.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(f"{onnx_path}: {onnx_path.stat().st_size} bytes, {meta['params']} parameters")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/onnx")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    export(GPT2(GPT2_CONFIG), GPT2_CONFIG, "gpt2", out)
    torch.manual_seed(SEED)
    export(Llama(LLAMA_CONFIG), LLAMA_CONFIG, "llama", out)


if __name__ == "__main__":
    main()
