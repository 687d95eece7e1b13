"""The form an imported ONNX graph takes between reading (onnx_import.py) and replay: Steps per layer kind.

A Step is one op at micro-batch 1 and tensor width 1, with its tensor-parallel role once onnx_tp.py has matched
the Megatron pattern; `onnx_import.onnx_forward_layers` replays the Steps at any (micro-batch, width).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from phaze.model.grad_rules import Grad


@dataclass(frozen=True)
class Step:
    """One op of an imported layer at micro-batch 1; `onnx_forward_layers` scales and replays it."""

    kind: str  # gemm | vector | view | loss
    name: str
    inputs: tuple[str, ...]
    numel: int = 0
    dims: tuple[int, int, int, int] = (0, 0, 0, 0)
    weight: bool = False
    params: int = 0
    cycles: tuple[str, ...] = ()
    saves: tuple[str, ...] = ()
    grad: Grad = Grad.VECTOR
    selective: bool = False
    core: bool = False
    concat_grad: str = ""  # a view that is one slice of this tensor: its gradients are concatenated
    tp: str = ""  # tensor-parallel role (_tensor_parallel): col, row, shard, vocab, enter, leave; "" replicated


@dataclass
class ImportedLayer:
    kind: str
    count: int
    input: str
    input_numel: int
    input_is_ids: bool
    output: str
    steps: list[Step]


@dataclass
class ImportedModel:
    """What an ONNX file holds for phaze: three layer kinds at batch `batch` and the fields they imply."""

    path: str
    batch: int
    seq_len: int
    layers: dict[str, ImportedLayer]
    fields: dict[str, Any] = field(default_factory=dict)
