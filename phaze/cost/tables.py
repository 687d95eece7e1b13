"""Per-element cycle costs of vector ops, under one of two models (`hw.vector_cost_model`, docs/vector_costs.md).

* `primitives` (the default): each vector-op key is a composition of primitive instructions
  (phaze/data/vector_compositions.csv) priced by the per-lane cycles of each primitive
  (phaze/data/vector_primitives.csv: FP32 add/mul/fma = 1, special functions = 4, from the CUDA C++ Programming
  Guide's throughput table for compute capability 8.0). A composition has per-element and per-row parts; the
  per-row part (a norm's rsqrt, softmax's reciprocal) is amortised over the op's row length (`Op.row_elems`),
  or, when the op knows none, charged once per element (an upper bound).
* `phaze`: the original's wham tables (phaze/data/vector_cycles.csv, docs/phaze-original.md §3.5), which
  price GeLU as ReLU (1 cycle) and a LayerNorm at 1 cycle beside tanh = 27.

Lookups are strict: an unknown key is an error naming the known keys, never a silent zero (the original
exited on unknown ops: §3.7).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from phaze.config.hw import VECTOR_COST_MODELS
from phaze.model.ops import Pass

DEFAULT_VECTOR_COST_MODEL = VECTOR_COST_MODELS[0]
HELPER = "helper"  # the `pass` of a composition row that defines a helper (exp, tanh_exp, philox4x32_10)
PER = ("element", "row")


class UnknownVectorOpError(KeyError):
    """A vector op key that the cycle tables do not define."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class VectorCost:
    """Lane-cycles of one vector-op key in one pass: `per_element` for every element, `per_row` once per row."""

    per_element: float
    per_row: float = 0.0

    def __add__(self, other: VectorCost) -> VectorCost:
        return VectorCost(self.per_element + other.per_element, self.per_row + other.per_row)

    def scaled(self, k: float) -> VectorCost:
        return VectorCost(self.per_element * k, self.per_row * k)

    def cycles_per_element(self, row_elems: int) -> float:
        """Per-element cycles with the per-row part amortised over `row_elems` (0: charged per element)."""
        return self.per_element + (self.per_row / row_elems if row_elems > 0 else self.per_row)


def _read_csv(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(resources.files("phaze").joinpath(f"data/{name}").read_text().splitlines()))


@cache
def vector_cycle_table() -> dict[str, tuple[int, int]]:
    """The `phaze` model: key -> (forward, backward) cycles per element (phaze/data/vector_cycles.csv)."""
    return {row["op"]: (int(row["fwd_cycles_per_element"]), int(row["bwd_cycles_per_element"]))
            for row in _read_csv("vector_cycles.csv")}


@cache
def primitive_table() -> dict[str, float]:
    """Primitive -> cycles per element per lane (phaze/data/vector_primitives.csv)."""
    return {row["primitive"]: float(row["cycles_per_element_per_lane"]) for row in _read_csv("vector_primitives.csv")}


@cache
def primitive_cost_table() -> dict[str, tuple[VectorCost, VectorCost]]:
    """The `primitives` model: key -> (forward, backward) VectorCost, resolved from the composition table.

    A part is a primitive or a helper (a composition row with pass `helper`, itself made of primitives)."""
    prims = primitive_table()
    rows = _read_csv("vector_compositions.csv")
    parts: dict[tuple[str, str], list[tuple[str, str, float]]] = {}
    for row in rows:
        if row["per"] not in PER:
            raise ValueError(f"vector_compositions.csv: {row['op']}: per={row['per']!r}, expected one of {PER}")
        parts.setdefault((row["op"], row["pass"]), []).append((row["part"], row["per"], float(row["count"])))

    def resolve(op: str, pass_: str, seen: tuple[str, ...] = ()) -> VectorCost:
        total = VectorCost(0.0)
        for part, per, count in parts[(op, pass_)]:
            if part in prims:
                unit = VectorCost(prims[part])
            elif (part, HELPER) in parts and part not in seen:
                unit = resolve(part, HELPER, (*seen, part))
            else:
                raise ValueError(f"vector_compositions.csv: {op} {pass_}: unknown part {part!r}")
            if per == "row":
                unit = VectorCost(0.0, unit.per_element + unit.per_row)
            total = total + unit.scaled(count)
        return total

    keys = sorted({op for op, pass_ in parts if pass_ != HELPER})
    return {key: (resolve(key, Pass.FWD.value), resolve(key, Pass.BWD.value)) for key in keys}


def vector_cost(key: str, pass_: Pass, model: str = DEFAULT_VECTOR_COST_MODEL, op_name: str = "?") -> VectorCost:
    """The cost of one key in one pass under `model` (one of VECTOR_COST_MODELS)."""
    column = 0 if Pass(pass_) is Pass.FWD else 1
    if model == "phaze":
        table: dict[str, tuple[int, int]] | dict[str, tuple[VectorCost, VectorCost]] = vector_cycle_table()
        source = "phaze/data/vector_cycles.csv"
    elif model == "primitives":
        table = primitive_cost_table()
        source = "phaze/data/vector_compositions.csv"
    else:
        raise ValueError(f"vector cost model {model!r}: expected one of {', '.join(VECTOR_COST_MODELS)}")
    if key not in table:
        raise UnknownVectorOpError(f"op {op_name!r}: unknown vector op {key!r}; known ({source}): "
                                   f"{', '.join(sorted(table))}")
    cost = table[key][column]
    return cost if isinstance(cost, VectorCost) else VectorCost(float(cost))


def _chain_cycles(keys: tuple[str, ...], pass_: Pass, model: str, row_elems: int, op_name: str) -> float:
    total = 0.0
    for key in keys:
        total += vector_cost(key, pass_, model, op_name).cycles_per_element(row_elems)
    return total


_chain_cycles_cached = cache(lambda keys, pass_, model, row_elems: _chain_cycles(keys, pass_, model, row_elems, "?"))


def cycles_per_element(keys: Iterable[str], pass_: Pass, op_name: str = "?", *,
                       model: str = DEFAULT_VECTOR_COST_MODEL, row_elems: int = 0) -> float:
    """Σ over `keys` of their per-element cycles in `pass_`: what one lane spends per element of a fused chain,
    per-row parts amortised over `row_elems` (0: no row known, charged per element). Memoised per chain; an
    unknown key raises UnknownVectorOpError naming `op_name`."""
    keys = tuple(keys)
    try:
        return _chain_cycles_cached(keys, Pass(pass_), model, row_elems)
    except UnknownVectorOpError:
        return _chain_cycles(keys, Pass(pass_), model, row_elems, op_name)
