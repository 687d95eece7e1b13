"""Bytes per parameter the optimizer holds and touches (DESIGN §7): ZeRO's fused count, or Megatron-LM's.

Separate from the placement inputs (problem.py) because these are the cost model's sourced constants and
the one choice between them (`parallelism.optimizer` x `parallelism.kernels`); the placement only reads the
two numbers that come out.
"""

from __future__ import annotations

# Bytes of device memory per parameter for weights + gradients + optimizer state together. Mixed-precision
# Adam: fp16 weights 2 + fp16 gradients 2 + fp32 master weights, momentum and variance 12 (ZeRO,
# Rajbhandari et al. 2020 §3.1: "16Ψ"); SGD without momentum: fp16 weights 2 + gradients 2 (DESIGN §7).
BYTES_PER_PARAM = {"adam_mixed": 16.0, "sgd": 4.0}
# HBM bytes the optimizer step reads and writes per parameter (DESIGN §7). Adam: read the fp16 gradient 2,
# read+write fp32 master, m and v 3·(4+4) = 24, write the fp16 weight 2 -> 28. SGD: 8.
OPT_BYTES_TOUCHED_PER_PARAM = {"adam_mixed": 28.0, "sgd": 8.0}
# The same step as Megatron-LM's fp16 optimizer runs it (`parallelism.kernels=megatron_sc21`), one pass per
# kernel (megatron/optimizer/optimizer.py, Float16OptimizerWithFloat16Params.step): copy the fp16 gradient to
# an fp32 one (read 2, write 4), unscale it and check it for inf/nan (read 4, write 4), its norm for clipping
# (read 4), the fp32 optimizer itself (Adam: read gradient, master, m, v 4·4, write master, m, v 3·4 = 28;
# SGD: read gradient and master, write master = 12), copy the master weights to the fp16 ones (read 4,
# write 2), and zero the fp16 gradient buffer for the next iteration (write 2); plus, before the
# data-parallel all-reduce, the gradient buffer divided by d in place (megatron/model/distributed.py
# `buffer_.data /= data_parallel_world_size`: read 2, write 2): 28 + 30 and 12 + 30.
MEGATRON_SC21_OPT_BYTES_TOUCHED_PER_PARAM = {"adam_mixed": 58.0, "sgd": 42.0}
# Bytes held per parameter by Megatron-LM's fp16 optimizer: it keeps fp32 master weights for ANY optimizer
# (Float16OptimizerWithFloat16Params), so SGD holds fp16 weights 2 + fp16 gradients 2 + fp32 master 4;
# Adam adds m and v, 4 + 4, which is ZeRO's 16.
MEGATRON_SC21_BYTES_PER_PARAM = {"adam_mixed": 16.0, "sgd": 8.0}
# Gradients are all-reduced in fp16/bf16 across data-parallel replicas (mixed precision, Micikevicius
# et al. 2018).
GRAD_BYTES_PER_PARAM = 2.0


def bytes_per_param(optimizer: str, kernels: str) -> float:
    """Bytes held per parameter (weights, gradients, optimizer state): ZeRO's count, or Megatron-LM's."""
    return (MEGATRON_SC21_BYTES_PER_PARAM if kernels == "megatron_sc21" else BYTES_PER_PARAM)[optimizer]


def opt_bytes_touched_per_param(optimizer: str, kernels: str) -> float:
    """HBM bytes per parameter of one optimizer step: fused (one pass) or as Megatron-LM's kernels run it."""
    table = MEGATRON_SC21_OPT_BYTES_TOUCHED_PER_PARAM if kernels == "megatron_sc21" else OPT_BYTES_TOUCHED_PER_PARAM
    return table[optimizer]
