"""The gradient rules a forward layer is written in: `Grad`, and the `Node` (op, inputs, rule) carrying one.

Separate from the forward layer (autograd.py) and the backward derivation (backward.py) because both read
it: the layer files declare each node's rule, the derivation dispatches on it. Keeping it below both lets
imports flow one way: ops -> grad_rules -> backward -> autograd.

Collectives map to their Megatron duals (Shoeybi et al. 2019 f/g operators; Korthikanti et al. 2023 for
sequence parallelism): g (all-reduce) -> identity, f (identity) -> all-reduce, all-gather -> reduce-scatter
(plus a re-gather of the input for dW, because sequence parallelism keeps only the sharded input),
reduce-scatter -> all-gather.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from phaze.model.ops import Op


class Grad(StrEnum):
    """How a forward node propagates gradients."""

    GEMM_WEIGHT = "gemm_weight"  # X @ W: dX and dW
    GEMM_ACT = "gemm_act"  # A @ B, both activations: dA and dB
    VECTOR = "vector"  # a backward vector op producing every input's gradient
    BIAS = "bias"  # y = x + b: grad passes through; db is a reduction over tokens
    PASS = "pass"  # residual add, views: gradient flows unchanged, no work
    F_IDENTITY = "f_identity"  # Megatron f: identity forward, all-reduce backward
    G_ALL_REDUCE = "g_all_reduce"  # Megatron g: all-reduce forward, identity backward
    ALL_GATHER = "all_gather"  # sequence-parallel gather: reduce-scatter backward (+ re-gather)
    REDUCE_SCATTER = "reduce_scatter"  # sequence-parallel scatter: all-gather backward
    LOSS = "loss"  # starts the backward pass: no incoming gradient
    NONE = "none"  # no gradient flows (e.g. the embedding's weight update is its own op)


@dataclass(frozen=True)
class Node:
    op: Op
    inputs: tuple[str, ...]
    grad: Grad
    needs_grad: tuple[bool, ...] = ()  # per input; default: every input produced inside the layer or a layer input
