"""Per-element cycle costs of vector ops (phaze/data/vector_cycles.csv; the original's wham tables,
docs/phaze-original.md §3.5). Lookups are strict: an unknown key is an error naming the known keys,
never a silent zero (the original exited on unknown ops: §3.7)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import cache
from importlib import resources

from phaze.model.ops import Pass


class UnknownVectorOpError(KeyError):
    """A vector op key that phaze/data/vector_cycles.csv does not define."""

    def __str__(self) -> str:
        return str(self.args[0])


@cache
def vector_cycle_table() -> dict[str, tuple[int, int]]:
    """key -> (forward, backward) cycles per element."""
    text = resources.files("phaze").joinpath("data/vector_cycles.csv").read_text()
    return {row["op"]: (int(row["fwd_cycles_per_element"]), int(row["bwd_cycles_per_element"]))
            for row in csv.DictReader(text.splitlines())}


def cycles_per_element(keys: Iterable[str], pass_: Pass, op_name: str = "?") -> int:
    """Σ over `keys` of the fwd or bwd column: the cycles one lane spends per element of a fused chain."""
    table = vector_cycle_table()
    column = 0 if Pass(pass_) is Pass.FWD else 1
    total = 0
    for key in keys:
        if key not in table:
            raise UnknownVectorOpError(f"op {op_name!r}: unknown vector op {key!r}; "
                                       f"known (phaze/data/vector_cycles.csv): {', '.join(sorted(table))}")
        total += table[key][column]
    return total
