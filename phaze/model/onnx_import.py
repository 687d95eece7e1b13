"""An ONNX export (`torch.onnx.export`) read into phaze's layer kinds: `model=onnx model.onnx_path=PATH`.

The path for models that are not plain transformers: the user exports on their own machine, phaze reads
the file with the `onnx` package and its shape inference (static shapes; a symbolic batch dimension is
fixed to 1), and needs neither torch nor a GPU. The steps, each a function below:

1. data flow (`_DataFlow`): a tensor is *data* if it depends on the first graph input (the token ids) other
   than through `Shape`; every other node (Constant, shape arithmetic, folded tables) is a constant and
   costs nothing. Other graph inputs (labels) are constants too.
2. layers (`_segments`, `_find_blocks`): the data nodes are cut wherever exactly one data tensor is live;
   the longest run of periodically repeated segments is the block x L, what precedes it the embed and
   what follows the head. Each block instance must carry the same ops, shapes and weight shapes.
3. ops (`_Converter`): MatMul/Gemm become GEMMs (B, N, M, C) (a constant operand is a weight; both operands
   data is an activation GEMM); element-wise ops, norms, Softmax and the loss become vector ops with the
   tensors their backward needs saved; layout ops are free views (Reshape, Flatten, Squeeze, Unsqueeze,
   Identity, Slice, Split), folded into the GEMM that reads them (Transpose, Expand, Tile feeding only
   GEMMs: a stride or a broadcast), or memory-moving copies otherwise (Transpose, Concat, Tile, Expand,
   Gather on activations: bytes, no compute cycles). The decompositions torch writes for RMSNorm
   (Pow, ReduceMean, Add, Sqrt, Div/Reciprocal, Mul), the erf GeLU and SiLU (Sigmoid, Mul) are recognised
   and kept as one op, as the analytic builder has them.
4. parameters: a constant is a parameter when it is a GEMM weight, a Gather table, a norm's scale or bias,
   a 1-D bias or scale on an activation, or (embed only) a table added to the embedding (a learned position
   table that torch's constant folding pre-gathered: only the rows the export's sequence uses remain). A
   GEMM weight equal to the transpose of the embedding table is the tied LM head (no parameters of its own).
5. `onnx_forward_layers` replays the ops at micro-batch b (every count but the parameters scales with the
   batch) with the builder's own LayerOps, so bytes, saves and the backward follow the same rules
   (backward.py derives the backward).

Tensor parallelism where the graph matches Megatron-LM's pattern (onnx_tp.py): column-parallel GEMMs, per-head
ops, one row-parallel GEMM per region; vocab-parallel embedding and head. Otherwise the model runs at tensor
width 1 (model.tensor_parallel=false), said on the inspect summary's `model source` line.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import lru_cache
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

from phaze.config.errors import ConfigError
from phaze.model.autograd import ForwardLayer
from phaze.model.grad_rules import Grad
from phaze.model.layers import CE_ALL_REDUCES, LOSS_ELEM_BYTES, TOKEN_ID_BYTES, LayerOps, Shape
from phaze.model.onnx_steps import ImportedLayer, ImportedModel, Step
from phaze.model.onnx_tp import tensor_parallel
from phaze.model.ops import Collective, Op, OpKind

FIELD = "model.onnx_path"
GEMM_OPS = frozenset({"MatMul", "Gemm"})
VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
FOLDABLE_OPS = frozenset({"Transpose", "Expand", "Tile"})  # free when every reader is a GEMM, else a copy
COPY_OPS = frozenset({"Concat", "Gather", "GatherElements"}) | FOLDABLE_OPS
NORM_OPS = {"LayerNormalization": "layernorm", "RMSNormalization": "rmsnorm", "SimplifiedLayerNormalization": "rmsnorm"}
# op type -> (cycle-table key of phaze/data/vector_cycles.csv, what its backward reads: "in", "out" or "")
UNARY = {
    "Relu": ("relu", "in"), "Gelu": ("gelu", "in"), "Erf": ("erf", "in"), "Tanh": ("tanh", "out"),
    "Sigmoid": ("sigmoid_silu", "out"), "Exp": ("pow_sqrt_exp", "out"), "Sqrt": ("pow_sqrt_exp", "out"),
    "Reciprocal": ("div", "out"), "Log": ("pow_sqrt_exp", "in"), "Neg": ("add_sub_mul_neg", ""),
    "Cast": ("add_sub_mul_neg", ""), "Softmax": ("softmax", "out"), "LogSoftmax": ("log_softmax", "out"),
    "ReduceMean": ("mean", ""), "ReduceSum": ("mean", ""), "Abs": ("add_sub_mul_neg", "in"),
    "Dropout": ("dropout", ""), "Pow": ("pow_sqrt_exp", "in"),
}
BINARY = {"Add": "add_sub_mul_neg", "Sub": "add_sub_mul_neg", "Mul": "add_sub_mul_neg", "Div": "div",
          "Where": "masked_fill", "Max": "add_sub_mul_neg", "Min": "add_sub_mul_neg"}
LOSS_OPS = frozenset({"SoftmaxCrossEntropyLoss"})
SIDE_OPS = frozenset({"Shape", "Size"})  # static shapes: their outputs are constants


def _onnx() -> Any:
    import onnx  # the onnx package loads only for model=onnx

    return onnx


def _dims(onnx: Any, value_type: Any) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in value_type.tensor_type.shape.dim]


def _load(path: str) -> Any:
    """The model with static shapes inferred; a symbolic leading dimension of the inputs is fixed to 1."""
    onnx = _onnx()
    file = Path(path)
    if not file.is_file():
        raise ConfigError(FIELD, path, "the path of an existing .onnx file (torch.onnx.export)")
    try:
        model = onnx.load(str(file))
    except Exception as exc:  # protobuf's DecodeError and friends: the file is not an ONNX model
        raise ConfigError(FIELD, path, f"an ONNX model file ({type(exc).__name__}: not a ModelProto)") from None
    if not model.graph.node or not model.graph.input:
        raise ConfigError(FIELD, path, "an ONNX model with nodes and inputs (the file holds an empty graph)")
    for inp in model.graph.input:
        shape = inp.type.tensor_type.shape.dim
        for i, d in enumerate(shape):
            if not d.HasField("dim_value"):
                if i == 0:
                    d.dim_value = 1
                else:
                    raise ConfigError(FIELD, path, f"an export with fixed shapes: input {inp.name} dimension {i} is "
                                      f"symbolic ({d.dim_param or '?'}); export with a fixed sequence length")
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:
        raise ConfigError(FIELD, path, f"a model ONNX shape inference accepts ({str(exc).splitlines()[0]})") from None


class _DataFlow:
    """Shapes, constants and the data/constant split of one graph (step 1 of the module doc)."""

    def __init__(self, model: Any, path: str) -> None:
        onnx = _onnx()
        from onnx import numpy_helper

        g = model.graph
        self.path = path
        self.shapes: dict[str, list[int | str]] = {}
        for v in list(g.value_info) + list(g.input) + list(g.output):
            self.shapes[v.name] = _dims(onnx, v.type)
        self.values: dict[str, np.ndarray] = {}
        for init in g.initializer:
            self.values[init.name] = numpy_helper.to_array(init)
            self.shapes[init.name] = list(init.dims)
        init_names = set(self.values)
        self.ids = g.input[0].name
        self.side_inputs = {i.name for i in g.input[1:] if i.name not in init_names}
        self.data: set[str] = {self.ids}
        self.nodes = list(g.node)
        self.origin: dict[str, str] = {name: name for name in init_names}  # constant -> the stored tensor it is
        for node in self.nodes:
            if node.op_type == "Constant":
                for a in node.attribute:
                    if a.name == "value":
                        self.values[node.output[0]] = numpy_helper.to_array(a.t)
                        self.shapes[node.output[0]] = list(a.t.dims)
                        self.origin[node.output[0]] = node.output[0]
                continue
            if node.op_type not in SIDE_OPS and any(i in self.data for i in node.input if i):
                self.data.update(o for o in node.output if o)
            elif len(node.input) >= 1 and node.input[0] in self.origin:
                src = node.input[0]
                if node.op_type in ("Transpose", "Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten"):
                    self.origin[node.output[0]] = self.origin[src]
                elif node.op_type == "Identity":  # torch shares equal-valued initializers through Identity
                    self.origin[node.output[0]] = node.output[0]
                    self.values[node.output[0]] = self.values.get(src, np.zeros(0))
        self.data_nodes = [n for n in self.nodes if n.op_type != "Constant" and any(o in self.data for o in n.output)]
        for node in self.data_nodes:
            for out in node.output:
                shape = self.shapes.get(out)
                if out and (shape is None or not all(isinstance(d, int) for d in shape)):
                    raise ConfigError(FIELD, path, f"static shapes: node {node.name or node.op_type} ({node.op_type}) "
                                      f"output {out} has shape {shape} after shape inference")

    def numel(self, name: str) -> int:
        if name not in self.shapes and name in self.values:
            return int(self.values[name].size)
        return int(prod(self.shapes[name]))  # type: ignore[arg-type]

    def is_data(self, name: str) -> bool:
        return name in self.data

    def attr(self, node: Any, name: str, default: Any) -> Any:
        onnx = _onnx()
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default


def _segments(df: _DataFlow) -> tuple[list[list[Any]], list[str]]:
    """Data nodes split where exactly one data tensor is live; returns the segments and the tensor live after
    each (step 2 of the module doc)."""
    last_use: dict[str, int] = {}
    for i, node in enumerate(df.data_nodes):
        for t in node.input:
            if t in df.data:
                last_use[t] = i
    live: set[str] = {df.ids}
    segments: list[list[Any]] = [[]]
    cuts: list[str] = []
    for i, node in enumerate(df.data_nodes):
        segments[-1].append(node)
        live.update(o for o in node.output if o in df.data and last_use.get(o, -1) > i)
        live = {t for t in live if last_use.get(t, -1) > i}
        if len(live) == 1 and i < len(df.data_nodes) - 1:
            cuts.append(next(iter(live)))
            segments.append([])
    return segments, cuts


def _signature(df: _DataFlow, seg: list[Any]) -> tuple:
    def inputs(node: Any) -> tuple:
        return tuple((tuple(df.shapes.get(t, ())), t in df.data) for t in node.input if t)

    return tuple((n.op_type, inputs(n), tuple(tuple(df.shapes.get(o, ())) for o in n.output if o)) for n in seg)


def _find_blocks(df: _DataFlow, segments: list[list[Any]]) -> tuple[int, int, int]:
    """(start, period, repeats) of the longest periodic run of segments with at least two repeats."""
    sigs = [_signature(df, s) for s in segments]
    best: tuple[int, int, int] | None = None
    n = len(sigs)
    for period in range(1, n // 2 + 1):
        for start in range(n - 2 * period + 1):
            k = 1
            while start + (k + 1) * period <= n and sigs[start + k * period:start + (k + 1) * period] == \
                    sigs[start:start + period]:
                k += 1
            if k >= 2 and (best is None or k * period > best[2] * best[1]):
                best = (start, period, k)
    if best is None:
        raise ConfigError(FIELD, df.path, "a model with at least two identical transformer-style blocks (none "
                          "repeats; export with 2 or more layers)")
    return best


class _Converter:
    """ONNX nodes of one layer kind -> Steps (step 3 of the module doc)."""

    def __init__(self, df: _DataFlow, counted: set[str], kind: str, seq_len: int) -> None:
        self.df, self.counted, self.kind, self.seq_len = df, counted, kind, seq_len
        self.alias: dict[str, str] = {}
        self.steps: list[Step] = []
        self.consumers: dict[str, list[Any]] = {}
        for node in df.data_nodes:
            for t in node.input:
                self.consumers.setdefault(t, []).append(node)
        self.tables: list[tuple[str, np.ndarray]] = []  # (origin, values) of the Gather tables: the tied-head check
        self.tied = False
        self.view_shapes: dict[str, list[list[int]]] = {}  # tensor -> the shapes it is viewed as (head counts)
        self.norm = ""
        self.activation = ""
        self.biases = False

    # -- helpers -------------------------------------------------------------------------------------------
    def base(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def _data_inputs(self, node: Any) -> list[str]:
        return [t for t in node.input if t and self.df.is_data(t)]

    def _const_inputs(self, node: Any) -> list[str]:
        return [t for t in node.input if t and not self.df.is_data(t)]

    def _param(self, name: str) -> int:
        """Parameters constant `name` adds the first time it is used as a parameter."""
        origin = self.df.origin.get(name, name)
        if origin in self.counted or origin in self.df.side_inputs:
            return 0
        self.counted.add(origin)
        return self.df.numel(name)

    def _core(self, names: list[str]) -> bool:
        s = self.seq_len
        return any(len(self.df.shapes.get(n, ())) >= 2 and list(self.df.shapes[n][-2:]) == [s, s] for n in names)

    def _only_gemm_readers(self, name: str) -> bool:
        readers = self.consumers.get(name, [])
        for node in readers:
            if node.op_type in GEMM_OPS:
                continue
            if node.op_type in VIEW_OPS | FOLDABLE_OPS and all(self._only_gemm_readers(o) for o in node.output if o):
                continue
            return False
        return bool(readers)

    def _consumer_ops(self, name: str) -> list[Any]:
        return self.consumers.get(name, [])

    def _producer(self, name: str) -> Any:
        return self._producers.get(name)

    # -- patterns -------------------------------------------------------------------------------------------
    def _fuse_patterns(self, nodes: list[Any]) -> dict[int, tuple[str, Any]]:
        """Recognised decompositions: first node index -> (pattern, details); their other nodes map to 'skip'."""
        self._producers = {o: n for n in self.df.data_nodes for o in n.output}
        index = {id(n): i for i, n in enumerate(nodes)}
        out: dict[int, tuple[str, Any]] = {}

        def single(name: str, op: str) -> Any:
            readers = self._consumer_ops(name)
            return readers[0] if len(readers) == 1 and readers[0].op_type == op and id(readers[0]) in index else None

        for i, node in enumerate(nodes):
            if i in out:
                continue
            if node.op_type == "Pow" and self._scalar(node.input[1]) == 2.0:  # RMSNorm: x·rsqrt(mean(x²)+eps)·w
                x = node.input[0]
                mean = single(node.output[0], "ReduceMean")
                add = mean and single(mean.output[0], "Add")
                sqrt = add and single(add.output[0], "Sqrt")
                if not sqrt:
                    continue
                inv = single(sqrt.output[0], "Reciprocal") or single(sqrt.output[0], "Div")
                mul = inv and single(inv.output[0], "Mul")
                if not mul or x not in mul.input:
                    continue
                chain = [node, mean, add, sqrt, inv, mul]
                scale = single(mul.output[0], "Mul")
                weight = None
                if scale is not None:
                    consts = self._const_inputs(scale)
                    if len(consts) == 1 and len(self.df.shapes.get(consts[0], ())) == 1:
                        chain.append(scale)
                        weight = consts[0]
                self._mark(out, index, chain, ("rmsnorm", (x, chain[-1].output[0], weight)))
            elif node.op_type == "Erf":  # GeLU: x · 0.5 · (1 + erf(x / sqrt 2))
                div = self._producer(node.input[0])
                if div is None or div.op_type not in ("Div", "Mul") or id(div) not in index:
                    continue
                x = self._data_inputs(div)[0]
                add = single(node.output[0], "Add")
                mul = add and single(add.output[0], "Mul")
                if not mul or x not in mul.input:
                    continue
                chain = [div, node, add, mul]
                half = single(mul.output[0], "Mul")
                if half is not None and not self._data_inputs(half)[1:]:
                    chain.append(half)
                self._mark(out, index, chain, ("gelu", (x, chain[-1].output[0])))
            elif node.op_type == "Sigmoid":  # SiLU: x · sigmoid(x)
                x = node.input[0]
                mul = single(node.output[0], "Mul")
                if mul and x in mul.input:
                    self._mark(out, index, [node, mul], ("silu", (x, mul.output[0])))
        return out

    def _mark(self, out: dict[int, tuple[str, Any]], index: dict[int, int], chain: list[Any],
              pattern: tuple[str, Any]) -> None:
        positions = sorted(index[id(n)] for n in chain)
        out[positions[-1]] = pattern
        for p in positions[:-1]:
            out[p] = ("skip", None)

    def _scalar(self, name: str) -> float | None:
        value = self.df.values.get(name)
        return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None

    # -- conversion -----------------------------------------------------------------------------------------
    def convert(self, nodes: list[Any]) -> list[Step]:
        patterns = self._fuse_patterns(nodes)
        for i, node in enumerate(nodes):
            pattern = patterns.get(i)
            if pattern is None:
                self._node(node)
            elif pattern[0] != "skip":
                self._pattern(*pattern)
        return self.steps

    def _pattern(self, kind: str, details: Any) -> None:
        if kind == "rmsnorm":
            x, y, weight = details
            params = self._param(weight) if weight else 0
            self.norm = "rmsnorm"
            self._vector(y, (x,), y, ("rmsnorm",), saves=(x,), params=params)
        else:
            x, y = details
            cycles = "gelu" if kind == "gelu" else "sigmoid_silu"
            self.activation = self.activation or kind
            self._vector(y, (x,), y, (cycles,), saves=(x,))

    def _vector(self, name: str, inputs: tuple[str, ...], out: str, cycles: tuple[str, ...],
                saves: tuple[str, ...] = (), params: int = 0, grad: Grad = Grad.VECTOR) -> None:
        ins = tuple(self.base(t) for t in inputs)
        core = self._core([out, *inputs])
        selective = core and any(s == out for s in saves)
        self.steps.append(Step("vector", out, ins, numel=self.df.numel(out), cycles=cycles,
                               saves=tuple(self.base(s) for s in saves), params=params, grad=grad,
                               selective=selective, core=core))

    def _node(self, node: Any) -> None:
        op, df = node.op_type, self.df
        data = self._data_inputs(node)
        consts = self._const_inputs(node)
        out = node.output[0]
        if op in VIEW_OPS or (op in FOLDABLE_OPS and self._only_gemm_readers(out)):
            self.alias[out] = data[0]
            self.view_shapes.setdefault(self.base(out), []).append(list(df.shapes[out]))  # type: ignore[arg-type]
        elif op == "Slice":
            self.steps.append(Step("view", out, (self.base(data[0]),), numel=df.numel(out)))
        elif op == "Split":
            src = self.base(data[0])
            for o in node.output:
                self.steps.append(Step("view", o, (src,), numel=df.numel(o), concat_grad=src))
        elif op in GEMM_OPS:
            self._gemm(node, data, consts)
        elif op in NORM_OPS:
            params = sum(self._param(c) for c in consts)
            self.norm = NORM_OPS[op]
            self._vector(out, (data[0],), out, (NORM_OPS[op],), saves=(data[0],), params=params)
        elif op == "Gather" and not df.is_data(node.input[0]):  # an embedding lookup
            table = node.input[0]
            self.tables.append((df.origin.get(table, table), df.values.get(table, np.zeros(0))))
            self.steps.append(Step("vector", out, (self.base(node.input[1]),), numel=df.numel(out),
                                   saves=(self.base(node.input[1]),), params=self._param(table)))
        elif op in COPY_OPS:
            self._vector(out, tuple(data), out, (), grad=Grad.PASS)
        elif op in LOSS_OPS:
            logits = data[0]
            rows = df.numel(logits) // int(df.shapes[logits][-1])  # type: ignore[arg-type]
            self.steps.append(Step("loss", out, (self.base(logits),), numel=df.numel(logits), dims=(rows, 0, 0, 0)))
        elif op in BINARY:
            self._binary(node, data, consts)
        elif op in UNARY:
            cycles, saved = UNARY[op]
            if op == "Relu":
                self.activation = self.activation or "relu"
            if op == "Gelu":
                self.activation = self.activation or "gelu"
            saves = (data[0],) if saved == "in" else (out,) if saved == "out" else ()
            self._vector(out, (data[0],), out, (cycles,), saves=saves)
        else:
            raise ConfigError(FIELD, df.path, f"ops phaze can import; node {node.name or out} is {op} (supported: "
                              "MatMul, Gemm, element-wise, normalisation, Softmax, layout ops, "
                              "SoftmaxCrossEntropyLoss; see docs/models.md)")

    def _binary(self, node: Any, data: list[str], consts: list[str]) -> None:
        op, out = node.op_type, node.output[0]
        cycles = (BINARY[op],)
        if len(data) >= 2:
            grad = Grad.PASS if op == "Add" else Grad.VECTOR
            saves = tuple(data) if op in ("Mul", "Div") else ()
            self._vector(out, tuple(data), out, cycles, saves=saves, grad=grad)
            return
        const = consts[0] if consts else ""
        shape = self.df.shapes.get(const, [])
        is_float = const in self.df.values and self.df.values[const].dtype.kind == "f"
        size = int(prod(shape)) if shape else 1
        last = self.df.shapes[data[0]][-1] if self.df.shapes[data[0]] else 0
        if op in ("Add", "Mul") and is_float and len(shape) == 1 and size == last and size > 1:  # bias or scale
            params = self._param(const)
            if op == "Add":
                self.biases = self.biases or params > 0
                self.steps.append(Step("vector", out, (self.base(data[0]),), numel=self.df.numel(out),
                                       cycles=cycles, params=params, grad=Grad.BIAS))
            else:
                self._vector(out, (data[0],), out, cycles, saves=(data[0],), params=params)
        elif op == "Add" and is_float and self.kind == "embed" and len(shape) >= 2:  # a learned position table
            table = f"{out}.table"
            self.steps.append(Step("vector", table, (), numel=self.df.numel(out), params=self._param(const)))
            self.steps.append(Step("vector", out, (self.base(data[0]), table), numel=self.df.numel(out),
                                   cycles=cycles, grad=Grad.PASS))
        else:  # scaling, masking, rotary tables: constants, nothing saved
            self._vector(out, (data[0],), out, cycles, grad=Grad.PASS if op in ("Add", "Sub") else Grad.VECTOR)

    def _gemm(self, node: Any, data: list[str], consts: list[str]) -> None:
        df, out = self.df, node.output[0]
        a = node.input[0]
        b = node.input[1]
        a_shape, out_shape = df.shapes[a], df.shapes[out]
        trans_a = node.op_type == "Gemm" and self.df.attr(node, "transA", 0)
        c = int(a_shape[-2] if trans_a else a_shape[-1])  # type: ignore[arg-type]
        m = int(out_shape[-1])  # type: ignore[arg-type]
        if df.is_data(a) and df.is_data(b):
            batch = int(prod(out_shape[:-2]))  # type: ignore[arg-type]
            n = int(out_shape[-2])  # type: ignore[arg-type]
            self.steps.append(Step("gemm", out, (self.base(a), self.base(b)), dims=(batch, n, m, c), weight=False,
                                   saves=(self.base(a), self.base(b)), core=self._core([a, b, out])))
        else:
            x, w = (a, b) if df.is_data(a) else (b, a)
            n = int(prod(out_shape[:-1]))  # type: ignore[arg-type]
            self.steps.append(Step("gemm", out, (self.base(x),), dims=(1, n, m, c), weight=True,
                                   params=0 if self._tied(w) else self._param(w), saves=(self.base(x),)))
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:  # C: the builder's separate bias op
            params = self._param(node.input[2])
            self.biases = self.biases or params > 0
            self.steps[-1] = replace(self.steps[-1], name=f"{out}.gemm")
            self.steps.append(Step("vector", out, (f"{out}.gemm",), numel=df.numel(out), cycles=("add_sub_mul_neg",),
                                   params=params, grad=Grad.BIAS))

    def _tied(self, weight: str) -> bool:
        """A weight equal to the transpose (or copy) of an embedding table already counted: the tied head."""
        value = self.df.values.get(weight)
        origin = self.df.origin.get(weight, weight)
        for table_origin, table in self.tables:
            same = origin == table_origin or (value is not None and value.ndim == 2 and (
                (table.shape == value.T.shape and np.array_equal(table, value.T))
                or (table.shape == value.shape and np.array_equal(table, value))))
            if same:
                self.tied = True
                return True
        return False


def _file_key(path: str) -> tuple[str, str]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(FIELD, path, "the path of an existing .onnx file (torch.onnx.export)")
    return str(file.resolve()), hashlib.sha256(file.read_bytes()).hexdigest()


def import_onnx(path: str) -> ImportedModel:
    """The three layer kinds of the ONNX file at `path` (cached on its content)."""
    return _import(*_file_key(path), path)


@lru_cache(maxsize=8)
def _import(resolved: str, digest: str, path: str) -> ImportedModel:
    df = _DataFlow(_load(resolved), path)
    ids_shape = df.shapes[df.ids]
    if len(ids_shape) != 2:
        raise ConfigError(FIELD, path, f"a first input of shape [batch, seq] (token ids), not {ids_shape}")
    batch, seq_len = int(ids_shape[0]), int(ids_shape[1])  # type: ignore[arg-type]
    segments, cuts = _segments(df)
    start, period, repeats = _find_blocks(df, segments)
    groups = {"embed": [n for s in segments[:start] for n in s],
              "block": [n for s in segments[start:start + period] for n in s],
              "head": [n for s in segments[start + repeats * period:] for n in s]}
    if not groups["embed"] or not groups["head"]:
        raise ConfigError(FIELD, path, "an embedding before and a head after the repeated blocks")
    inputs = {"embed": df.ids, "block": cuts[start - 1], "head": cuts[start + repeats * period - 1]}
    outputs = {"embed": cuts[start - 1], "block": cuts[start + period - 1], "head": ""}
    counted: set[str] = set()
    layers: dict[str, ImportedLayer] = {}
    tables: list[tuple[str, np.ndarray]] = []
    info: dict[str, Any] = {"norm": "", "activation": "", "biases": False, "tied": False}
    views: dict[str, list[list[int]]] = {}
    for kind in ("embed", "block", "head"):
        conv = _Converter(df, counted, kind, seq_len)
        conv.tables = tables
        steps = conv.convert(groups[kind])
        views.update(conv.view_shapes)
        out = outputs[kind] or (steps[-1].name if steps else "")
        layers[kind] = ImportedLayer(kind, repeats if kind == "block" else 1, inputs[kind], df.numel(inputs[kind]),
                                     kind == "embed", conv.base(out), steps)
        info["norm"] = info["norm"] or conv.norm
        info["activation"] = info["activation"] or conv.activation
        info["biases"] = info["biases"] or (conv.biases and kind == "block")
        info["tied"] = info["tied"] or conv.tied
    if not any(s.kind == "loss" for s in layers["head"].steps):
        raise ConfigError(FIELD, path, "an export that includes the training loss (SoftmaxCrossEntropyLoss on the "
                          "logits and labels; see tools/export_onnx.py)")
    hidden = int(df.shapes[inputs["block"]][-1])  # type: ignore[arg-type]
    vocab = int(tables[0][1].shape[0]) if tables else 0
    heads = _heads(layers["block"], seq_len)
    ffn = max((s.dims[2] for s in layers["block"].steps if s.kind == "gemm" and s.weight), default=4 * hidden)
    sharding = tensor_parallel(layers, views, seq_len, vocab)
    kv_heads = sharding["kv_heads"] if sharding else heads
    if sharding:
        heads, ffn = sharding["heads"], sharding["ffn"]
    has_positions = any(s.name.endswith(".table") for s in layers["embed"].steps)
    fields = {"family": "onnx", "layers": repeats, "hidden": hidden, "heads": heads, "kv_heads": kv_heads, "ffn": ffn,
              "vocab": vocab or 1, "max_positions": seq_len, "seq_len": seq_len,
              "norm": info["norm"] or "layernorm", "activation": _activation(info["activation"]), "pre_ln": True,
              "tied_head": info["tied"], "biases": info["biases"], "dropout": False,
              "position_embedding": "learned" if has_positions else "rope", "position_offset": 0,
              "embed_proj_dim": None, "token_types": 0, "embed_norm": False, "final_norm": True, "pooler": False,
              "vocab_pad_multiple": 1, "head_dim": _head_dim(layers["block"], seq_len, hidden, heads), "qkv_bias": None,
              "parallel_block": False, "shared_block_norm": False, "embed_scale": False, "rotary_fraction": 1.0,
              "tensor_parallel": sharding is not None}
    return ImportedModel(path, batch, seq_len, layers, fields)


def _heads(block: ImportedLayer, seq_len: int) -> int:
    """Attention heads: the batch count of the first score GEMM (B·heads, s, s) at batch 1, else 1."""
    for s in block.steps:
        if s.kind == "gemm" and not s.weight and s.dims[1] == seq_len and s.dims[2] == seq_len:
            return s.dims[0]
    return 1


def _head_dim(block: ImportedLayer, seq_len: int, hidden: int, heads: int) -> int | None:
    """The score GEMM's contraction width (descriptive), None when hidden / heads gives it, 1 without attention."""
    d = next((s.dims[3] for s in block.steps if s.kind == "gemm" and not s.weight and s.dims[1] == seq_len
              and s.dims[2] == seq_len), None)
    if d is None:
        return None if hidden % heads == 0 else 1
    return None if heads * d == hidden else d


