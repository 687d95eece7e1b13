"""The `megatron_sc21` kernel profile: a layer graph as the kernels Megatron-LM ran for Narayanan et al. SC21.

Used to validate the cost model against published GPU measurements (benchmarks/validate_megatron.py), so
it follows the software of that time (PyTorch ~1.8, Apex, fp16), kernel by kernel:

* only the fusions the paper lists (§4.2) merge ops (MEGATRON_SC21_KERNELS); every other op is a kernel
  of its own and makes its own round trip through HBM;
* kernels PyTorch launches that an accelerator compiler would not (COPIES_AFTER): the context layer's
  `permute(2, 0, 1, 3).contiguous()` back to [s, b, h] and, in backward, `baddbmm`'s `alpha` (1/sqrt(d))
  applied to both operand gradients as a multiply of its own (PyTorch's autograd formula);
* ops whose kernels move more bytes than the op's own inputs and outputs (BYTES_PER_ELEMENT): the
  vocab-parallel cross-entropy on `logits.float()`, Apex's layer-norm backward (two passes over dy and x:
  the partial gamma/beta gradients, then the input gradient) and the backward of the q/k/v split, a real
  `torch.cat`;
* the kernels run one after another in program order (`serialize`), as PyTorch issues them on one CUDA
  stream with the tensor-parallel all-reduces synchronous: nothing overlaps a collective (overlapping it
  with the weight-gradient GEMM came in later Megatron-LM releases).

The QKV bias is a kernel of its own too: `F.linear` on a 3-D input is `matmul` then `output += bias`
(PyTorch fuses the bias into the GEMM for 2-D inputs only); Megatron-LM defers the other linear layers'
biases into the fused kernels above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from phaze.model.fusion import fuse_groups, out_numel, serialize
from phaze.model.layers import LOSS_ELEM_BYTES
from phaze.model.ops import LayerGraph, Op, OpKind, Pass

# Narayanan et al. SC21 §4.2 ("Operator Fusion"): Megatron-LM fuses (1) bias + GeLU, (2) bias + dropout +
# add and (3) scale + mask + softmax, forward and backward. Op names are those of phaze/model/block.py (the
# softmax backward kernel yields the scores' gradient).
MEGATRON_SC21_KERNELS = (
    ("scale_mask", "softmax"),
    ("attn.bias", "attn.dropout", "attn.residual"),
    ("fc1.bias", "gelu"),
    ("mlp.bias", "mlp.dropout", "mlp.residual"),
    ("softmax.bwd", "scale_mask.bwd"),
)

# op name -> the element-wise kernel PyTorch runs right after it, over the op's output (read it, write it)
COPIES_AFTER = {
    Pass.FWD: {"context": "context.permute"},
    Pass.BWD: {"scores.da": "scores.da.alpha", "scores.db": "scores.db.alpha"},
}

def _cross_entropy(e: int, f: int) -> tuple[int, int]:
    """Forward, per logit: cast (read e, write f), max (read f), subtract the max (f, f), exp (f, f), sum
    (read f), divide by the sum, keeping the softmax (f, f) (mpu/cross_entropy.py)."""
    return e + 5 * f, 4 * f


def _cross_entropy_bwd(e: int, f: int) -> tuple[int, int]:
    """Backward, per logit: multiply the softmax minus one-hot by the loss gradient (f, f), then the cast's
    backward back to the activation type (read f, write e)."""
    return 2 * f, f + e


def _layernorm_bwd(e: int, f: int) -> tuple[int, int]:
    """Apex's backward reads dy and x twice (cuComputePartGradGammaBeta, then cuComputeGradInput) and
    writes dx once, per element."""
    return 4 * e, e


def _concat(e: int, f: int) -> tuple[int, int]:
    """`torch.cat` of the q, k and v gradients: each element read and written once."""
    return e, e


# (pass, op name) -> bytes (read, written) per element of the op, from (activation bytes e, fp32 bytes f);
# the loss works on fp32 logits (Megatron-LM gpt_model.py: `output.float()`, LOSS_ELEM_BYTES)
BYTES_PER_ELEMENT: dict[tuple[Pass, str], Callable[[int, int], tuple[int, int]]] = {
    (Pass.FWD, "cross_entropy"): _cross_entropy,
    (Pass.BWD, "cross_entropy.bwd"): _cross_entropy_bwd,
    **{(Pass.BWD, f"{norm}.bwd"): _layernorm_bwd for norm in ("ln1", "ln2", "final_norm", "embed_norm")},
    (Pass.BWD, "qkv.bias.grad_concat"): _concat,
}


def _numel(layer: LayerGraph, op: Op) -> int:
    """Elements an op's kernel writes; a gradient concat's are its tensor's (the NOP carries none)."""
    if op.name.endswith(".grad_concat"):
        return layer.tensors[op.name.removesuffix(".grad_concat")].numel
    return out_numel(op)


def _rebyte(layer: LayerGraph, e: int) -> LayerGraph:
    """Price the ops of BYTES_PER_ELEMENT by the bytes their kernels move (a NOP concat becomes a copy)."""
    ops = []
    for op in layer.ops:
        rule = BYTES_PER_ELEMENT.get((op.pass_, op.name))
        if rule is not None:
            numel = _numel(layer, op)
            read, written = rule(e, LOSS_ELEM_BYTES)
            kind, cycles = (OpKind.VECTOR, op.vector_ops or ("add_sub_mul_neg",)) \
                if op.kind is OpKind.NOP else (op.kind, op.vector_ops)
            op = replace(op, kind=kind, vector_ops=cycles, numel=numel, bytes_read=numel * read,
                         bytes_written=numel * written)
        ops.append(op)
    return LayerGraph(layer.kind, layer.pass_, ops, layer.edges, layer.tensors, layer.input_bytes,
                      layer.output_bytes)


def _insert_copies(layer: LayerGraph, e: int) -> LayerGraph:
    """Insert each COPIES_AFTER kernel right after its op: it reads the op's output and writes it again,
    and the op's consumers now wait for it."""
    after = COPIES_AFTER[layer.pass_]
    ops: list[Op] = []
    index: dict[int, int] = {}  # old op index -> index of the op that now delivers its output
    host: dict[int, int] = {}  # old op index -> its own new index
    for i, op in enumerate(layer.ops):
        host[i] = len(ops)
        ops.append(op)
        index[i] = host[i]
        if op.name in after:
            numel = _numel(layer, op)
            ops.append(Op(after[op.name], OpKind.VECTOR, layer.pass_, vector_ops=("add_sub_mul_neg",),
                          numel=numel, bytes_read=numel * e, bytes_written=numel * e))
            index[i] = len(ops) - 1
    edges = {(index[a], host[b]) for a, b in layer.edges}
    edges |= {(host[i], index[i]) for i in host if index[i] != host[i]}
    return LayerGraph(layer.kind, layer.pass_, ops, sorted(edges), layer.tensors, layer.input_bytes,
                      layer.output_bytes)


def megatron_sc21(layer: LayerGraph, elem_bytes: int) -> LayerGraph:
    """`layer` as the kernels Megatron-LM ran (module docstring), in program order."""
    grouped = fuse_groups(layer, MEGATRON_SC21_KERNELS)
    return serialize(_insert_copies(_rebyte(grouped, elem_bytes), elem_bytes))
