"""Forward graph construction: a layer kind described once, forward, in topological order.

A layer is described once, forward, as `Node`s: an `Op`, the activation tensors it consumes and a
gradient rule. The rules are in grad_rules.py; the backward graph follows from them mechanically and is
derived in backward.py, kept apart so the layer description stays small and the reverse-mode rules live
in one place. `ForwardLayer.backward_graph` is the way in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from phaze.model.backward import BackwardBuilder
from phaze.model.grad_rules import Grad, Node
from phaze.model.ops import LayerGraph, Op, Pass, Tensor


@dataclass
class ForwardLayer:
    """A layer kind under construction: nodes in topological order plus the tensors they save."""

    kind: str
    elem_bytes: int
    nodes: list[Node] = field(default_factory=list)
    tensors: dict[str, Tensor] = field(default_factory=dict)
    inputs: dict[str, int] = field(default_factory=dict)  # layer input tensor -> numel
    no_grad_inputs: set[str] = field(default_factory=set)
    concat_grads: set[str] = field(default_factory=set)  # gradients assembled from disjoint slices
    output: str = ""

    def tensor(self, name: str, numel: int, bytes_per_elem: int | None = None, selective: bool = False) -> str:
        self.tensors[name] = Tensor(name, numel, bytes_per_elem or self.elem_bytes, selective)
        return name

    def add(self, op: Op, inputs: tuple[str, ...], grad: Grad, out_numel: int | None = None) -> str:
        """Append a node; its output tensor is named after the op."""
        for name in inputs:
            if name not in self.tensors:
                raise KeyError(f"{self.kind}: op {op.name} reads unknown tensor {name}")
        self.nodes.append(Node(op, inputs, grad))
        if out_numel is not None:
            self.tensor(op.name, out_numel)
        return op.name

    def layer_input(self, name: str, numel: int, bytes_per_elem: int | None = None, grad: bool = True) -> str:
        self.inputs[name] = numel
        if not grad:
            self.no_grad_inputs.add(name)
        return self.tensor(name, numel, bytes_per_elem)

    def forward_graph(self) -> LayerGraph:
        producer = {node.op.name: i for i, node in enumerate(self.nodes)}
        edges = sorted({(producer[t], j) for j, node in enumerate(self.nodes) for t in node.inputs
                        if t in producer})
        return LayerGraph(self.kind, Pass.FWD, [n.op for n in self.nodes], edges, dict(self.tensors),
                          input_bytes=self._bytes(self._grad_inputs()), output_bytes=self._bytes([self.output]))

    def _grad_inputs(self) -> list[str]:
        return [name for name in self.inputs if name not in self.no_grad_inputs]

    def _bytes(self, names: list[str]) -> int:
        return sum(self.tensors[n].bytes for n in names if n in self.tensors)

    def backward_graph(self) -> LayerGraph:
        return BackwardBuilder(self).build()