def _activation(found: str) -> str:
    return {"silu": "swiglu", "gelu": "gelu", "relu": "relu"}.get(found, "gelu")


def onnx_model_fields(path: str) -> dict[str, Any]:
    """The ModelConfig fields an ONNX file implies (descriptive: the graphs come from the file itself)."""
    return dict(import_onnx(path).fields)


def onnx_forward_layers(path: str, microbatch: int, elem_bytes: int, tensor_width: int = 1) -> dict[str, ForwardLayer]:
    """The imported layer kinds as ForwardLayers at micro-batch `microbatch` and tensor width `tensor_width`
    (step 5 of the module doc; t > 1 only for a graph `_tensor_parallel` marked)."""
    model = import_onnx(path)
    t = tensor_width
    if t > 1 and not model.fields["tensor_parallel"]:
        raise ValueError(f"{path}: no tensor-parallel form, tensor width must be 1")
    vocab = model.fields["vocab"]
    padded = -(-vocab // t) * t  # Megatron pads the vocabulary to a multiple of t (layers.padded_vocab)
    built: dict[str, ForwardLayer] = {}
    for kind, imported in model.layers.items():
        layer = ForwardLayer(kind, elem_bytes)
        sh = Shape(microbatch, t, False, model.seq_len, model.fields["hidden"], elem_bytes)
        o = LayerOps(layer, sh)
        rename: dict[str, str] = {}

        def n(x: int) -> int:  # every count but a parameter's is per sample: scale to the micro-batch
            return x * microbatch // model.batch

        def names(ts: tuple[str, ...], rename: dict[str, str] = rename) -> tuple[str, ...]:
            return tuple(rename.get(x, x) for x in ts)

        if imported.input_is_ids:
            layer.layer_input(imported.input, n(imported.input_numel), TOKEN_ID_BYTES, grad=False)
        else:
            layer.layer_input(imported.input, n(imported.input_numel))
        for s in imported.steps:
            ins, saves = names(s.inputs), names(s.saves)
            shard = t if s.tp in ("shard", "col", "row") else 1
            if s.kind == "enter":
                rename[s.name] = o.enter_tp(s.name, ins[0])
            elif s.kind == "leave":
                rename[s.name] = o.leave_tp(s.name, ins[0], sh.h if kind != "embed" else None)
            elif s.kind == "gemm":
                b, rows, m, c = s.dims
                if s.tp == "col":
                    m, params = m // t, s.params // t
                elif s.tp == "row":
                    c, params = c // t, s.params // t
                elif s.tp == "vocab":
                    m, params = padded // t, (padded // t * c if s.params else 0)
                else:
                    b, params = b // shard, s.params
                dims = (b, n(rows), m, c) if s.weight else (n(b), rows, m, c)
                o.gemm(s.name, ins[0], dims, params, saves=saves, weight=s.weight,
                       y=None if s.weight else ins[1], core=s.core)
            elif s.kind == "view":
                layer.add(Op(s.name, OpKind.NOP), ins, Grad.PASS, out_numel=n(s.numel) // shard)
                if s.concat_grad:
                    layer.concat_grads.add(rename.get(s.concat_grad, s.concat_grad))
            elif s.kind == "loss":
                rows = s.dims[0]
                logits = n(rows) * (padded // t)
                ce = o.vector(f"{s.name}.cross_entropy", ins, logits, ("log_softmax",),
                              saves=(f"{s.name}.cross_entropy",), grad=Grad.LOSS)
                layer.tensor(ce, logits, LOSS_ELEM_BYTES)
                if t > 1:  # max, sum of exponentials and target logit over the vocab shards (layers.CE_ALL_REDUCES)
                    comm = CE_ALL_REDUCES * n(rows) * LOSS_ELEM_BYTES
                    ar = Op(f"{s.name}.all_reduce", OpKind.COLLECTIVE, collective=Collective.ALL_REDUCE,
                            comm_bytes=comm, group=t)
                    ce = layer.add(ar, (ce,), Grad.NONE, out_numel=n(rows))
                o.vector(s.name, (ce,), n(rows), ("nll_loss",), grad=Grad.NONE)
            else:
                numel, params = n(s.numel) // shard, s.params // shard
                if s.tp == "vocab":
                    if s.inputs and s.params:  # the table lookup: padded rows / t
                        numel, params = n(s.numel), padded // t * (s.params // vocab)
                    else:  # an element-wise op on the sharded logits
                        numel = n(s.numel) // vocab * (padded // t)
                o.vector(s.name, ins, numel, s.cycles, saves=saves, params=params, grad=s.grad,
                         selective=s.selective, core=s.core)
        layer.output = rename.get(imported.output, imported.output) if kind != "head" else layer.nodes[-1].op.name
        built[kind] = layer
    return built
