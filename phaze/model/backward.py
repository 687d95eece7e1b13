"""The backward graph of a forward layer, derived in reverse mode (`ForwardLayer.backward_graph` calls it).

The backward graph follows mechanically (DESIGN §3): every GEMM yields one gradient GEMM
per operand — dX `(B, N, C, M)` and dW `(1, C, M, B·N)` for weight GEMMs, both operand gradients for
activation x activation GEMMs — so backward GEMM MACs are exactly twice forward. Each dW is followed by
`<op>.dw_acc`, the add that accumulates it into the parameter's gradient across micro-batches (read the
accumulator and the new gradient, write the sum; charged on every micro-batch, as Megatron-LM's
`main_grad.add_` hook and PyTorch's AccumulateGrad do it); a compiler (`fused` kernels) folds it into the
GEMM, which then also reads the old gradient (a beta = 1 GEMM). Every vector op yields a
vector op priced by the backward column of the cycle table; a tensor read by several ops gets its
gradient contributions summed by an explicit add. Collectives map to their Megatron duals (see
grad_rules.py). Kept apart from the forward description (autograd.py) so these rules live in one place.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from phaze.model.grad_rules import Grad, Node
from phaze.model.ops import Collective, LayerGraph, Op, OpKind, Pass

if TYPE_CHECKING:  # annotation only (autograd imports this module)
    from phaze.model.autograd import ForwardLayer


class BackwardBuilder:
    """Reverse-mode derivation of a ForwardLayer (see module docstring)."""

    def __init__(self, layer: ForwardLayer) -> None:
        self.layer = layer
        self.ops: list[Op] = []
        self.edges: set[tuple[int, int]] = set()
        self.contributions: dict[str, list[frozenset[int]]] = {}
        self.consumers: dict[str, int] = {}
        self.regather: dict[str, int] = {}
        for node in layer.nodes:
            for t in node.inputs:
                self.consumers[t] = self.consumers.get(t, 0) + 1

    def _emit(self, op: Op, after: frozenset[int]) -> int:
        self.ops.append(op)
        idx = len(self.ops) - 1
        self.edges.update((i, idx) for i in after)
        return idx

    def _grad_of(self, tensor: str) -> frozenset[int]:
        """Ops whose completion makes d(tensor) available; sums several contributions with one add."""
        parts = self.contributions.get(tensor, [])
        if len(parts) <= 1:
            return parts[0] if parts else frozenset()
        if tensor in self.layer.concat_grads:
            idx = self._emit(Op(f"{tensor}.grad_concat", OpKind.NOP, Pass.BWD), frozenset().union(*parts))
            self.contributions[tensor] = [frozenset({idx})]
            return frozenset({idx})
        numel = self.layer.tensors[tensor].numel
        e = self.layer.elem_bytes
        acc = Op(f"{tensor}.grad_acc", OpKind.VECTOR, Pass.BWD, vector_ops=("add_sub_mul_neg",),
                 numel=numel, bytes_read=len(parts) * numel * e, bytes_written=numel * e)
        idx = self._emit(acc, frozenset().union(*parts))
        self.contributions[tensor] = [frozenset({idx})]
        return frozenset({idx})

    def _give(self, node: Node, grads: frozenset[int]) -> None:
        for t in node.inputs:
            if t in self.layer.no_grad_inputs:
                continue
            self.contributions.setdefault(t, []).append(grads)

    def build(self) -> LayerGraph:
        e = self.layer.elem_bytes
        for node in self.layer.nodes:  # re-gathers depend on nothing in backward: emit them first
            if node.grad is Grad.ALL_GATHER:
                op = node.op
                self.regather[op.name] = self._emit(
                    replace(op, name=f"{op.name}.regather", pass_=Pass.BWD, params=0, saves=()), frozenset())
        for node in reversed(self.layer.nodes):
            op = node.op
            dy = self._grad_of(op.name)
            rule = node.grad
            if rule is Grad.GEMM_WEIGHT:
                b, n, m, c = op.gemm  # type: ignore[misc]
                x = node.inputs[0]
                if x not in self.layer.no_grad_inputs:
                    dx = self._emit(Op(f"{op.name}.dx", OpKind.GEMM, Pass.BWD, gemm=(b, n, c, m), weight_gemm=True,
                                       bytes_read=(b * n * m + c * m) * e, bytes_written=b * n * c * e), dy)
                    self._give(node, frozenset({dx}))
                after = dy | ({self.regather[x]} if x in self.regather else set())
                dw = self._emit(Op(f"{op.name}.dw", OpKind.GEMM, Pass.BWD, gemm=(1, c, m, b * n),
                                   bytes_read=(b * n * c + b * n * m) * e, bytes_written=c * m * e), frozenset(after))
                self._emit(Op(f"{op.name}.dw_acc", OpKind.VECTOR, Pass.BWD, vector_ops=("add_sub_mul_neg",),
                              numel=c * m, bytes_read=2 * c * m * e, bytes_written=c * m * e), frozenset({dw}))
            elif rule is Grad.GEMM_ACT:
                b, n, m, c = op.gemm  # type: ignore[misc]
                core = op.attention_core
                da = self._emit(Op(f"{op.name}.da", OpKind.GEMM, Pass.BWD, gemm=(b, n, c, m), attention_core=core,
                                   bytes_read=(b * n * m + b * c * m) * e, bytes_written=b * n * c * e), dy)
                db = self._emit(Op(f"{op.name}.db", OpKind.GEMM, Pass.BWD, gemm=(b, c, m, n), attention_core=core,
                                   bytes_read=(b * n * c + b * n * m) * e, bytes_written=b * c * m * e), dy)
                a_name, b_name = node.inputs
                self.contributions.setdefault(a_name, []).append(frozenset({da}))
                self.contributions.setdefault(b_name, []).append(frozenset({db}))
            elif rule is Grad.VECTOR:
                # reads dy and what the forward saved for it (a norm its input, softmax its output, dropout its
                # 1-byte mask, scale + mask and RoPE nothing); writes a gradient per differentiable input
                k = sum(1 for t in node.inputs if t not in self.layer.no_grad_inputs)
                saved = sum(self.layer.tensors[t].bytes for t in op.saves)
                bwd = self._emit(replace(op, name=f"{op.name}.bwd", pass_=Pass.BWD, params=0, saves=(), mask_bytes=0,
                                         bytes_read=op.numel * e + saved, bytes_written=max(k, 1) * op.numel * e), dy)
                self._give(node, frozenset({bwd}))
            elif rule is Grad.BIAS:
                self._emit(Op(f"{op.name}.dbias", OpKind.VECTOR, Pass.BWD, vector_ops=("add_sub_mul_neg",),
                              numel=op.numel, bytes_read=op.numel * e), dy)
                self._give(node, dy)
            elif rule is Grad.PASS or rule is Grad.G_ALL_REDUCE:
                self._give(node, dy)
            elif rule is Grad.LOSS:
                bwd = self._emit(replace(op, name=f"{op.name}.bwd", pass_=Pass.BWD, params=0, saves=()), dy)
                self._give(node, frozenset({bwd}))
            elif rule in (Grad.F_IDENTITY, Grad.ALL_GATHER, Grad.REDUCE_SCATTER):
                dual = {Grad.F_IDENTITY: Collective.ALL_REDUCE, Grad.ALL_GATHER: Collective.REDUCE_SCATTER,
                        Grad.REDUCE_SCATTER: Collective.ALL_GATHER}[rule]
                bytes_ = op.comm_bytes or self.layer.tensors[op.name].bytes * op.group
                comm = self._emit(Op(f"{op.name}.bwd", OpKind.COLLECTIVE, Pass.BWD, collective=dual,
                                     comm_bytes=bytes_, group=op.group), dy)
                self._give(node, frozenset({comm}))
            elif rule is not Grad.NONE:
                raise ValueError(f"unknown gradient rule {rule}")
        for tensor in self.layer._grad_inputs():  # the layer's backward outputs: sum their contributions
            self._grad_of(tensor)
        return LayerGraph(self.layer.kind, Pass.BWD, self.ops, sorted(self.edges), dict(self.layer.tensors),
                          input_bytes=self.layer._bytes([self.layer.output]),
                          output_bytes=self.layer._bytes(self.layer._grad_inputs()))
